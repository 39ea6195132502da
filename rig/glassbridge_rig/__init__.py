"""The hardware-free rig: an emulated UART to the MCU (baud, latency, faults, unplug, reset), the firmware under
QEMU or as a host process, a BlueZ look-alike on a private D-Bus over a simulated radio with the phone companion on
its far side, the simulated glasses and the demos, and the benchmarks that need them.

Its own distribution (`glassbridge-rig`, rig/pyproject.toml): a dev kit installs only `glassbridge`; a source
checkout (`make setup`) installs all three. It adds `glassbridge firmware`, `sim`, `demo` and `bench link|ble|e2e`
through entry points. Nothing in `glassbridge` or `glassbridge_companion` imports it.

`LinkEmulator` sits between the firmware's UART socket (QEMU or the host port) and a stable pty the SoC side
opens with pyserial; `FaultSpec` / `FaultModel` describe and inject seeded line faults. The firmware runners that
start QEMU or the host port and put an emulator in front of them are in `glassbridge_rig.runner`.
"""

from __future__ import annotations

from glassbridge_rig.faults import Direction, FaultCounters, FaultModel, FaultSpec, FaultSpecError
from glassbridge_rig.line import LineStats
from glassbridge_rig.link_emulator import DEFAULT_BAUD, EmulatorStats, LinkEmulator, LinkEmulatorError
from glassbridge_rig.pty_port import PortInUseError
from glassbridge_rig.qmp import QmpError, qmp_command

__all__ = [
    "DEFAULT_BAUD",
    "Direction",
    "EmulatorStats",
    "FaultCounters",
    "FaultModel",
    "FaultSpec",
    "FaultSpecError",
    "LineStats",
    "LinkEmulator",
    "LinkEmulatorError",
    "PortInUseError",
    "QmpError",
    "qmp_command",
]
