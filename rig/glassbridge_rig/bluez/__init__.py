"""A BlueZ-compatible D-Bus service (org.bluez) over a bumble host, for the simulated BLE rig.

bleak's unmodified BlueZ backend and glassbridge's own Agent1 talk to `BluezService` exactly as they would to
bluetoothd; every GATT operation is real ATT and every pairing real SMP between bumble stacks. Split as
bluetoothd splits itself:

    service.py       BluezService: the bus, org.bluez, the objects, the devices' bookkeeping
    adapter.py       Adapter1: discovery sessions, RemoveDevice (src/adapter.c)
    device.py        Device1: the D-Bus face of one device and its link (src/device.c)
    security.py      its bond, SMP pairing through an agent, security raised on demand (device.c's bonding)
    gatt_client.py   its remote database: discovery, the cache, Service Changed, requests (src/shared/gatt-client.c)
    gatt.py          GattService1/Characteristic1/Descriptor1 objects (src/gatt-client.c)
    cache.py         the on-disk GATT cache of bonded devices; store.py: keys and settings; agent.py: agents

Lower parts know the ones above them only through Protocols they declare (AdapterHost, DeviceHost, GattHost,
GattOwner, GattDevice, SecurityOwner): the imports go one way, service -> device -> gatt_client -> gatt/security.
"""

from __future__ import annotations

from glassbridge_rig.bluez.errors import BluezError
from glassbridge_rig.bluez.service import BUS_NAME, BluezService

__all__ = ["BUS_NAME", "BluezError", "BluezService"]
