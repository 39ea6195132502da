"""The SoC's end of the emulated UART: a pseudo-terminal behind a stable symlink, which can be pulled out.

The emulator keeps the pty's master side; the SoC (glassbridge's transport, `screen`, `pyserial`) opens the
path printed by `glassbridge firmware run`, a symlink to the current /dev/pts/N, exactly as it would open
/dev/ttyS1 or /dev/ttyUSB0 on a dev kit.

Facts this design rests on (measured on Linux with pyserial 3.5):
- While nobody has the slave open, the master polls POLLHUP and reads fail with EIO; writes still succeed (about
  20 KB) but pyserial flushes them when it opens the port. So bytes that reach a closed port are discarded here
  and counted, as a real UART driver does with a port nobody opened.
- With the slave open, the master accepts about 16 KB before EAGAIN: when the reader is slow the emulator waits
  (backpressure), it never drops. The other way, the SoC can write about 12 KB into the pty before its write
  blocks: that much can queue ahead of the line (130 ms at 921600), where a 16550 driver's buffer holds 4 KB.
  A sender's retransmission timer must allow for such queueing, as on real hardware.
- The slave's termios (raw, no echo) survive closing and reopening, so setting raw mode once at creation keeps a
  program that does not configure the port (`cat`) from seeing echoed or cooked bytes.
- Closing the master is what unplugging a USB-serial adapter looks like to the program holding the port:
  pyserial's read raises "device reports readiness to read but returned no data (device disconnected ...)",
  its write fails with EIO, and /dev/pts/N disappears. `vanish()` does that and removes the symlink;
  `reappear()` makes a new pty (its number may differ) and points the same symlink at it, as udev's
  /dev/serial/by-id links follow a replugged adapter.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import select
import tty
from pathlib import Path

# How often a closed or absent port is looked at again. A poll is one cheap syscall; 5 ms is far below the
# time any program takes between opening a port and sending its first frame.
_CLOSED_POLL_S = 0.005


class PortInUseError(RuntimeError):
    """Another emulator holds the symlink path."""


class PtyPort:
    """A pty whose slave path (through `link`) stays the same across unplug and replug."""

    def __init__(self, link: str | os.PathLike[str]) -> None:
        self.link = Path(link)
        self._lock_fd: int | None = None
        self._master: int | None = None
        self._device: str | None = None
        self._poll: select.poll | None = None
        self._waiters: set[asyncio.Future[None]] = set()

    # -- life cycle -------------------------------------------------------------------------------------------

    def open(self) -> None:
        """Take the symlink path (refusing one another live emulator holds) and create the pty."""
        self._take_link()
        self.reappear()

    def close(self) -> None:
        """Remove the pty and the symlink, and release the path."""
        self.vanish()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
            try:
                self._lock_path.unlink()
            except FileNotFoundError:
                pass

    @property
    def _lock_path(self) -> Path:
        return self.link.with_name(self.link.name + ".lock")

    def _take_link(self) -> None:
        """A lock file beside the symlink, held while we live: the kernel releases it if we die, so a symlink
        left behind by a killed emulator is replaced, and one held by a running emulator is not."""
        self.link.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise PortInUseError(
                f"{self.link} is in use by another running link emulator (lock {self._lock_path} is held); "
                "stop it or choose another path with --link") from None
        if self.link.exists() or self.link.is_symlink():
            if not self.link.is_symlink():
                os.close(fd)
                raise PortInUseError(f"{self.link} exists and is not a symlink; the emulator will not replace it. "
                                     "Remove it or choose another path with --link")
            self.link.unlink()  # stale: left by an emulator that was killed
        self._lock_fd = fd

    # -- plugging ---------------------------------------------------------------------------------------------

    @property
    def plugged(self) -> bool:
        return self._master is not None

    @property
    def device(self) -> str | None:
        """The current /dev/pts/N (None while unplugged). Use `link` to connect: it survives a replug."""
        return self._device

    def reappear(self) -> None:
        """Plug in: a fresh pty in raw mode, the symlink pointed at it atomically."""
        if self._master is not None:
            return
        master, slave = os.openpty()
        try:
            device = os.ttyname(slave)
            tty.setraw(slave)
        finally:
            # Not keeping the slave open is what lets us see (POLLHUP) whether the SoC has the port open.
            os.close(slave)
        os.set_blocking(master, False)
        fcntl.fcntl(master, fcntl.F_SETFD, fcntl.FD_CLOEXEC)  # not inherited by QEMU or the host port
        poll = select.poll()
        poll.register(master, select.POLLHUP)
        tmp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        os.symlink(device, tmp)
        os.replace(tmp, self.link)
        self._master, self._device, self._poll = master, device, poll

    def vanish(self) -> None:
        """Unplug: the pty goes away (the program holding it gets an error) and so does the symlink."""
        master = self._master
        if master is None:
            return
        loop = _running_loop()
        if loop is not None:
            loop.remove_reader(master)
            loop.remove_writer(master)
        self._wake_waiters()
        self._master, self._poll = None, None
        os.close(master)
        try:
            if os.readlink(self.link) == self._device:
                self.link.unlink()
        except OSError:
            pass
        self._device = None

    # -- I/O --------------------------------------------------------------------------------------------------

    @property
    def peer_open(self) -> bool:
        """Whether some program has the port open right now."""
        if self._poll is None:
            return False
        return not any(ev & select.POLLHUP for _fd, ev in self._poll.poll(0))

    async def read(self, max_bytes: int) -> bytes:
        """The next bytes the SoC wrote; waits while the port is closed or unplugged.

        Reads even after the SoC closed the port: what it wrote just before closing (after a tcdrain, say) is
        still in the master's buffer, and Linux hands it out before reporting EIO."""
        while True:
            master = self._master
            if master is None:
                await asyncio.sleep(_CLOSED_POLL_S)
                continue
            try:
                data = os.read(master, max_bytes)
            except BlockingIOError:
                if self.peer_open:
                    await self._wait(master, readable=True)
                else:  # closed and empty: POLLHUP would wake a reader at once, forever, so poll slowly
                    await asyncio.sleep(_CLOSED_POLL_S)
                continue
            except OSError as exc:
                if exc.errno != errno.EIO:  # EIO: nobody has the port open and nothing is left to read
                    raise
                await asyncio.sleep(_CLOSED_POLL_S)
                continue
            if data:
                return data
            await asyncio.sleep(_CLOSED_POLL_S)

    async def write(self, data: bytes) -> int:
        """Hand bytes to the SoC; waits while its buffer is full. Returns how many were delivered: fewer than
        len(data) only if the port was closed or unplugged, and the rest is then discarded."""
        view = memoryview(data)
        done = 0
        while done < len(data):
            master = self._master
            if master is None or not self.peer_open:
                return done
            try:
                done += os.write(master, view[done:])
            except BlockingIOError:
                await self._wait(master, readable=False)
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                return done
        return done

    async def _wait(self, fd: int, *, readable: bool) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        add, remove = (loop.add_reader, loop.remove_reader) if readable else (loop.add_writer, loop.remove_writer)
        add(fd, ready)
        self._waiters.add(fut)
        try:
            await fut
        finally:
            self._waiters.discard(fut)
            if self._master == fd:
                remove(fd)

    def _wake_waiters(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
