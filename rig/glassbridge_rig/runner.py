"""Run the real MCU firmware without hardware: the host port, or the Cortex-M4F build under qemu-system-arm,
behind the UART link emulator.

::

    async with FirmwareRunner("mps2-an386", faults="ber=1e-4,seed=7") as fw:
        print("connect to", fw.port)          # a stable pty path; open it with pyserial / glassbridge.mcu
        await fw.reset_mcu()                  # the reset button (QMP system_reset; a restart for the host port)
        fw.emulator.unplug(); fw.emulator.replug()

What it does, in order: builds the firmware if needed (CMake + Ninja into build/fw-<board>, as firmware/README.md
describes), starts it in a private temporary folder (reclaimed by the next start if this process was killed
outright) with its UART as a unix socket (QEMU `-chardev socket,server=on,wait=off`, the host port's `--uart
unix:`), QMP for QEMU and semihosting (the firmware's log and exit code), waits for the socket, and puts a
LinkEmulator in front of it (its pty's symlink in the same folder unless `link` names a stable path). `stop()`
(or leaving the `async with`) stops the emulator, ends the process (QMP `quit`, then SIGTERM, then SIGKILL) and
removes the folder: no process, socket or pty is left behind. Killed outright (SIGKILL), the runner leaves no process either:
the firmware gets SIGTERM from the kernel (PR_SET_PDEATHSIG, glassbridge.lifetime).

With $GLASSBRIDGE_FIRMWARE_DIR set, the images in that folder (fw-<board>/<artifact>, as in build/) are run as they
are and nothing is built: an installation without a compiler (the aarch64 test rootfs) runs images built elsewhere.
A host-port image built for another machine (a checkout shared with one) is refused with what to do.

Errors say what to do: a missing tool names the apt-get line, a failed build shows the end of its log, a
firmware that exits early shows its output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from glassbridge_rig.faults import FaultSpec
from glassbridge.lifetime import die_with_parent, run_dir
from glassbridge_rig.link_emulator import DEFAULT_BAUD, LinkEmulator
from glassbridge_rig.qmp import QmpError, qmp_command

APT_FIRMWARE = ("sudo apt-get install --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi "
                "qemu-system-arm")  # the same packages as `scripts/system-packages.sh firmware`


class FirmwareError(RuntimeError):
    """Base of the runner's errors; the message says what failed and what to do."""


class ToolMissingError(FirmwareError):
    """A program the firmware needs (cross compiler, QEMU, CMake, Ninja) is not installed."""


class BuildError(FirmwareError):
    """Configuring or building the firmware failed; the message carries the end of the build log."""


class FirmwareExitedError(FirmwareError):
    """The firmware process (QEMU or the host port) ended before it was ready or while it ran."""


@dataclass(frozen=True)
class Board:
    """A board the firmware runs on, and how to build and start it."""

    name: str  # as the CLI and QEMU spell it: mps2-an386
    cmake_name: str  # as firmware/CMakeLists.txt spells it (GB_BOARD, build/fw-<cmake_name>): mps2_an386
    qemu_machine: str | None  # None: the host port, a native executable
    artifact: str  # the file the build produces, relative to the build folder
    description: str

    @property
    def is_qemu(self) -> bool:
        return self.qemu_machine is not None


BOARDS: dict[str, Board] = {
    "host": Board("host", "host", None, "glassbridge-fw-host",
                  "POSIX port: the same application code as a native program; fastest, for the demo and tests"),
    "mps2-an386": Board("mps2-an386", "mps2_an386", "mps2-an386", "glassbridge-fw.elf",
                        "Arm's Cortex-M4F reference board under QEMU (CMSDK UART); the CI board"),
    "netduinoplus2": Board("netduinoplus2", "netduinoplus2", "netduinoplus2", "glassbridge-fw.elf",
                           "STM32F405 (Cortex-M4F) under QEMU: a model of real silicon (STM32 USART)"),
}


def board(name: str) -> Board:
    """The Board called `name` (mps2-an386 and mps2_an386 both work); ValueError listing the boards otherwise."""
    found = BOARDS.get(name.strip().lower().replace("_", "-"))
    if found is None:
        raise ValueError(f"unknown board {name!r}; use one of {', '.join(BOARDS)}")
    return found


# -- where things are ------------------------------------------------------------------------------------------

def _checkout_above(origin: Path) -> Path | None:
    for folder in (origin, *origin.parents):
        if (folder / "firmware" / "CMakeLists.txt").is_file():
            return folder
    return None


