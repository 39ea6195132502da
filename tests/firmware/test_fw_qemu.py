"""The firmware images on emulated MCUs (qemu-system-arm): boot, handshake with the link engine over a chardev
socket, Status answered; the boot counter kept in RAM across QEMU's system_reset (QMP); SysTick time that
tracks the wall clock; a bulk transfer verified on the target.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fwrig import ROOT, client, fields, need

BOARDS = {"mps2-an386": "mps2_an386", "netduinoplus2": "netduinoplus2"}


@dataclass
class Qemu:
    proc: subprocess.Popen[bytes]
    uart: Path
    qmp_path: Path

    def qmp(self, command: str) -> dict[str, object]:
        """One QMP command on a fresh connection (QMP allows one client at a time)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.qmp_path))
            with s.makefile("rw") as f:
                f.readline()  # greeting
                f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
                f.flush()
                f.readline()
                f.write(json.dumps({"execute": command}) + "\n")
                f.flush()
                while True:  # skip asynchronous events (RESET ...) until the answer
                    answer: dict[str, object] = json.loads(f.readline())
                    if "return" in answer or "error" in answer:
                        return answer


@pytest.fixture(params=list(BOARDS))
def qemu(request: pytest.FixtureRequest) -> Iterator[Qemu]:
    machine = request.param
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is missing: apt-get install qemu-system-arm")
    elf = need(ROOT / f"build/fw-{BOARDS[machine]}/glassbridge-fw.elf")
    d = Path(f"/tmp/gbq-{machine}-{time.monotonic_ns() % 10**9}")
    d.mkdir()
    uart, qmp = d / "uart.sock", d / "qmp.sock"
    proc = subprocess.Popen(
        ["qemu-system-arm", "-M", machine, "-nographic", "-monitor", "none", "-kernel", str(elf),
         "-chardev", f"socket,id=u0,path={uart},server=on,wait=off", "-serial", "chardev:u0",
         "-qmp", f"unix:{qmp},server=on,wait=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if uart.exists() and qmp.exists():
            break
        time.sleep(0.02)
    try:
        yield Qemu(proc, uart, qmp)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        shutil.rmtree(d, ignore_errors=True)


def status(q: Qemu) -> dict[str, str]:
    return fields(client(q.uart, "status").splitlines()[-1])


def test_boots_and_answers_status(qemu: Qemu) -> None:
    s = status(qemu)
    assert s["board"] in BOARDS
    assert s["boot_counter"] == "1" and s["request_id"] == "1"
    # Every device; the wake word (0x100) where the board has the RAM for it (mps2-an386, not netduinoplus2).
    assert int(s["capabilities"], 16) == (0x1FF if s["board"] == "mps2-an386" else 0xFF)


def test_boot_counter_survives_system_reset(qemu: Qemu) -> None:
    assert status(qemu)["boot_counter"] == "1"
    for expected in (2, 3):
        assert qemu.qmp("system_reset") == {"return": {}}
        time.sleep(0.3)
        s = status(qemu)
        assert s["boot_counter"] == str(expected)
        assert int(s["uptime_ms"]) < 5000  # it really restarted


def test_uptime_follows_the_wall_clock(qemu: Qemu) -> None:
    t0, u0 = time.monotonic(), int(status(qemu)["uptime_ms"])
    time.sleep(1.5)
    t1, u1 = time.monotonic(), int(status(qemu)["uptime_ms"])
    ratio = (u1 - u0) / ((t1 - t0) * 1000)
    assert 0.85 < ratio < 1.15, f"SysTick runs at {ratio:.2f}x real time: wrong core clock for this board"


def test_transfer_verified_on_the_target(qemu: Qemu) -> None:
    out = client(qemu.uart, "transfer", "30000", timeout_ms=30000).splitlines()[-1]
    assert fields(out)["state"] == "2" and fields(out)["offset"] == "30000"


def test_microphone_tone_streams_without_gaps(qemu: Qemu) -> None:
    lines = [fields(x) for x in client(qemu.uart, "mic", "10").splitlines() if x.startswith("mic")]
    assert [int(x["first"]) for x in lines] == [320 * k for k in range(10)]
    assert all(x["gap"] == "0" and x["samples"] == "320" for x in lines)
    # The QEMU ports' microphone is a 440 Hz tone of amplitude 8192 at 16 kHz (sim_devices.c), computed with
    # the target's single-precision FPU: each sample within 1 of math.sin's, so each frame's sum within 320.
    for x in lines:
        first = int(x["first"])
        ref = sum(round(8192 * math.sin(2 * math.pi * 440 * n / 16000)) for n in range(first, first + 320))
        assert abs(int(x["sum"]) - ref) <= 320
