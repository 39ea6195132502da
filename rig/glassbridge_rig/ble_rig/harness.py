"""The BLE rig's harness: `BleRig` starts, drives and stops the rig from a test, the CLI or a demo.

It starts a private dbus-daemon (glassbridge_rig.dbus), the rig process (`python -m glassbridge_rig.ble_rig.process`,
contract.py) and the companion process, each a `RigProcess` in its own process group; waits for their READY
lines; talks to their ctl sockets; restarts them; and ends every process by its pid, whatever happens.

It runs in the caller's process and imports no bumble (the timing model travels to the rig process as JSON,
glassbridge_rig.ble_airtime): what runs inside the rig is process.py's, reached only through the command line,
stdout and the sockets.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from glassbridge.private import private_dir
from glassbridge_rig.ble_airtime import BleTiming
from glassbridge_rig.ble_rig.contract import CTL_SOCKET, DEFAULT_COMPANION_NAME, PROCESS_MODULE, READY, phone_socket

__all__ = ["BleRig", "BleRigError", "RigProcess"]

#: Longest unix socket path (sun_path is 108 bytes with its NUL); longer workdirs get a short socket directory.
_MAX_SOCKET_PATH = 100


class BleRigError(RuntimeError):
    """The rig (or one of its processes) failed to start, died, or did not answer; the message quotes its log."""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(empty log)"


class RigProcess:
    """A child process started in its own process group, its output in files, ended by its pid. It does not
    outlive this process: killed outright (SIGKILL too), the kernel sends it SIGTERM (PR_SET_PDEATHSIG, forked
    on a thread that lasts as long as the process: glassbridge.lifetime.popen)."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.stdout_path = workdir / f"{name}.out"
        self.log_path = workdir / f"{name}.log"
        # Appended, not truncated: after a restart the previous run's log is still there to read. stdout is
        # truncated so that wait_line() sees this run's READY only.
        with open(self.stdout_path, "wb") as out, open(self.log_path, "ab") as err:
            err.write(f"==== {time.strftime('%H:%M:%S')} starting {name}: {' '.join(argv)}\n".encode())
            err.flush()
            from glassbridge.lifetime import popen

            self.proc = popen(argv, stdout=out, stderr=err, env=env, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def describe(self) -> str:
        return (f"{self.name} (pid {self.pid}, {' '.join(self.argv[:6])} ...)\n--- {self.log_path.name} ---\n"
                f"{_tail(self.log_path)}\n--- {self.stdout_path.name} ---\n{_tail(self.stdout_path, 10)}")

    def wait_line(self, prefix: str, timeout: float) -> str:
        """Wait for a line of stdout starting with `prefix`; BleRigError if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(FileNotFoundError):
                for line in self.stdout_path.read_text(errors="replace").splitlines():
                    if line.startswith(prefix):
                        return line[len(prefix):].strip()
            if self.proc.poll() is not None:
                raise BleRigError(f"{self.name} exited with status {self.proc.returncode} before printing "
                                  f"{prefix.strip()!r}:\n{self.describe()}")
            if time.monotonic() > deadline:
                raise BleRigError(f"{self.name} did not print {prefix.strip()!r} within {timeout} s:\n"
                                  f"{self.describe()}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, no goodbye (a crash, a phone's Bluetooth stack dying); reaped."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5.0)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to its process group, SIGKILL after `timeout`; always reaps it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        # Anything the child left in its group (it should have none) goes too; the group id is the child's pid.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def _request(path: str, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise BleRigError(f"{path} closed the connection before answering {request}")
            data += chunk
    answer = json.loads(data)
    if not isinstance(answer, dict):
        raise BleRigError(f"{path} answered {request} with {answer!r}, not a JSON object")
    return answer


def _ask(process: RigProcess, what: str, path: str, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """_request, with the process's log in the error when it cannot answer."""
    try:
        return _request(path, request, timeout)
    except (OSError, ValueError) as exc:
        raise BleRigError(f"{what} ctl {request}: {exc}\n{process.describe()}") from exc


class BleRig:
    """The whole simulated BLE rig for a test or a demo: private bus + rig process + companion process.

    workdir: logs (`rig.log`, `companion.log`, `*.out`), BlueZ's state (`bluez/`), the companion's (`companion/`).
    timing: the radio model. companion: start `glassbridge companion` on phone slot 0 (False: the slot stays free
    for a test's own host). companion_args: extra arguments for it. mtu: the companion's largest ATT_MTU.
    Ready when `start()` (or `with`) returns; `stop()` ends every process by its pid and is idempotent.
    """

    def __init__(self, workdir: str | os.PathLike[str], *, timing: BleTiming | None = None, companion: bool = True,
                 companion_args: Sequence[str] = (), mtu: int = 517, slots: int = 1,
                 companion_name: str = DEFAULT_COMPANION_NAME, start_timeout: float = 20.0) -> None:
        self.workdir = Path(workdir).resolve()
        self.timing = timing or BleTiming()
        self.companion_enabled = companion
        self.companion_args = list(companion_args)
        self.mtu = mtu
        self.slots = slots
        self.companion_name = companion_name
        self.start_timeout = start_timeout
        self.bus: Any = None
        self.rig_process: RigProcess | None = None
        self.companion_process: RigProcess | None = None
        self.info: dict[str, Any] = {}
        self.companion_identity: str | None = None
        self._sockdir: Path | None = None
        self._own_sockdir = False

    # ---- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> BleRig:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        from glassbridge_rig.dbus import PrivateBus

        private_dir(self.workdir)
        self._sockdir = self.workdir / "sock"
        if len(str(self._sockdir / phone_socket(0))) > _MAX_SOCKET_PATH:
            self._sockdir = Path(tempfile.mkdtemp(prefix="gbrig-", dir="/tmp"))
            self._own_sockdir = True
        private_dir(self._sockdir)
        try:
            self.bus = PrivateBus(self.workdir / "bus")
            self.bus.start()
            self._start_rig()
            if self.companion_enabled:
                self._start_companion()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """End the companion, the rig and the bus (by pid), whatever state they are in."""
        errors: list[str] = []
        for attr in ("companion_process", "rig_process"):
            process: RigProcess | None = getattr(self, attr)
            if process is not None:
                try:
                    process.stop()
                except Exception as exc:  # noqa: BLE001 - keep stopping the others
                    errors.append(f"{process.name}: {exc}")
                setattr(self, attr, None)
        if self.bus is not None:
            try:
                self.bus.stop()
            except Exception as exc:  # noqa: BLE001
                errors.append(f"bus: {exc}")
            self.bus = None
        if self._own_sockdir and self._sockdir is not None:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._own_sockdir = False
        if errors:
            raise BleRigError("stopping the rig: " + "; ".join(errors))

    def _start_rig(self) -> None:
        assert self._sockdir is not None
        argv = [sys.executable, "-m", PROCESS_MODULE, "--workdir", str(self.workdir), "--sockdir",
                str(self._sockdir), "--timing", json.dumps(self.timing.to_dict()), "--slots", str(self.slots),
                "--companion-name", self.companion_name]
        self.rig_process = RigProcess("rig", argv, env=self.env, workdir=self.workdir)
        self.info = json.loads(self.rig_process.wait_line(READY, self.start_timeout))

    def _start_companion(self) -> None:
        argv = [sys.executable, "-m", "glassbridge.cli.main", "companion", "--transport", f"unix:{self.phone_path}",
                "--state", str(self.workdir / "companion"), "--ctl", self.companion_ctl_path,
                "--name", self.companion_name, "--mtu", str(self.mtu), *self.companion_args]
        self.companion_process = RigProcess("companion", argv, env=self.env, workdir=self.workdir)
        self.companion_identity = self.companion_process.wait_line("READY ", self.start_timeout)

    def restart_companion(self, *, crash: bool = False) -> None:
        """Stop the companion and start it again with its state (identity, bonds).

        Stopped gracefully (SIGTERM), it disconnects on its own (the glasses see 0x13, remote user terminated);
        with crash=True it is killed and its radio just goes away (the glasses see 0x08, a supervision timeout).
        """
        if self.companion_process is not None:
            if crash:
                self.companion_process.kill()
            self.companion_process.stop()
            self.companion_process = None
        self._start_companion()

    def restart_bluez(self) -> None:
        """Restart the rig process with the same workdir: BlueZ's keys persist, connections do not.

        The phone slots live in the rig process too, so the companion (whose HCI socket goes away) is restarted
        as well, with its state: bonds survive on both sides.
        """
        had_companion = self.companion_process is not None
        if self.companion_process is not None:
            self.companion_process.stop()
            self.companion_process = None
        if self.rig_process is not None:
            self.rig_process.stop()
            self.rig_process = None
        self._start_rig()
        if had_companion:
            self._start_companion()

    # ---- access --------------------------------------------------------------------------------------

    @property
    def bus_address(self) -> str:
        if self.bus is None:
            raise BleRigError("the rig is not started: no bus address")
        return str(self.bus.address)

    @contextlib.contextmanager
    def system_bus(self) -> Iterator[str]:
        """Points this process's DBUS_SYSTEM_BUS_ADDRESS at the rig's bus (where bleak and our agent find
        "BlueZ") for the `with` block, and puts back what was there after it. Yields the address."""
        saved = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus_address
        try:
            yield self.bus_address
        finally:
            if saved is None:
                os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = saved

    @property
    def env(self) -> dict[str, str]:
        """os.environ with DBUS_SYSTEM_BUS_ADDRESS pointing at the rig's bus (for bleak and subprocesses)."""
        env = dict(os.environ)
        if self.bus is not None:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus.address
        return env

    @property
    def phone_path(self) -> str:
        """Phone slot 0's HCI socket: `--transport unix:<this>`."""
        assert self._sockdir is not None
        return str(self._sockdir / phone_socket(0))

    @property
    def ctl_path(self) -> str:
        assert self._sockdir is not None
        return str(self._sockdir / CTL_SOCKET)

    @property
    def companion_ctl_path(self) -> str:
        assert self._sockdir is not None
        return str(self._sockdir / "companion.ctl")

    @property
    def pids(self) -> list[int]:
        """pids of every process the rig started (bus, rig, companion) that is still meant to run."""
        pids = [p.pid for p in (self.rig_process, self.companion_process) if p is not None]
        if self.bus is not None:
            with contextlib.suppress(Exception):  # a bus that is not running has no pid
                pids.append(int(self.bus.pid))
        return pids

    def ctl(self, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """One request to the rig's ctl socket; BleRigError (with the rig's log) if it cannot answer."""
        if self.rig_process is None:
            raise BleRigError("the rig is not running")
        return _ask(self.rig_process, "rig", self.ctl_path, request, timeout)

    def companion_ctl(self, request: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """One request to the companion's ctl socket (see glassbridge companion --ctl)."""
        if self.companion_process is None:
            raise BleRigError("the companion is not running (BleRig(companion=False)?)")
        return _ask(self.companion_process, "companion", self.companion_ctl_path, request, timeout)
