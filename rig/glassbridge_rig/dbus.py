"""A private D-Bus daemon shaped like the system bus, for the simulated BLE rig and its tests.

The kernel of the test machines has no Bluetooth, so bluetoothd cannot run; instead a BlueZ-compatible service
(glassbridge_rig.bluez) owns the name org.bluez on a bus of its own. bleak (and every other BlueZ client) finds
"the system bus" through the environment variable DBUS_SYSTEM_BUS_ADDRESS, which is the seam:

    with PrivateBus() as bus:
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        ...

The daemon listens on a unix socket (unix fd passing works: AcquireWrite/AcquireNotify need it), allows every
connection to own any name and to call anything (no polkit, no bluetooth.conf), and is ended by its pid.
"""

from __future__ import annotations

import os
import pwd
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from glassbridge.private import private_dir
from glassbridge.lifetime import run_dir

__all__ = ["DBUS_DAEMON", "PrivateBus", "PrivateBusError"]

#: The daemon binary (package dbus-daemon / dbus on Debian).
DBUS_DAEMON = "dbus-daemon"

# A system bus config without the system policy files. Only the user who started it may connect (<allow user>
# names them; dbus-daemon refuses everyone else at authentication) and its socket sits in an owner-only folder:
# another local user could otherwise pair, read the bond's keys or drive the rig. The owner may do everything.
# <type>system</type> only names the bus; the address comes from <listen>.
_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="{user}"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
  <limit name="max_incoming_unix_fds">1024</limit>
</busconfig>
"""

# A unix socket path must fit in sun_path (108 bytes with the terminating NUL).
_MAX_SOCKET_PATH = 100


class PrivateBusError(RuntimeError):
    """The private dbus-daemon could not be started (missing binary, bad config, no address in time)."""


class PrivateBus:
    """A dbus-daemon of our own, started by `start()` (or `with`), ended by `stop()` (idempotent).

    `workdir`: where the config and the socket go (a fresh temporary directory when None, removed by stop()).
    When the workdir's path is too long for a unix socket, the socket goes to a short temporary directory.
    """

    def __init__(self, workdir: str | os.PathLike[str] | None = None, *, start_timeout: float = 10.0) -> None:
        self._workdir_arg = Path(workdir) if workdir is not None else None
        self._start_timeout = start_timeout
        self._tmpdirs: list[Path] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._address: str | None = None

    @property
    def address(self) -> str:
        """The bus address (`unix:path=...,guid=...`), for DBUS_SYSTEM_BUS_ADDRESS."""
        if self._address is None:
            raise PrivateBusError("the private bus is not running: call start() first")
        return self._address

    @property
    def pid(self) -> int:
        """The dbus-daemon's process id."""
        if self._proc is None:
            raise PrivateBusError("the private bus is not running: call start() first")
        return self._proc.pid

    @property
    def env(self) -> dict[str, str]:
        """The environment variables a client process needs (DBUS_SYSTEM_BUS_ADDRESS)."""
        return {"DBUS_SYSTEM_BUS_ADDRESS": self.address}

    def start(self) -> PrivateBus:
        """Start the daemon and wait for its address; raise PrivateBusError (after cleaning up) on failure."""
        if self._proc is not None:
            return self
        exe = shutil.which(DBUS_DAEMON)
        if exe is None:
            raise PrivateBusError(f"{DBUS_DAEMON} not found on PATH: install the dbus-daemon package")
        try:
            workdir = self._workdir_arg
            if workdir is None:
                # Marked with our pid: a killed run's folder is reclaimed by the next private bus that starts.
                workdir = run_dir("gb-dbus-")
                self._tmpdirs.append(workdir)
            else:
                private_dir(workdir)
            socket_path = workdir / "system_bus_socket"
            if len(str(socket_path)) > _MAX_SOCKET_PATH:
                short = run_dir("gb-dbus-")
                self._tmpdirs.append(short)
                socket_path = short / "bus"
            config = workdir / "system-bus.conf"
            config.write_text(_CONFIG.format(socket=socket_path, user=pwd.getpwuid(os.getuid()).pw_name))
            from glassbridge.lifetime import popen

            # popen: the daemon gets SIGTERM if we die without stop() (SIGKILL included): no orphaned bus.
            self._proc = popen(
                [exe, f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
            )
            self._address = self._read_address(self._proc)
        except BaseException:
            self.stop()
            raise
        return self

    def _read_address(self, proc: subprocess.Popen[bytes]) -> str:
        assert proc.stdout is not None
        deadline = time.monotonic() + self._start_timeout
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PrivateBusError(f"dbus-daemon printed no address within {self._start_timeout} s")
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise PrivateBusError(f"dbus-daemon exited (code {proc.wait()}): {err.strip()}")
            buf += chunk
        return buf.split(b"\n", 1)[0].decode().strip()

    def stop(self) -> None:
        """End the daemon by its pid (SIGTERM, then SIGKILL after 3 s) and remove temporary files. Idempotent."""
        proc, self._proc, self._address = self._proc, None, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                except ProcessLookupError:
                    pass
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for tmp in self._tmpdirs:
            shutil.rmtree(tmp, ignore_errors=True)
        self._tmpdirs.clear()

    def __enter__(self) -> PrivateBus:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __del__(self) -> None:  # a forgotten bus must not outlive its owner
        if getattr(self, "_proc", None) is not None:
            self.stop()
