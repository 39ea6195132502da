"""The SoC's side of the MCU link: an asyncio transport over pyserial around the C link engine, and the `Mcu`
client (status, camera power, cards, audio, transfers, events).

The simulated glasses it talks to in the rig (the real firmware on the host or under QEMU, behind the UART link
emulator) are started by `glassbridge.sim.runner`; this package never imports `sim`.
"""

from __future__ import annotations
