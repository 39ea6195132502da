"""The hardware-free rig: an emulated UART to the MCU (baud, latency, faults, unplug, reset).

`LinkEmulator` sits between the firmware's UART socket (QEMU or the host port) and a stable pty the SoC side
opens with pyserial; `FaultSpec` / `FaultModel` describe and inject seeded line faults. The firmware runners that
start QEMU or the host port and put an emulator in front of them are in `glassbridge.sim.runner`.
"""

from __future__ import annotations

from glassbridge.sim.faults import Direction, FaultCounters, FaultModel, FaultSpec, FaultSpecError
from glassbridge.sim.line import LineStats
from glassbridge.sim.link_emulator import DEFAULT_BAUD, EmulatorStats, LinkEmulator, LinkEmulatorError
from glassbridge.sim.pty_port import PortInUseError
from glassbridge.sim.qmp import QmpError, qmp_command

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
