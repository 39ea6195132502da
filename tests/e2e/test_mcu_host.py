"""The Mcu client against the real firmware's host port, through the link emulator at 921600 baud.

What is independent here: the firmware is the C application (same code as on the Cortex-M4F), reached only
through the emulated UART; its control socket (a side door the SoC does not have) reports what the firmware
itself believes, so the client's answers are checked against the MCU's own state, and faults are checked to have
really been injected (the emulator's counters) before a test may claim it survived them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from glassbridge.mcu.client import (
    BatteryChanged,
    ButtonPressed,
    CardSpec,
    GestureDetected,
    Mcu,
    McuRebooted,
)
from glassbridge.mcu.errors import NotConnectedError, PortError, VersionMismatchError
from glassbridge.sim.runner import FirmwareRunner
from tests.e2e.conftest import ctl_status, run, wait_for

TRANSFER_VERIFIED = 2  # TransferState.TRANSFER_STATE_VERIFIED, as the firmware's control socket prints it


async def _next_of(events: Any, kind: type, timeout: float = 5.0) -> Any:
    """The next event of `kind` from an Mcu.events() iterator (others are skipped)."""

    async def find() -> Any:
        async for event in events:
            if isinstance(event, kind):
                return event
        raise AssertionError("event stream ended")

    return await asyncio.wait_for(find(), timeout)


def test_status_matches_the_firmware_own_report() -> None:
    async def body() -> None:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
            await fw.control("battery 64")

            async def sampled() -> bool:  # the MCU samples its battery ADC periodically, not on demand
                return (await mcu.status()).battery.percent == 64

            await wait_for(sampled, 5, "the MCU to sample the new battery level")
            status = await mcu.status()
            own = await ctl_status(fw)
            assert status.board == own["board"] == "host"
            assert status.firmware_version == own["firmware_version"] and status.firmware_version
            assert status.boot_counter == own["boot_counter"] >= 1
            assert status.battery.percent == own["battery_percent"] == 64
            assert status.battery.level == "ok"
            assert 0 < status.uptime_ms <= own["uptime_ms"]
            assert {"buttons", "display", "camera_power", "microphone", "bulk_transfer"} <= set(status.capabilities)
            # The link's own counters ride along (a partial frame seen when the port opened may count as an error).
            assert status.link["frames_rx"] >= 2 and status.link["messages_rx"] >= 1

    run(body())


def test_camera_power_always_lights_the_capture_led() -> None:
    async def body() -> None:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
            assert await mcu.set_camera_power(True) is True
            status = await mcu.status()
            assert status.camera_powered and status.capture_led
            assert (await ctl_status(fw))["camera_powered"] is True
            assert await mcu.set_camera_power(False) is False
            status = await mcu.status()
            assert not status.camera_powered and not status.capture_led

    run(body())


def test_buttons_gestures_and_battery_arrive_as_events() -> None:
    async def body() -> None:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
            events = mcu.events()
            for script, action in (("tap", "tap"), ("double", "double_tap"), ("long", "long_press")):
                await fw.control(f"button main {script}")
                ev = await _next_of(events, ButtonPressed)
                assert (ev.button, ev.action) == ("main", action)
            await fw.control("button capture tap")
            ev = await _next_of(events, ButtonPressed)
            assert (ev.button, ev.action) == ("capture", "tap")
            for gesture in ("nod", "shake"):
                await fw.control(f"gesture {gesture}")
                ev = await _next_of(events, GestureDetected)
                assert ev.gesture == gesture
                # The detector ignores motion for 400 ms after a gesture (GB_GESTURE_REFRACTORY_MS: the head
                # swinging back), as a wearer's next deliberate gesture would come later anyway.
                await asyncio.sleep(0.5)
            await fw.control("battery 12")
            ev = await _next_of(events, BatteryChanged)
            assert ev.battery.level == "low" and ev.battery.percent == 12
            await fw.control("battery 4")
            ev = await _next_of(events, BatteryChanged)
            assert ev.battery.level == "critical"
            await events.aclose()

    run(body())


def test_card_is_rendered_on_the_display(tmp_path: Path) -> None:
    async def body() -> None:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
            blank = tmp_path / "blank.pgm"
            assert (await fw.control(f"display dump {blank}")).startswith("pgm")
            card_id = await mcu.show_card(CardSpec(title="Hello", text="glassbridge is up", icon="info"))
            shown = tmp_path / "card.pgm"
            answer = await fw.control(f"display dump {shown}")
            assert f"card_id={card_id}" in answer
            other = tmp_path / "other.pgm"
            await mcu.show_card(CardSpec(title="Turn left", text="in 50 m", kind="navigation", icon="arrow_left"))
            await fw.control(f"display dump {other}")
            return blank.read_bytes(), shown.read_bytes(), other.read_bytes()

    blank, shown, other = run(body())
    from PIL import Image
    import io
    import numpy as np

    def pixels(pgm: bytes) -> Any:
        return np.asarray(Image.open(io.BytesIO(pgm)))

    b, s, o = pixels(blank), pixels(shown), pixels(other)
    assert b.shape == s.shape == (128, 256)
    assert not b.any(), "the display starts blank"
    lit = np.count_nonzero(s)
    assert 200 < lit < s.size // 2, f"{lit} lit pixels: text should light a few percent of the panel"
    assert np.count_nonzero(s != o) > 100, "a different card must look different"


def test_transfer_survives_a_pulled_cable_and_an_mcu_reset() -> None:
    """256 KB to the MCU; mid-way the cable is pulled for longer than the link timeout, later the MCU is reset.
    The client resumes, and the firmware itself (control socket) reports the SHA-256 verified."""
    data = os.urandom(256 * 1024)

    async def body() -> Any:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10, link_patience=20) as mcu:
            offsets: list[int] = []
            task = asyncio.create_task(mcu.transfer(data, name="fw.bin", progress=lambda o, _t: offsets.append(o)))
            await wait_for(lambda: _true(bool(offsets) and offsets[-1] >= 48 * 1024), 20, "48 KB confirmed")
            fw.emulator.unplug()
            await asyncio.sleep(1.5)  # longer than the link timeout (1 s): the link goes down both ways
            fw.emulator.replug()
            await wait_for(lambda: _true(offsets[-1] >= 128 * 1024), 30, "128 KB confirmed after the replug")
            boots_before = (await ctl_status(fw))["boot_counter"]
            await fw.reset_mcu()
            report = await task
            own = await ctl_status(fw)
            return report, own, boots_before

    report, own, boots_before = run(body(), timeout=120)
    assert report.size == len(data) and report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.restarts >= 1, "the reset must have interrupted the transfer"
    assert own["boot_counter"] == boots_before + 1
    assert own["transfer_state"] == TRANSFER_VERIFIED and own["transfer_offset"] == len(data)


async def _true(value: bool) -> bool:
    return value


def test_microphone_stream_resumes_with_a_marked_gap_after_a_reset() -> None:
    async def body() -> Any:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
            events = mcu.events()
            chunks = []
            reset_done = False
            async for chunk in mcu.microphone():
                chunks.append(chunk)
                if len(chunks) == 10 and not reset_done:
                    reset_done = True
                    await fw.reset_mcu()
                    await _next_of(events, McuRebooted, timeout=10)
                if reset_done and len(chunks) >= 10 and sum(c.gap_before for c in chunks) and len(chunks) >= 25:
                    break
            await events.aclose()
            return chunks

    chunks = run(body())
    before, after = chunks[:10], chunks[10:]
    # Before the reset: contiguous 16 kHz PCM16, sample counters without holes.
    for a, b in zip(before, before[1:]):
        assert b.first_sample == a.first_sample + len(a.pcm) // 2 and not b.gap_before
    assert all(c.sample_rate == 16000 and c.pcm for c in chunks)
    marked = [i for i, c in enumerate(after) if c.gap_before]
    assert marked, "the first chunk after the reboot must be marked as following a gap"
    resumed = after[marked[0]:]
    assert resumed[0].stream_id != before[0].stream_id
    for a, b in zip(resumed, resumed[1:]):
        assert b.first_sample == a.first_sample + len(a.pcm) // 2


def test_requests_survive_a_byte_error_rate_of_1e_3() -> None:
    """300 requests and a 64 KB transfer through a line flipping bits in 1 of every 1000 bytes, both ways."""
    data = os.urandom(64 * 1024)

    async def body() -> Any:
        async with FirmwareRunner("host", faults="ber=1e-3,seed=11") as fw, \
                await Mcu.connect(fw.port, timeout=10) as mcu:
            for i in range(300):
                await fw.control(f"battery {i % 90 + 10}") if i % 50 == 0 else None
                status = await mcu.status()
                assert status.board == "host"
            report = await mcu.transfer(data)
            return report, mcu.link_info(), fw.emulator.stats().as_dict(), await ctl_status(fw)

    report, link, emulator, own = run(body(), timeout=120)
    for direction in ("to_mcu", "to_soc"):
        assert emulator[direction]["faults"]["corrupted"] > 0, f"no bit flips were injected {direction}"
    assert link["crc_errors"] > 0 and own["crc_errors"] > 0, "both ends must have seen (and survived) bad frames"
    assert own["transfer_state"] == TRANSFER_VERIFIED and own["transfer_offset"] == len(data)
    assert report.sha256 == hashlib.sha256(data).hexdigest()


def test_version_mismatch_is_reported_clearly_on_both_sides(tmp_path: Path) -> None:
    """A SoC that only speaks link protocol 9: the client raises VersionMismatchError naming both versions, and
    the MCU, which has no other way to tell anyone, puts a warning card on the display."""
    shown = tmp_path / "mismatch.pgm"

    async def body() -> dict[str, Any]:
        async with FirmwareRunner("host") as fw:
            with pytest.raises(VersionMismatchError, match="protocol 1 .* speaks 9"):
                await Mcu.connect(fw.port, timeout=5, protocol_version=9, min_protocol_version=9)
            await fw.control(f"display dump {shown}")
            return await ctl_status(fw)

    own = run(body())
    assert own["card_id"] == 1 and own["link"] == "incompatible"
    from PIL import Image
    import numpy as np

    assert np.count_nonzero(np.asarray(Image.open(shown))) > 200, "the warning card must be on the display"


def test_no_firmware_on_the_port_is_a_clear_error(tmp_path: Path) -> None:
    async def body() -> None:
        import pty

        master, slave = pty.openpty()
        try:
            with pytest.raises(NotConnectedError, match="no handshake"):
                await Mcu.connect(os.ttyname(slave), timeout=0.5)
        finally:
            os.close(master)
            os.close(slave)
        with pytest.raises(PortError, match="cannot open"):
            await Mcu.connect(str(tmp_path / "no-such-port"), timeout=0.5)

    run(body())


def test_speaker_audio_is_paced_and_a_request_is_not_stuck_behind_it() -> None:
    """Mcu.play_audio: every sample reaches the firmware's speaker (its own count and checksum, recomputed here),
    paced at the audio's rate, so a camera-power request sent meanwhile is answered long before the audio ends
    instead of waiting behind seconds of queued speech on the UART."""

    async def body() -> None:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
            seconds = 2.0
            samples = [int(8000 * ((i * 7919) % 1000 - 500) / 500) for i in range(int(16000 * seconds))]
            pcm = b"".join(s.to_bytes(2, "little", signed=True) for s in samples)
            loop = asyncio.get_running_loop()
            started = loop.time()
            playing = asyncio.ensure_future(mcu.play_audio(pcm))
            await asyncio.sleep(0.3)
            assert await mcu.set_camera_power(True) is True
            answered = loop.time() - started
            await playing
            finished = loop.time() - started
            await mcu.set_camera_power(False)
            assert answered < finished - 1.0, (answered, finished)  # not queued behind the rest of the speech
            assert finished >= seconds - 0.2 - 0.05  # paced: the last frame leaves at most lead_ms early

            async def heard() -> bool:
                return (await ctl_status(fw))["speaker_samples"] == len(samples)

            await wait_for(heard, 5, "every speaker sample to reach the firmware")
            own = await ctl_status(fw)
            assert own["speaker_sum"] == sum(s & 0xFFFF for s in samples) & 0xFFFFFFFF
            assert own["speaker_gaps"] == 0

    run(body())