def repo_root(start: Path | None = None) -> Path:
    """The checkout holding firmware/ (the firmware is built from its sources).

    start given (`--root`): that folder or one above it must be the checkout, else FirmwareError: an explicit
    root is never replaced by another one. Without it: the working directory and the folders above it, then this
    file's (an editable install lives in the checkout), so the commands work from any folder."""
    if start is not None:
        found = _checkout_above(start.expanduser().resolve())
        if found is None:
            raise FirmwareError(f"--root {start}: not a glassbridge checkout (no firmware/CMakeLists.txt in it or "
                                "above it); give the folder you cloned the repository into")
        return found
    for origin in (Path.cwd(), Path(__file__).resolve()):
        found = _checkout_above(origin)
        if found is not None:
            return found
    raise FirmwareError("the firmware is built from the glassbridge sources, and this installation has none (no "
                        "firmware/CMakeLists.txt above the working directory or the installed package): clone the "
                        "repository and pass --root <clone>, or run from inside the clone")


def build_dir(b: Board, root: Path) -> Path:
    """build/fw-<board>, the folder firmware/README.md builds into (so a `make` build and ours are one)."""
    return root / "build" / f"fw-{b.cmake_name}"


def artifact_path(b: Board, root: Path) -> Path:
    return build_dir(b, root) / b.artifact


# Firmware images built elsewhere, used as they are (nothing is built): for an installation without a compiler,
# e.g. the aarch64 test rootfs, whose host-port image is cross-built on the host (scripts/arm64/test.sh). The folder
# holds fw-<board>/<artifact>, the layout of build/.
FIRMWARE_DIR_ENV = "GLASSBRIDGE_FIRMWARE_DIR"

_ELF_MACHINES = {3: "i386", 40: "arm", 62: "x86_64", 183: "aarch64", 243: "riscv64"}


