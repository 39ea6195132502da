"""The SoC's side of the MCU link: an asyncio transport over pyserial around the C link engine, and the `Mcu`
client (status, camera power, cards, audio, transfers, events).

Modules: transport (SerialTransport), client (Mcu: the MCU's face of glassbridge.protocol.client), events (the
value types Mcu returns and publishes, which import only glassbridge.protocol; re-exported here), errors (McuError
and the MCU's own kinds; what every peer's client raises is glassbridge.protocol.errors). Importing this package
loads neither the client nor pyserial: `from glassbridge.mcu.client import Mcu`.

The simulated glasses it talks to in the rig (the real firmware on the host or under QEMU, behind the UART link
emulator) are started by `glassbridge_rig.runner`; this package never imports `sim`.
"""

from __future__ import annotations

from glassbridge.mcu.events import (
    AudioChunk,
    BatteryChanged,
    BatteryInfo,
    ButtonPressed,
    CaptureFailsafe,
    CardSpec,
    GestureDetected,
    McuConnected,
    McuDisconnected,
    McuEvent,
    McuRebooted,
    McuStatus,
    TransferReport,
    WakeWordHeard,
)

__all__ = [
    "AudioChunk", "BatteryChanged", "BatteryInfo", "ButtonPressed", "CaptureFailsafe", "CardSpec", "GestureDetected",
    "McuConnected", "McuDisconnected", "McuEvent", "McuRebooted", "McuStatus", "TransferReport",
    "WakeWordHeard",
]
