"""A BlueZ-compatible D-Bus service (org.bluez) over a bumble host, for the simulated BLE rig.

bleak's unmodified BlueZ backend and glassbridge's own Agent1 talk to `BluezService` exactly as they would to
bluetoothd; every GATT operation is real ATT and every pairing real SMP between bumble stacks. See service.py
for the lifecycle, device.py for connection/pairing/security, gatt.py for GATT, cache.py for the GATT cache of
bonded devices, agent.py for agents.
"""

from __future__ import annotations

from glassbridge_rig.bluez.errors import BluezError
from glassbridge_rig.bluez.service import BUS_NAME, BluezService

__all__ = ["BUS_NAME", "BluezError", "BluezService"]
