"""The Mcu client against the Cortex-M4F firmware under qemu-system-arm, on both boards, through the emulator.

The firmware image is the one a dev kit would flash (bare metal, interrupt-driven UART, the same link engine);
QEMU's unix-socket chardev carries its UART to the link emulator, and QMP's system_reset is the reset button.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import pytest

from glassbridge.mcu.client import Mcu
from glassbridge.mcu.events import CardSpec
from glassbridge_rig.runner import FirmwareRunner
from tests.e2e.conftest import need_qemu, run

BOARDS = {"mps2-an386": "mps2-an386", "netduinoplus2": "netduinoplus2"}


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_firmware_on_qemu_answers_and_verifies_a_transfer(board: str) -> None:
    need_qemu()
    data = os.urandom(48 * 1024)

    async def body() -> Any:
        async with FirmwareRunner(board) as fw, await Mcu.connect(fw.port, timeout=15) as mcu:
            status = await mcu.status()
            assert await mcu.set_camera_power(True) is True
            powered = await mcu.status()
            await mcu.set_camera_power(False)
            card = await mcu.show_card(CardSpec(title="QEMU", text=f"hello from {board}"))
            shown = await mcu.status()
            report = await mcu.transfer(data, name="image.bin")
            return status, powered, card, shown, report

    status, powered, card, shown, report = run(body(), timeout=120)
    assert status.board == BOARDS[board]
    assert status.firmware_version
    assert not status.camera_powered and not status.capture_led
    assert powered.camera_powered and powered.capture_led
    assert shown.card_id == card
    assert report.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_qmp_reset_mid_transfer_reboots_the_mcu_and_the_transfer_completes(board: str) -> None:
    need_qemu()
    data = os.urandom(96 * 1024)

    async def body() -> Any:
        async with FirmwareRunner(board) as fw, \
                await Mcu.connect(fw.port, timeout=15, link_patience=20) as mcu:
            before = await mcu.status()
            offsets: list[int] = []
            task = asyncio.create_task(mcu.transfer(data, progress=lambda o, _t: offsets.append(o)))
            while not offsets or offsets[-1] < 32 * 1024:
                await asyncio.sleep(0.02)
                if task.done():
                    break
            await fw.reset_mcu()
            report = await task
            after = await mcu.status()
            return before, report, after

    before, report, after = run(body(), timeout=120)
    assert report.restarts >= 1
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    # The boot counter lives in RAM the startup code does not clear (as a real MCU keeps it in a no-init section
    # or a backup register): a reset adds one.
    assert after.boot_counter == before.boot_counter + 1
    assert after.uptime_ms < before.uptime_ms + 60_000
