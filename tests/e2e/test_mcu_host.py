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

from glassbridge.mcu.client import Mcu
from glassbridge.mcu.errors import CaptureStoppedError, PortError
from glassbridge.mcu.events import (
    BatteryChanged,
    ButtonPressed,
    CaptureFailsafe,
    CardSpec,
    GestureDetected,
    McuConnected,
    McuDisconnected,
    McuRebooted,
)
from glassbridge.protocol.errors import NotConnected, PeerIncompatible, RequestFailed
from glassbridge_rig.runner import FirmwareRunner
from tests.e2e.conftest import card_reference, ctl_status, run, wait_for

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
    """A SoC that only speaks link protocol 9: the client raises PeerIncompatible naming both sides' versions
    as their Hellos gave them and the side to update, and the MCU, which has no other way to tell anyone, puts a
    warning card saying the same on the display (compared pixel for pixel with the reference renderer)."""
    shown = tmp_path / "mismatch.pgm"

    async def body() -> tuple[dict[str, Any], str]:
        async with FirmwareRunner("host") as fw:
            with pytest.raises(PeerIncompatible) as info:
                await Mcu.connect(fw.port, timeout=5, protocol_version=9, min_protocol_version=9)
            await fw.control(f"display dump {shown}")
            return await ctl_status(fw), str(info.value)

    own, text = run(body())
    assert own["card_id"] == 1 and own["link"] == "incompatible"
    assert text == (f"the MCU (firmware {own['firmware_version']}) speaks link protocol versions 1 to 1; this "
                    "glassbridge speaks 9 to 9: no version in common, the firmware is older: update the firmware")
    ref = card_reference()
    want = ref.render(1, 9, "Link version mismatch",  # CARD_KIND_TEXT, ICON_WARNING
                      "The SoC speaks link protocol versions 9 to 9, this firmware 1 to 1. This firmware is older: "
                      "update it.")
    got = ref.read_pgm(shown)
    assert sum(a != b for row_a, row_b in zip(got, want) for a, b in zip(row_a, row_b)) == 0


def test_no_firmware_on_the_port_is_a_clear_error(tmp_path: Path) -> None:
    async def body() -> None:
        import pty

        master, slave = pty.openpty()
        try:
            with pytest.raises(NotConnected, match="no handshake"):
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


def test_a_64_kb_transfer_at_a_byte_error_rate_of_1e_2_completes() -> None:
    """One byte in a hundred damaged, both ways: a 1 KB frame practically never arrives intact. The link must see
    its losses in its retransmissions, cut smaller fragments, and cut again the full-size frames already in flight
    (SPEC.md 6.1, 6.5). It stalled for good before (offset 0 after 300 s, thousands of retransmissions, no error);
    now it completes in seconds, and the firmware itself reports the SHA-256 verified."""
    data = os.urandom(64 * 1024)

    async def body() -> Any:
        async with FirmwareRunner("host", faults="ber=1e-2,seed=11") as fw, \
                await Mcu.connect(fw.port, timeout=20) as mcu:
            report = await mcu.transfer(data)
            status = await mcu.status()
            return report, mcu.link_info(), status, fw.emulator.stats().as_dict(), await ctl_status(fw)

    report, link, status, emulator, own = run(body(), timeout=120)
    assert emulator["to_mcu"]["faults"]["corrupted"] > 500, "the line must really have damaged bytes"
    assert own["transfer_state"] == TRANSFER_VERIFIED and own["transfer_offset"] == len(data)
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.seconds < 60, report.seconds
    # The MCU saw the SoC's damaged frames (its own counters, over the link and over the control socket).
    assert status.mcu_link["crc_errors"] + status.mcu_link["framing_errors"] > 100
    assert own["crc_errors"] >= status.mcu_link["crc_errors"]
    print(f"64 KB at a byte error rate of 1e-2: {report.seconds:.1f} s, {link['retransmits']} retransmissions of "
          f"{link['data_frames_tx']} data frames; the MCU saw {own['crc_errors']} CRC errors")


