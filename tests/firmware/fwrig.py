"""Helpers for the firmware tests: start the host port, talk to its control socket, run the C link-engine
client (build/fw-host/gb-fw-client) against a firmware UART socket (host port or QEMU).

The binaries come from `make firmware` (build/fw-host, build/fw-mps2_an386, build/fw-netduinoplus2); a
missing one skips with the command that builds it (and fails in CI, see tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST_FW = ROOT / "build/fw-host/glassbridge-fw-host"
CLIENT = ROOT / "build/fw-host/gb-fw-client"
BUILD_HINT = "build the firmware first: make firmware"


def need(path: Path) -> Path:
    """The path of a built binary, or a skip naming how to build it."""
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} is missing: {BUILD_HINT}")
    return path


def client(uart: Path, *args: str, timeout_ms: int = 10000) -> str:
    """Runs gb-fw-client against a firmware UART socket; returns its stdout, raises with stderr on failure."""
    proc = subprocess.run(
        [str(need(CLIENT)), "--timeout", str(timeout_ms), str(uart), *args],
        capture_output=True, text=True, timeout=timeout_ms / 1000 + 10,
    )
    if proc.returncode != 0:
        raise AssertionError(f"gb-fw-client {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def fields(line: str) -> dict[str, str]:
    """`key=value` words of one client output line."""
    return dict(w.split("=", 1) for w in line.split() if "=" in w)


@dataclass
class HostFirmware:
    """A running glassbridge-fw-host: its sockets, state file and process."""

    dir: Path
    proc: subprocess.Popen[str]
    uart: Path = field(init=False)
    ctl_path: Path = field(init=False)
    state: Path = field(init=False)

    def __post_init__(self) -> None:
        self.uart = self.dir / "uart.sock"
        self.ctl_path = self.dir / "ctl.sock"
        self.state = self.dir / "state"

    def ctl(self, command: str) -> str:
        """One control-socket command; returns the answer line without its newline."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.ctl_path))
            s.sendall(command.encode() + b"\n")
            with s.makefile("r") as f:
                answer = f.readline().rstrip("\n")
        return answer

    def status(self) -> dict[str, Any]:
        """The `status` answer, parsed (see firmware/README.md for its members)."""
        answer = self.ctl("status")
        assert answer.startswith("ok "), answer
        parsed: dict[str, Any] = json.loads(answer[3:])
        return parsed

    def client(self, *args: str, timeout_ms: int = 10000) -> str:
        return client(self.uart, *args, timeout_ms=timeout_ms)


def start_host_firmware(tmp: Path, *extra: str) -> HostFirmware:
    tmp.mkdir(parents=True, exist_ok=True)
    uart, ctl, state = tmp / "uart.sock", tmp / "ctl.sock", tmp / "state"
    proc = subprocess.Popen(
        [str(need(HOST_FW)), "--uart", f"unix:{uart}", "--ctl", str(ctl), "--state", str(state), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "ready" in line, f"glassbridge-fw-host did not start: {line}{proc.stderr.read() if proc.stderr else ''}"
    return HostFirmware(tmp, proc)


def stop(proc: subprocess.Popen[str]) -> int:
    """SIGTERM, then the exit code (the host port must exit cleanly, 0)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()
