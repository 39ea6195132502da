"""The UART between the SoC and the MCU, emulated: baud rate, latency, faults, a cable to pull, a reset button.

::

    firmware UART                           LinkEmulator                                 SoC side
    (QEMU -chardev socket / host port)                                                   (pyserial, screen)
      unix socket  <--- UartSocket ---  Line "to-mcu" <--- faults <---  PtyPort  <---  /tmp/glassbridge-mcu
                   --->             ---> Line "to-soc" ---> faults ---> (stable pty)  ---> -> /dev/pts/N

QEMU does not model baud rates (its UART moves bytes as fast as the host can), and its own pty backend changes
name at every start and drops output until opened; so the firmware's UART is a unix socket and this emulator is
the wire: it charges 10 bit-times per byte at the configured baud (921600 8N1 = 92,160 B/s) in each direction,
adds a fixed latency, injects seeded faults, and owns a stable pty for the SoC.

Unplugging, two ways (``unplug(mode=...)``):
- ``"vanish"`` (default): what pulling a USB-serial adapter does, and what a dev kit's UART bridge looks like
  to Linux: the pty disappears, the program holding it gets an error at once (pyserial: "device reports
  readiness to read but returned no data"), the symlink goes away, and `replug()` brings a new pty back at the
  same symlink path. This is the harder and more informative case for a client: it must notice, wait and reopen.
- ``"silent"``: cut wires on an on-board UART (/dev/ttyS1 stays): the port stays open and every byte sent in
  either direction is lost until `replug()`; only the link layer's timeouts can tell.

`reset_mcu()` presses the MCU's reset button through the callable the runner gives (QMP ``system_reset`` for
QEMU, a restart or a control command for the host port). If the firmware's socket goes away (QEMU restarted),
the emulator reconnects by itself.

Example, with the firmware already listening on ``uart.sock``::

    async with LinkEmulator("uart.sock", link="/tmp/glassbridge-mcu", faults="ber=1e-4,seed=7") as emu:
        print("connect to", emu.port)
        ...
        print(emu.stats().to_soc.faults.corrupted)
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

from glassbridge_rig.faults import Direction, FaultModel, FaultSpec
from glassbridge.lifetime import run_dir
from glassbridge_rig.line import BITS_PER_BYTE, Line, LineStats
from glassbridge_rig.pty_port import PtyPort
from glassbridge_rig.uart_socket import UartSocket

DEFAULT_BAUD = 921600

ResetMcu = Callable[[], Awaitable[None]]


class LinkEmulatorError(RuntimeError):
    """The emulator cannot do what was asked (no way to reset the MCU, a direction's task failed, ...)."""


@dataclasses.dataclass(frozen=True)
class EmulatorStats:
    """A snapshot of the emulator: per-direction accounting and the state of both ends."""

    baud: int
    latency_ms: float
    faults: str
    to_mcu: LineStats
    to_soc: LineStats
    plugged: bool
    port_open: bool  # some program has the SoC-side port open
    mcu_connected: bool
    mcu_connects: int  # 1 after the first connection; each MCU restart adds one
    resets: int
    unplugs: int

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON output."""
        return dataclasses.asdict(self)


class LinkEmulator:
    """A paced, faulty, unpluggable UART between a firmware's unix socket and a stable pty."""

    def __init__(self, uart_socket: str | os.PathLike[str], *, link: str | os.PathLike[str] | None = None,
                 baud: int = DEFAULT_BAUD, latency_ms: float = 0.0, faults: FaultSpec | str | None = None,
                 reset_mcu: ResetMcu | None = None) -> None:
        """
        uart_socket: the firmware's UART socket (QEMU's `-chardev socket,path=...`, the host port's --uart).
        link:        where the SoC connects: a symlink to the pty, kept across unplug/replug. Default: a file in a
                     private temporary folder (see `port`).
        baud:        line rate; each byte costs 10 bit-times (8N1).
        latency_ms:  fixed delay added to every byte, each way (a USB-serial adapter adds about 1 ms).
        faults:      a FaultSpec or its text form, e.g. "ber=1e-4,drop=1e-5,seed=7"; None for a clean line.
        reset_mcu:   how to press the MCU's reset button (the firmware runner provides it).
        """
        if baud <= 0:
            raise ValueError(f"baud must be a positive number of bits per second, got {baud}")
        if latency_ms < 0:
            raise ValueError(f"latency must not be negative, got {latency_ms} ms")
        self.baud = baud
        self.latency_ms = latency_ms
        self.fault_spec = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
        self._uart_path = os.fspath(uart_socket)
        self._link = link
        self._tmpdir: str | None = None
        self._pty: PtyPort | None = None
        self._reset_mcu = reset_mcu
        self._uart: UartSocket | None = None
        self._lines: dict[Direction, Line] = {}
        self._resets = 0
        self._unplugs = 0
        self._started = False

    # -- life cycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the pty and symlink, start connecting to the firmware and moving bytes."""
        if self._started:
            return
        loop = asyncio.get_running_loop()
        link = self._link
        if link is None:  # made here, not in __init__, so that an emulator never started leaves nothing behind
            # Marked with our pid: a killed run's folder is reclaimed by the next emulator that starts.
            self._tmpdir = os.fspath(run_dir("glassbridge-link-"))
            link = Path(self._tmpdir) / "tty"
        self._pty = PtyPort(link)
        try:
            self._pty.open()
        except BaseException:
            self._pty = None
            self._remove_tmpdir()
            raise
        self._uart = UartSocket(self._uart_path)
        self._uart.start()
        latency = self.latency_ms / 1e3
        ends = {Direction.TO_MCU: (self._pty.read, self._uart.write),
                Direction.TO_SOC: (self._uart.read, self._pty.write)}
        for direction, (read, write) in ends.items():
            model = FaultModel(self.fault_spec, direction.value) if self.fault_spec.applies_to(direction) else None
            line = Line(direction.value, read, write, baud=self.baud, latency_s=latency, faults=model,
                        clock=loop.time)
            line.start()
            self._lines[direction] = line
        self._started = True

    async def stop(self) -> None:
        """Stop moving bytes; remove the pty, the symlink and the temporary folder."""
        for line in self._lines.values():
            await line.stop()
        self._lines.clear()
        if self._uart is not None:
            await self._uart.close()
            self._uart = None
        if self._pty is not None:
            self._pty.close()
        self._remove_tmpdir()
        self._started = False

    def _remove_tmpdir(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    async def __aenter__(self) -> LinkEmulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def wait_mcu(self, timeout: float = 5.0) -> None:
        """Wait until the firmware's UART socket has accepted the emulator."""
        if self._uart is None:
            raise LinkEmulatorError("the link emulator is not started")
        await self._uart.wait_connected(timeout)

    # -- what the SoC connects to -----------------------------------------------------------------------------

    @property
    def _port(self) -> PtyPort:
        if self._pty is None:
            raise LinkEmulatorError("the link emulator is not started: its port exists only while it runs")
        return self._pty

    @property
    def port(self) -> str:
        """The path the SoC opens (a symlink to the current pty): stable across unplug/replug."""
        return os.fspath(self._port.link)

    @property
    def device(self) -> str | None:
        """The pty behind `port` right now (/dev/pts/N), None while unplugged."""
        return self._port.device

    @property
    def line_rate(self) -> float:
        """Bytes per second each way: baud / 10."""
        return self.baud / BITS_PER_BYTE

    # -- cable and reset button -------------------------------------------------------------------------------

    @property
    def plugged(self) -> bool:
        return self._port.plugged and not any(line.unplugged for line in self._lines.values())

    def unplug(self, mode: str = "vanish") -> None:
        """Pull the cable: "vanish" (the port disappears, like a USB-serial adapter) or "silent" (bytes are lost
        both ways but the port stays, like cut wires on an on-board UART). See the module's docstring."""
        if mode not in ("vanish", "silent"):
            raise ValueError(f"unplug mode must be 'vanish' or 'silent', got {mode!r}")
        self._unplugs += 1
        if mode == "vanish":
            self._port.vanish()
        else:
            for line in self._lines.values():
                line.unplugged = True

    def replug(self) -> None:
        """Put the cable back: the port (re)appears at the same path and bytes flow again."""
        for line in self._lines.values():
            line.unplugged = False
        self._port.reappear()

    async def reset_mcu(self) -> None:
        """Press the MCU's reset button (QMP system_reset under QEMU, restart for the host port)."""
        if self._reset_mcu is None:
            raise LinkEmulatorError("this emulator was given no way to reset the MCU; the firmware runner "
                                    "provides one (QMP for QEMU, a restart for the host port)")
        self._resets += 1
        await self._reset_mcu()

    # -- accounting -------------------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise if a direction stopped on an unexpected error (call it from a watchdog or a test)."""
        for line in self._lines.values():
            error = line.failed
            if error is not None:
                raise LinkEmulatorError(f"the {line.name} direction stopped: {error!r}") from error

    def stats(self) -> EmulatorStats:
        """Counters so far, copied: a snapshot stays as it was while the emulator runs on."""

        def snapshot(direction: Direction) -> LineStats:
            line = self._lines.get(direction)
            return copy.deepcopy(line.stats) if line is not None else LineStats()

        return EmulatorStats(
            baud=self.baud, latency_ms=self.latency_ms, faults=str(self.fault_spec),
            to_mcu=snapshot(Direction.TO_MCU), to_soc=snapshot(Direction.TO_SOC),
            plugged=self._pty is not None and self.plugged,
            port_open=self._pty is not None and self._pty.peer_open,
            mcu_connected=self._uart.connected if self._uart else False,
            mcu_connects=self._uart.connects if self._uart else 0,
            resets=self._resets, unplugs=self._unplugs)
