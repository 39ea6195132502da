"""The firmware's host port end to end: the real application and link engine behind a unix-socket UART,
driven by the control socket, observed through gb-fw-client (the same C engine, as the SoC).

Expected values come from the rules the firmware documents (firmware/README.md, src/app/*.h), from Python's
hashlib and wave modules, and from an independent card renderer (card_reference.py), never from the firmware.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
import time
import wave
from pathlib import Path

import pytest

from card_reference import read_pgm, render
from fwrig import HOST_FW, ROOT, HostFirmware, fields, need, start_host_firmware, stop


def test_status_over_the_link(host_fw: HostFirmware) -> None:
    out = host_fw.client("status").splitlines()
    status = fields(out[-1])
    assert status["board"] == "host"
    assert status["boot_counter"] == "1"
    assert status["request_id"] == "1"
    assert int(status["capabilities"], 16) == 0x1FF  # every device, and the wake word (CAPABILITY_WAKE_WORD 0x100)


def test_ctl_status_is_json(host_fw: HostFirmware) -> None:
    s = host_fw.status()
    assert s["board"] == "host" and s["boot_counter"] == 1
    assert s["camera_powered"] is False and s["capture_led"] is False
    assert s["link"] in ("handshake", "down")  # nobody on the UART yet


def test_ctl_refuses_bad_commands_with_advice(host_fw: HostFirmware) -> None:
    assert host_fw.ctl("frobnicate").startswith("error unknown command 'frobnicate'")
    assert "use tap, double, long" in host_fw.ctl("button main wiggle")
    assert host_fw.ctl("battery 140").startswith("error usage: battery PCT")
    assert host_fw.ctl("help").startswith("ok commands:")


def test_buttons_and_gestures_reach_the_soc(host_fw: HostFirmware) -> None:
    monitor = subprocess.Popen([str(need(ROOT / "build/fw-host/gb-fw-client")), "--timeout", "20000",
                                str(host_fw.uart), "events", "12000", "6"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.4)  # handshake
    # Waits cover each action's recognition window (buttons.h: double-tap gap 300 ms, long press 800 ms).
    for command, pause in [("button main tap", 0.6), ("button main double", 0.7), ("button capture long", 1.3),
                           ("gesture nod", 0.6), ("gesture shake", 0.6)]:
        assert host_fw.ctl(command) == "ok"
        time.sleep(pause)
    out, _ = monitor.communicate(timeout=15)
    monitor.stdout.close()  # type: ignore[union-attr]
    # The boot battery reading comes first (queued before the link came up), then the five actions.
    events = [line.split() for line in out.splitlines() if line.startswith(("button", "gesture"))]
    # ButtonId MAIN=1, CAPTURE=2; ButtonAction TAP=1, DOUBLE_TAP=2, LONG_PRESS=3; Gesture NOD=1, SHAKE=2.
    assert [e[:3] for e in events[:3]] == [["button", "1", "1"], ["button", "1", "2"], ["button", "2", "3"]]
    assert [e[:2] for e in events[3:]] == [["gesture", "1"], ["gesture", "2"]]
    assert all(int(fields(" ".join(e))["confidence"]) >= 90 for e in events[3:])  # 150 deg/s peaks


def test_battery_levels_with_hysteresis(host_fw: HostFirmware) -> None:
    monitor = subprocess.Popen([str(need(ROOT / "build/fw-host/gb-fw-client")), "--timeout", "20000",
                                str(host_fw.uart), "events", "12000", "4"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.4)
    # The gauge is sampled once a second (battery.h): one level per sample window.
    for level in ["14", "17", "4 charging", "50 charging"]:
        assert host_fw.ctl(f"battery {level}") == "ok"
        time.sleep(1.1)
    out, _ = monitor.communicate(timeout=15)
    monitor.stdout.close()  # type: ignore[union-attr]
    got = [line.split()[1:] for line in out.splitlines() if line.startswith("battery")]
    # boot reading (70 %, OK), then LOW at 14; 17 stays LOW (needs > 18): no event; CRITICAL + charging at 4;
    # OK at 50. BatteryLevel OK=1, LOW=2, CRITICAL=3.
    assert got == [["70", "1", "0"], ["14", "2", "0"], ["4", "3", "1"], ["50", "1", "1"]]


@pytest.mark.parametrize(
    ("card_id", "kind", "icon", "title", "text"),
    [
        (1, 2, 1, "Weather", "Sunny, 21 C. Light wind from the west. No rain expected before the evening."),
        (2, 5, 4, "Turn left in 200 m", "Then continue on Market Street for 1.2 km"),
        (3, 1, 0, "A title far too long for the large size", "one\ntwo\n\nfour"),
        (4, 7, 10, "Pair phone?", "428519"),
        (5, 4, 7, "Caf\u00e9", "na\u00efve \u20ac 5 and a word-that-is-much-longer-than-forty-two-characters-wide ok"),
    ],
)
def test_cards_render_as_the_reference(host_fw: HostFirmware, card_id: int, kind: int, icon: int, title: str,
                                       text: str) -> None:
    out = host_fw.client("card", str(card_id), str(kind), str(icon), title, text).splitlines()
    assert fields(out[-1])["code"] == "0"
    dump = host_fw.dir / "display.pgm"
    assert host_fw.ctl(f"display dump {dump}") == f"ok pgm 256 128 card_id={card_id}"
    got, want = read_pgm(dump), render(kind, icon, title, text)
    diff = sum(a != b for gr, wr in zip(got, want) for a, b in zip(gr, wr))
    assert diff == 0, f"{diff} pixels differ from the reference rendering"


def test_older_card_is_refused_within_a_session_and_ttl_clears(host_fw: HostFirmware) -> None:
    """Card ids order the cards of one SoC link session (SPEC.md 10.1): in one gb-fw-client run (one session) card 9
    after card 10 is refused; card 11 with a 300 ms ttl replaces it, then the display clears."""
    results = [fields(line) | {"line": line} for line in host_fw.client("cards", "10", "9", "11:300").splitlines()
               if line.startswith("result")]
    assert [r["code"] for r in results] == ["0", "2", "0"]  # ErrorCode BAD_REQUEST for the older one
    assert "card 9 is older than the shown card 10" in results[1]["line"]
    assert host_fw.status()["card_id"] == 11
    time.sleep(0.5)
    assert host_fw.status()["card_id"] == 0


def test_a_new_soc_session_shows_its_cards_whatever_their_id(host_fw: HostFirmware) -> None:
    """Each gb-fw-client run is a new SoC link session (a restarted glassbridge): its card 2 replaces the previous
    session's card 40 (it was refused as older, and the display stayed frozen)."""
    assert [fields(line)["code"] for line in host_fw.client("cards", "40").splitlines() if line.startswith("result")] \
        == ["0"]
    out = host_fw.client("cards", "2", "1").splitlines()
    assert [fields(line)["code"] for line in out if line.startswith("result")] == ["0", "2"]
    assert host_fw.status()["card_id"] == 2