def elf_machine(path: Path) -> str | None:
    """The machine an ELF file is built for (x86_64, aarch64, ...), None if it is not ELF (a script)."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return None
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    code = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    return _ELF_MACHINES.get(code, f"ELF machine {code}")


def prebuilt_image(b: Board) -> Path | None:
    """The board's image in $GLASSBRIDGE_FIRMWARE_DIR, used as it is; None when the variable is not set.
    FirmwareError when that folder has no image for the board."""
    folder = os.environ.get(FIRMWARE_DIR_ENV)
    if not folder:
        return None
    image = Path(folder) / f"fw-{b.cmake_name}" / b.artifact
    if not image.is_file():
        raise FirmwareError(f"${FIRMWARE_DIR_ENV} is {folder}, which has no {b.name} image ({image}); unset it to "
                            "build from the checkout")
    return image


def _this_machine() -> str:
    machine = platform.machine()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine)


def _runs_here(program: Path) -> bool:
    """False for a program built for another machine (a checkout shared with one: its .venv, its build/)."""
    machine = elf_machine(program.resolve())
    return machine is None or machine == _this_machine()


def tool(name: str, root: Path | None = None) -> str:
    """A program: from the running environment (CMake and Ninja come from PyPI into the venv), then PATH, then the
    checkout's .venv when its interpreter is built for this machine (a checkout seen from the aarch64 rootfs has
    the host's; a venv linking the system's python cannot be told apart that way, hence last)."""
    own = Path(sysconfig.get_path("scripts")) / name
    if own.is_file() and os.access(own, os.X_OK):
        return os.fspath(own)
    found = shutil.which(name)
    if found is None and root is not None:
        local = root / ".venv" / "bin" / name
        if local.is_file() and os.access(local, os.X_OK) and _runs_here(root / ".venv" / "bin" / "python"):
            return os.fspath(local)
    if found is None:
        if name in ("cmake", "ninja", "ctest"):
            hint = "run `make venv` (it installs cmake and ninja into .venv from PyPI)"
        else:
            hint = f"install it: {APT_FIRMWARE} (or `scripts/system-packages.sh firmware`)"
        raise ToolMissingError(f"{name} is not installed; {hint}")
    return found


# -- building --------------------------------------------------------------------------------------------------

def configure_command(b: Board, root: Path) -> list[str]:
    cmd = [tool("cmake", root), "-S", os.fspath(root / "firmware"), "-B", os.fspath(build_dir(b, root)),
           "-G", "Ninja", f"-DGB_BOARD={b.cmake_name}"]
    if b.is_qemu:
        cmd.append(f"-DCMAKE_TOOLCHAIN_FILE={root / 'cmake' / 'arm-none-eabi.cmake'}")
    return cmd


def build_firmware(b: Board, root: Path | None = None, *, jobs: int = 2, force: bool = False) -> Path:
    """Configure (once) and build the firmware for a board; returns the artifact. Ninja makes a rebuild of an
    unchanged tree a no-op, so calling this before every run costs a fraction of a second."""
    root = root or repo_root()
    if b.is_qemu:
        tool("arm-none-eabi-gcc")
    out = build_dir(b, root)
    log = out.parent / f"fw-{b.cmake_name}.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    steps = []
    if force or not (out / "build.ninja").is_file():
        steps.append(("configure", configure_command(b, root)))
    steps.append(("build", [tool("cmake", root), "--build", os.fspath(out), "-j", str(jobs)]))
    # CMake's Ninja generator needs ninja on PATH; the running environment's or the .venv's counts.
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([sysconfig.get_path("scripts"), os.fspath(root / ".venv" / "bin"),
                                   env.get("PATH", "")])
    with open(log, "w") as sink:
        for what, cmd in steps:
            sink.write(f"$ {' '.join(cmd)}\n")
            sink.flush()
            try:
                result = subprocess.run(cmd, cwd=root, stdout=sink, stderr=subprocess.STDOUT, env=env, check=False)
            except OSError as exc:  # not runnable here: another machine's program, a broken venv
                raise BuildError(f"{what} of the {b.name} firmware could not run {cmd[0]} ({exc.strerror or exc}); "
                                 f"where nothing can be built, set ${FIRMWARE_DIR_ENV} to images built "
                                 "elsewhere") from exc
            if result.returncode != 0:
                sink.close()
                raise BuildError(f"{what} of the {b.name} firmware failed (exit {result.returncode}); end of "
                                 f"{log}:\n{_tail(log, 25)}")
    artifact = artifact_path(b, root)
    if not artifact.is_file():
        raise BuildError(f"the {b.name} build finished but {artifact} is missing; see {log}")
    return artifact


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty)"


# -- running ---------------------------------------------------------------------------------------------------

class FirmwareRunner:
    """One firmware instance (host port or QEMU) with a LinkEmulator in front. An async context manager."""

    def __init__(self, board_name: str, *, root: Path | None = None, build: bool = True,
                 baud: int = DEFAULT_BAUD, latency_ms: float = 0.0, faults: FaultSpec | str | None = None,
                 link: str | os.PathLike[str] | None = None, extra_args: Sequence[str] = (),
                 ready_timeout: float = 10.0) -> None:
        """
        board_name:  host, mps2-an386 or netduinoplus2.
        build:       build first if needed (a no-op when up to date); False: the artifact must exist.
        baud, latency_ms, faults, link: the link emulator's settings (see LinkEmulator).
        extra_args:  appended to the firmware's command line (QEMU options, host port flags).
        """
        self.board = board(board_name)
        self.root = root
        self.build = build
        self.baud = baud
        self.extra_args = list(extra_args)
        self.ready_timeout = ready_timeout
        # Checked now, before anything is built or started (LinkEmulator checks them again).
        if baud <= 0:
            raise ValueError(f"baud must be a positive number of bits per second, got {baud}")
        if latency_ms < 0:
            raise ValueError(f"latency must not be negative, got {latency_ms} ms")
        self.latency_ms = latency_ms
        self.faults = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
        self.link = link
        self._tmp: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._emulator: LinkEmulator | None = None
        self._artifact: Path | None = None
        self._kicker: asyncio.Task[None] | None = None
        self.restarts = 0

    # -- paths ------------------------------------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        if self._tmp is None:
            raise FirmwareError("the firmware runner is not started")
        return self._tmp / name

    @property
    def uart_socket(self) -> Path:
        return self._path("uart.sock")

    @property
    def qmp_socket(self) -> Path | None:
        return self._path("qmp.sock") if self.board.is_qemu else None

    @property
    def ctl(self) -> Path | None:
        """The host port's control socket (inject buttons, gestures, battery; dump the display); None on QEMU."""
        return None if self.board.is_qemu else self._path("ctl.sock")

    @property
    def log_path(self) -> Path:
        """The firmware's own output: QEMU's messages and the firmware's semihosting log, or the host port's."""
        return self._path("firmware.log")

    @property
    def emulator(self) -> LinkEmulator:
        if self._emulator is None:
            raise FirmwareError("the firmware runner is not started")
        return self._emulator

    @property
    def port(self) -> str:
        """The path the SoC side opens (pyserial, glassbridge.mcu): stable while the runner lives."""
        return self.emulator.port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def command(self) -> list[str]:
        """The firmware's command line (QEMU or the host port) for the current sockets."""
        assert self._artifact is not None
        if self.board.is_qemu:
            assert self.board.qemu_machine is not None and self.qmp_socket is not None
            return [tool("qemu-system-arm"), "-M", self.board.qemu_machine, "-nographic", "-monitor", "none",
                    "-kernel", os.fspath(self._artifact),
                    "-chardev", f"socket,id=u0,path={self.uart_socket},server=on,wait=off",
                    "-serial", "chardev:u0",
                    "-qmp", f"unix:{self.qmp_socket},server=on,wait=off",
                    "-semihosting-config", "enable=on,target=native",
                    *self.extra_args]
        assert self.ctl is not None
        # --state keeps the boot counter across reboots and restarts, as the MCU's flash would.
        return [os.fspath(self._artifact), "--uart", f"unix:{self.uart_socket}", "--ctl", os.fspath(self.ctl),
                "--state", os.fspath(self._path("state")), "--baud", str(self.baud), *self.extra_args]

    # -- life cycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._artifact = prebuilt_image(self.board)
        if self._artifact is None:
            root = repo_root(self.root)  # an explicit root must be a checkout: never silently another one
            self.root = root
            if self.build:
                self._artifact = await asyncio.to_thread(build_firmware, self.board, root)
            else:
                self._artifact = artifact_path(self.board, root)
                if not self._artifact.is_file():
                    raise FirmwareError(f"{self._artifact} does not exist; build it with "
                                        f"`glassbridge firmware build --board {self.board.name}`")
        if not self.board.is_qemu and not _runs_here(self._artifact):
            raise FirmwareError(f"{self._artifact} is built for {elf_machine(self._artifact)} and this machine is "
                                f"{_this_machine()} (a checkout shared with another machine?): build it here "
                                f"(`glassbridge firmware build --board host --reconfigure`) or set "
                                f"${FIRMWARE_DIR_ENV} to images built for {_this_machine()}")
        if self.board.is_qemu:
            tool("qemu-system-arm")
        # Short and private: unix socket paths are limited to 107 bytes, and nothing may collide between runs. It
        # carries an owner marker: the folder of a run that was killed outright is reclaimed by the next start.
        self._tmp = run_dir(f"gb-fw-{self.board.name}-")
        try:
            await self._launch()
            # Without a stable --link the pty's symlink lives in our folder too (reclaimed with it).
            link = self.link if self.link is not None else self._tmp / "tty"
            self._emulator = LinkEmulator(self.uart_socket, link=link, baud=self.baud,
                                          latency_ms=self.latency_ms, faults=self.faults,
                                          reset_mcu=self._press_reset)
            await self._emulator.start()
            await self._emulator.wait_mcu(self.ready_timeout)
            self._kick_qemu()
        except BaseException:
            await self.stop()
            raise

    async def _launch(self) -> None:
        """Start the firmware process and wait for its UART socket (it fails fast if the process dies)."""
        for stale in (self.uart_socket, self.qmp_socket, self.ctl):
            if stale is not None:
                stale.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in a terminal reaches only us, and we stop the firmware in order.
                # The death signal: if we are killed outright (SIGKILL too), the firmware gets SIGTERM. It is tied
                # to the thread that forks, the event loop's (glassbridge.lifetime), which outlives the runner.
                start_new_session=True, preexec_fn=die_with_parent(signal.SIGTERM))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout
        wanted = [p for p in (self.uart_socket, self.qmp_socket, self.ctl) if p is not None]
        while not all(p.exists() for p in wanted):
            if self._proc.returncode is not None:
                raise FirmwareExitedError(
                    f"the {self.board.name} firmware exited with status {self._proc.returncode} before opening "
                    f"its UART; its output:\n{_tail(self.log_path, 20)}")
            if loop.time() > deadline:
                missing = ", ".join(os.fspath(p) for p in wanted if not p.exists())
                raise FirmwareExitedError(f"the {self.board.name} firmware did not create {missing} within "
                                          f"{self.ready_timeout:g} s; its output:\n{_tail(self.log_path, 20)}")
            await asyncio.sleep(0.005)

    def _kick_qemu(self) -> None:
        """Wake QEMU's main loop a few times while the guest boots.

        QEMU 7.2 pitfall (measured: about half of the mps2-an386 starts): QEMU stops polling the UART socket while
        the guest's UART cannot receive, and the CMSDK UART does not tell QEMU when the guest enables its
        receiver. If the emulator connects before the firmware has enabled RX, nothing the SoC sends reaches the
        firmware until something else wakes QEMU's main loop, about a second later. Any QMP command wakes it, so a
        cheap `query-status` at a few moments during boot (after start, reset and restart) closes that window.
        """
        if not self.board.is_qemu:
            return
        if self._kicker is not None:
            self._kicker.cancel()
        self._kicker = asyncio.get_running_loop().create_task(self._kicks(), name="qemu main-loop kicks")

    async def _kicks(self) -> None:
        assert self.qmp_socket is not None
        for delay in (0.01, 0.02, 0.04, 0.08, 0.15, 0.25, 0.5):  # about 1 s in all, denser early
            await asyncio.sleep(delay)
            with contextlib.suppress(QmpError):
                await qmp_command(self.qmp_socket, "query-status", timeout=1.0)

    async def stop(self) -> None:
        """Stop the emulator and the firmware; remove every socket, pty and temporary file. Idempotent."""
        if self._kicker is not None:
            self._kicker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._kicker
            self._kicker = None
        if self._emulator is not None:
            await self._emulator.stop()
            self._emulator = None
        await self._end_process()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    async def _end_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        steps: list[tuple[signal.Signals | None, float]] = [(signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)]
        if self.board.is_qemu and self.qmp_socket is not None and self.qmp_socket.exists():
            with contextlib.suppress(QmpError):
                await qmp_command(self.qmp_socket, "quit", timeout=1.0)
                steps.insert(0, (None, 1.0))  # QEMU is quitting: give it a moment before signalling
        for sig, wait in steps:
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
            try:
                await asyncio.wait_for(proc.wait(), wait)
                return
            except asyncio.TimeoutError:
                continue

    async def __aenter__(self) -> FirmwareRunner:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def check(self) -> None:
        """Raise FirmwareExitedError if the firmware died (with its last output), or the emulator's error."""
        if self._proc is not None and self._proc.returncode is not None:
            raise FirmwareExitedError(f"the {self.board.name} firmware exited with status {self._proc.returncode}; "
                                      f"its output:\n{_tail(self.log_path, 20)}")
        if self._emulator is not None:
            self._emulator.check()

    # -- the reset button -------------------------------------------------------------------------------------

    async def reset_mcu(self) -> None:
        """Reset the MCU as its reset pin would: QMP `system_reset` under QEMU, the control socket's `reboot` on
        the host port (RAM state is lost; the boot counter goes up; the UART socket stays). Counted in the
        emulator's stats (`resets`), like a press through `emulator.reset_mcu()`."""
        await self.emulator.reset_mcu()

    async def _press_reset(self) -> None:
        if self.board.is_qemu:
            assert self.qmp_socket is not None
            await qmp_command(self.qmp_socket, "system_reset")
            self._kick_qemu()
        else:
            await self.control("reboot")

    async def control(self, command: str, *, timeout: float = 5.0) -> str:
        """Send one line to the host port's control socket (`button main tap`, `gesture nod`, `battery 15`,
        `display dump PATH`, `status`, `reboot`: firmware/README.md) and return its answer after "ok"."""
        if self.ctl is None:
            raise FirmwareError(f"the {self.board.name} board has no control socket; only the host port has one")
        if "\n" in command:
            raise ValueError(f"a control command is one line, got {command!r}")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(os.fspath(self.ctl)), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise FirmwareError(f"cannot reach the host port's control socket {self.ctl}: {exc!r}") from exc
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            answer = (await asyncio.wait_for(reader.readline(), timeout)).decode(errors="replace").strip()
        except asyncio.TimeoutError:
            raise FirmwareError(f"the host port did not answer {command!r} within {timeout:g} s") from None
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if answer == "ok" or answer.startswith("ok "):
            return answer[3:]
        raise FirmwareError(f"the host port refused {command!r}: {answer or '(no answer)'}")

    async def restart(self) -> None:
        """Power-cycle: end the firmware process and start it again on the same sockets (the emulator reconnects
        by itself; the host port keeps its boot counter in its --state file)."""
        connects = self._emulator.stats().mcu_connects if self._emulator is not None else 0
        await self._end_process()
        self.restarts += 1
        await self._launch()
        self._kick_qemu()
        if self._emulator is not None:  # return once the emulator is connected to the new process
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.ready_timeout
            while not (self._emulator.stats().mcu_connects > connects and self._emulator.stats().mcu_connected):
                if loop.time() > deadline:
                    raise FirmwareExitedError(f"the restarted {self.board.name} firmware did not accept the link "
                                              f"emulator within {self.ready_timeout:g} s; its output:\n"
                                              f"{_tail(self.log_path, 20)}")
                await asyncio.sleep(0.005)