def test_the_same_transfer_twice_returns_at_once() -> None:
    """TransferBegin with an id and SHA-256 the MCU already verified is answered VERIFIED: the client returns at
    once instead of waiting for statuses that never come (it used to never return)."""
    data = os.urandom(20_000)

    async def body() -> Any:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
            first = await mcu.transfer(data, transfer_id=4242)
            frames_before = mcu.link_info()["data_frames_tx"]
            second = await asyncio.wait_for(mcu.transfer(data, transfer_id=4242), 5)
            return first, second, mcu.link_info()["data_frames_tx"] - frames_before, await ctl_status(fw)

    first, second, frames, own = run(body())
    assert own["transfer_id"] == 4242 and own["transfer_state"] == TRANSFER_VERIFIED
    assert first.sha256 == second.sha256 == hashlib.sha256(data).hexdigest()
    assert second.seconds < 1.0 and second.restarts == 0
    assert frames <= 2, f"{frames} data frames: only the TransferBegin (and no chunk) may go the second time"


def test_a_request_the_firmware_cannot_decode_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A newer glassbridge whose .proto allows longer card titles than this firmware (47 bytes): the firmware
    cannot decode the Message, but its request_id still decodes, so the answer (DECODE_FAILED) carries it and the
    request fails at once, not after request_timeout as a lost answer."""
    from glassbridge.protocol import messages

    monkeypatch.setitem(messages.LIMITS, "glassbridge.v1.DisplayCard.title", 100)

    async def body() -> tuple[float, RequestFailed, int]:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10, request_timeout=5) as mcu:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(RequestFailed) as info:
                await mcu.show_card(CardSpec(title="T" * 60, text="from a newer SoC"))
            elapsed = loop.time() - started
            card = await mcu.show_card(CardSpec(title="still fine"))  # the link and the firmware carry on
            return elapsed, info.value, card

    elapsed, error, card = run(body())
    assert error.code_name == "decode_failed" and "exceeds" in error.peer_message  # Result.message: 63 bytes
    assert elapsed < 1.0, elapsed
    assert card > 0


def test_a_new_soc_session_shows_its_cards_whatever_the_id_on_the_display(tmp_path: Path) -> None:
    """`glassbridge run` restarted: its new link session numbers cards from 1 again. Card ids order the cards of
    one SoC session only, so the new session's first card replaces card 11 of the old one (it was refused as
    "older than the shown card 11", leaving the display frozen). Within a session the order still holds."""

    async def body() -> tuple[int, int, dict[str, Any], RequestFailed]:
        async with FirmwareRunner("host") as fw:
            async with await Mcu.connect(fw.port, timeout=10) as first:
                assert await first.show_card(CardSpec(title="old session"), card_id=11) == 11
                with pytest.raises(RequestFailed) as older:
                    await first.show_card(CardSpec(title="late answer"), card_id=5)
            async with await Mcu.connect(fw.port, timeout=10) as second:
                card = await second.show_card(CardSpec(title="new session", text="shown"))
                shown = tmp_path / "new.pgm"
                answer = await fw.control(f"display dump {shown}")
                return card, int(answer.rsplit("card_id=", 1)[1]), await ctl_status(fw), older.value

    card, dumped, own, older = run(body())
    assert "card 5 is older than the shown card 11" in str(older)
    assert card < 11 and dumped == card == own["card_id"]
    assert own["peer_resets"] >= 1


def test_the_capture_failsafe_switches_camera_and_microphone_off_when_the_soc_is_gone() -> None:
    """The link lost for longer than the fail-safe time (1.5 s here, --failsafe-ms; 10 s by default) with the
    camera powered and the microphone streaming: the MCU switches both off (camera rail, capture LED, stream:
    its own report over the control socket), and says so when the link is back: a CaptureFailsafe event, and the
    microphone stream ends with CaptureStoppedError. A loss shorter than the fail-safe time changes nothing."""

    async def body() -> Any:
        async with FirmwareRunner("host", extra_args=["--failsafe-ms", "1500"]) as fw, \
                await Mcu.connect(fw.port, timeout=10, link_patience=20) as mcu:
            events = mcu.events()
            assert await mcu.set_camera_power(True)
            chunks: list[Any] = []
            stopped: list[BaseException] = []

            async def listen() -> None:
                try:
                    async for chunk in mcu.microphone():
                        chunks.append(chunk)
                except CaptureStoppedError as exc:
                    stopped.append(exc)

            mic = asyncio.create_task(listen())
            await wait_for(lambda: _true(len(chunks) >= 5), 5, "microphone audio")
            # Shorter than the fail-safe time (but longer than the link timeout): nothing is switched off.
            fw.emulator.unplug(mode="silent")
            await asyncio.sleep(1.2)
            fw.emulator.replug()
            await _next_of(events, McuConnected, timeout=10)
            short = await ctl_status(fw)
            # Longer: the MCU acts on its own.
            fw.emulator.unplug(mode="silent")
            await _next_of(events, McuDisconnected, timeout=5)

            async def switched_off() -> bool:
                s = await ctl_status(fw)
                return not s["camera_powered"] and not s["mic_streaming"]

            await wait_for(switched_off, 5, "the fail-safe to switch the camera and the microphone off")
            off = await ctl_status(fw)
            fw.emulator.replug()
            event = await _next_of(events, CaptureFailsafe, timeout=10)
            await asyncio.wait_for(mic, 5)
            status = await mcu.status()
            await events.aclose()
            return short, off, event, stopped, status

    short, off, event, stopped, status = run(body(), timeout=60)
    assert short["camera_powered"] and short["mic_streaming"] and short["failsafe_trips"] == 0
    assert not off["camera_powered"] and not off["mic_streaming"] and off["failsafe_trips"] == 1
    assert off["capture_led"] is False and off["camera_rail"] is False
    assert event.camera_was_on and event.mic_was_streaming
    assert 1500 <= event.link_lost_ms < 4000 and event.down_ms >= event.link_lost_ms
    assert len(stopped) == 1 and "capture fail-safe" in str(stopped[0])
    assert not status.camera_powered and not status.capture_led and status.failsafe_trips == 1


def test_status_reports_the_mcu_link_counters() -> None:
    """Status carries the MCU's own link counters (framing errors, out of window, oversize, CRC...), equal to what
    the firmware reports over its control socket; `glassbridge mcu status` prints them."""
    import subprocess
    import sys

    async def body() -> Any:
        async with FirmwareRunner("host", faults="ber=1e-3,seed=3") as fw:
            async with await Mcu.connect(fw.port, timeout=10) as mcu:
                for _ in range(50):
                    await mcu.status()
                status = await mcu.status()
                own = await ctl_status(fw)
            cli = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "glassbridge.cli.main", "mcu",
                                                           "status", "--port", fw.port], capture_output=True,
                                          text=True, timeout=60)
            return status, own, cli

    status, own, cli = run(body())
    for key in ("crc_errors", "framing_errors", "out_of_window", "rx_oversize", "duplicates"):
        assert key in status.mcu_link
    assert status.mcu_link["crc_errors"] + status.mcu_link["framing_errors"] > 0
    # The control socket's snapshot was taken after the Status: counters only grow.
    for key in ("crc_errors", "framing_errors", "out_of_window", "rx_oversize"):
        assert own[key] >= status.mcu_link[key], key
    assert cli.returncode == 0, cli.stderr
    line = next(line for line in cli.stdout.splitlines() if line.startswith("mcu link"))
    for words in ("CRC errors", "framing errors", "out of window", "oversize"):
        assert words in line, line


def test_the_port_is_opened_exclusively() -> None:
    async def body() -> str:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10):
            with pytest.raises(PortError) as info:
                await Mcu.connect(fw.port, timeout=2)
            return str(info.value) + "|" + fw.port

    text, port = run(body()).split("|")
    assert text.startswith(f"cannot open {port}: port in use")