def test_camera_power_lights_the_led(host_fw: HostFirmware) -> None:
    assert host_fw.client("camera", "on").splitlines()[-1] == "camera powered=1 led=1"
    s = host_fw.status()
    assert s["camera_rail"] is True and s["capture_led"] is True
    assert host_fw.client("camera", "off").splitlines()[-1] == "camera powered=0 led=0"
    s = host_fw.status()
    assert s["camera_rail"] is False and s["capture_led"] is False


def test_critical_battery_cuts_the_camera(host_fw: HostFirmware) -> None:
    host_fw.client("camera", "on")
    host_fw.ctl("battery 3")
    time.sleep(1.2)
    s = host_fw.status()
    assert s["camera_rail"] is False and s["capture_led"] is False
    out = host_fw.client("camera", "on").splitlines()[-1]
    assert fields(out)["code"] == "3"  # ErrorCode BUSY, with the reason
    assert "battery critical" in out


def lcg_payload(n: int) -> bytes:
    """gb-fw-client's transfer payload: x <- x*1664525+1013904223 (mod 2^32) from 12345, each byte x >> 24."""
    x, data = 12345, bytearray()
    for _ in range(n):
        x = (x * 1664525 + 1013904223) & 0xFFFFFFFF
        data.append(x >> 24)
    return bytes(data)


def test_transfer_verified_by_the_firmware(host_fw: HostFirmware) -> None:
    out = host_fw.client("transfer", "50000", timeout_ms=20000).splitlines()[-1]
    assert fields(out)["state"] == "2" and fields(out)["offset"] == "50000"  # TransferState VERIFIED
    # The digest the firmware verified is hashlib's, not just the client's and firmware's shared opinion.
    assert fields(out)["sha256"] == hashlib.sha256(lcg_payload(50000)).hexdigest()
    s = host_fw.status()
    assert s["transfer_id"] == 42 and s["transfer_state"] == 2 and s["transfer_offset"] == 50000


def test_reboot_counts_boots_in_the_state_file(host_fw: HostFirmware) -> None:
    assert host_fw.ctl("reboot") == "ok rebooting"
    time.sleep(0.2)
    assert host_fw.status()["boot_counter"] == 2
    assert host_fw.state.read_text().strip() == "2"
    assert fields(host_fw.client("status").splitlines()[-1])["boot_counter"] == "2"


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    d = Path(f"/tmp/gbfw-restart-{time.monotonic_ns() % 10**9}")
    for expected in (1, 2, 3):
        fw = start_host_firmware(d)
        try:
            assert fw.status()["boot_counter"] == expected
        finally:
            assert stop(fw.proc) == 0
    assert not (d / "uart.sock").exists(), "sockets must be removed on a clean exit"


def write_wav(path: Path, samples: list[int], rate: int = 16000, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))


def test_microphone_plays_the_wav_in_contiguous_frames(tmp_path: Path) -> None:
    samples = [((i * 37) % 2000) - 1000 for i in range(16000)]
    wav = tmp_path / "mic.wav"
    write_wav(wav, samples)
    d = Path(f"/tmp/gbfw-mic-{time.monotonic_ns() % 10**9}")
    fw = start_host_firmware(d, "--mic-wav", str(wav))
    try:
        lines = [fields(x) for x in fw.client("mic", "8").splitlines() if x.startswith("mic")]
        assert len(lines) == 8
        first = [int(x["first"]) for x in lines]
        assert first == [320 * k for k in range(8)]
        assert all(x["gap"] == "0" and x["samples"] == "320" for x in lines)
        assert [int(x["sum"]) for x in lines] == [sum(samples[f:f + 320]) for f in first]
        assert fw.status()["capture_led"] is False  # the client stopped the stream: LED off again
    finally:
        assert stop(fw.proc) == 0


def test_slow_line_drops_microphone_frames_with_a_marked_gap() -> None:
    # 38400 baud carries 3840 B/s; the stream needs ~34 KB/s: the transmit ring backs up, the link's 8 KB queue
    # fills after about 12 frames, and later frames are dropped with gap_before on the next one that gets through.
    d = Path(f"/tmp/gbfw-slow-{time.monotonic_ns() % 10**9}")
    fw = start_host_firmware(d, "--baud", "38400")
    try:
        # 24 frames: twice the ~12 that fill the queue, so a slow start of the stream cannot hide the drops.
        lines = [fields(x) for x in fw.client("mic", "24", timeout_ms=30000).splitlines() if x.startswith("mic")]
        firsts = [int(x["first"]) for x in lines]
        assert any(x["gap"] == "1" for x in lines[1:])
        assert any(b - a > 320 for a, b in zip(firsts, firsts[1:]))
        assert fw.status()["mic_frames_dropped"] > 0
    finally:
        assert stop(fw.proc) == 0


def test_bad_command_lines_are_explained(tmp_path: Path) -> None:
    exe = str(need(HOST_FW))
    r = subprocess.run([exe, "--uart", str(tmp_path / "u"), "--baud", "12"], capture_output=True, text=True)
    assert r.returncode == 2 and "--baud 12" in r.stderr
    r = subprocess.run([exe], capture_output=True, text=True)
    assert r.returncode == 2 and "--uart PATH is required" in r.stderr
    stereo = tmp_path / "stereo.wav"
    write_wav(stereo, [0] * 200, rate=44100, channels=2)
    r = subprocess.run([exe, "--uart", str(tmp_path / "u"), "--mic-wav", str(stereo)], capture_output=True, text=True)
    assert r.returncode == 1 and "need PCM 16-bit mono 16000 Hz" in r.stderr and "44100" in r.stderr


def test_speaker_frames_reach_the_speaker(host_fw: HostFirmware) -> None:
    out = host_fw.client("speaker", "6").splitlines()[-1]
    assert out == "speaker frames=6 samples=1920"
    # gb-fw-client's samples: (n * 7) mod 4001 - 2000; the host speaker sums them as uint16.
    expected = sum((((n * 7) % 4001) - 2000) & 0xFFFF for n in range(1920))
    s = host_fw.status()
    assert s["speaker_samples"] == 1920 and s["speaker_frames"] == 6 and s["speaker_gaps"] == 0
    assert s["speaker_sum"] == expected


@pytest.mark.parametrize(
    ("hex_message", "request_id", "code", "words"),
    [
        # request_id 7 (field 1 varint) and an empty field 22 (tag 22<<3|2 = 0xb2 0x01; 20 and 21 are the wake
        # word's): a body this MCU does not know, skipped as an unknown field by the decoder -> Result
        # UNKNOWN_MESSAGE (1) for request 7.
        ("0807b20100", "7", "1", "does not handle"),
        # field 1 with wire type 2 and no length byte: truncated -> DECODE_FAILED (10), request_id unknown (0).
        ("0a", "0", "10", "cannot decode"),
        # request_id 9, card (field 13) holding a 48-byte title (field 4), over its 47-byte limit -> DECODE_FAILED,
        # answered with request 9 (its field 1 decodes), so the requester fails at once instead of timing out.
        ("0809" + "6a32" + "2230" + "41" * 48, "9", "10", "cannot decode"),
        # The same card with the request_id after it (any field order is valid): still request 9.
        ("6a32" + "2230" + "41" * 48 + "0809", "9", "10", "cannot decode"),
    ],
)
def test_bad_messages_are_answered_not_dropped(host_fw: HostFirmware, hex_message: str, request_id: str,
                                               code: str, words: str) -> None:
    out = host_fw.client("raw", hex_message).splitlines()[-1]
    f = fields(out)
    assert f["request_id"] == request_id and f["body"] == "2" and f["code"] == code  # body 2 = Result
    assert words in out
