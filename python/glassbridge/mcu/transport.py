"""The UART under the link engine: a pyserial port driven from one thread, bridged to asyncio.

Why a thread: pyserial is blocking, and the link engine (glassbridge.protocol.link.Link, the same C code as the
firmware's) must be fed from one place with a steady clock. The link thread owns the port and the engine: it
reads whatever arrives, feeds the engine, writes the frames the engine produces, and runs the engine's timers
(retransmission, heartbeats, handshake) by sleeping in the port's read until the engine's next deadline. The
asyncio side only exchanges messages and events with it.

Any pyserial URL works (`/dev/ttyS1`, a pty from `glassbridge firmware run`, `socket://host:port`, `loop://`).
When the port disappears (a pulled USB-serial cable, the emulator unplugging) the thread closes it, reports
`PortLost`, keeps the engine's timers running (the engine notices the silence and goes back to its handshake,
keeping every unacknowledged message) and reopens the port every `reopen_interval` seconds, reporting
`PortBack`: the engine re-handshakes with the same MCU session and retransmits, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from glassbridge.protocol.errors import LinkError
from glassbridge.protocol.link import Link, LinkEvent

log = logging.getLogger(__name__)

#: The UART rate of the glasses' MCU link (8N1: 92,160 bytes/s). Both ends must agree; the emulator charges it.
DEFAULT_BAUD = 921600


@dataclass(frozen=True)
class PortLost:
    """The serial port went away (read or write failed); the thread keeps trying to reopen it."""

    port: str
    reason: str


@dataclass(frozen=True)
class PortBack:
    """The serial port opened again after a `PortLost`."""

    port: str


TransportEvent = LinkEvent | PortLost | PortBack


def now_ms() -> int:
    """The engine's clock: monotonic milliseconds (the binding wraps it to 32 bits)."""
    return time.monotonic_ns() // 1_000_000


class _Outgoing:
    """A message waiting to enter the engine's transmit queue, and the future of its caller."""

    __slots__ = ("channel", "data", "future")

    def __init__(self, channel: int, data: bytes, future: asyncio.Future[None]) -> None:
        self.channel = channel
        self.data = data
        self.future = future


class SerialTransport:
    """One link engine on one serial port, run by a thread, with an asyncio face.

    `events` (an asyncio.Queue) receives every LinkEvent from the engine plus PortLost/PortBack. `send()` waits
    until the engine has taken the message (backpressure: the engine's transmit queue is bounded; a message
    enters it as acknowledgements free room). Delivery to the MCU is then the engine's job: reliable and in
    order, across line noise and reconnects.
    """

    def __init__(
        self,
        port: str,
        link: Link,
        *,
        baudrate: int = DEFAULT_BAUD,
        reopen_interval: float = 0.2,
        open_port: Callable[[str, int], Any] | None = None,
    ) -> None:
        self.port = port
        self.link = link
        self.baudrate = baudrate
        self.reopen_interval = reopen_interval
        self._open_port = open_port or _open_serial
        self._serial: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.events: asyncio.Queue[TransportEvent] = asyncio.Queue()
        self._outgoing: collections.deque[_Outgoing] = collections.deque()
        self._lock = threading.Lock()  # guards _outgoing and the engine's send path against the thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.port_open = False
        self.fatal: BaseException | None = None

    # ---- asyncio side ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Opens the port (raises PortError from serial's message if it cannot) and starts the link thread."""
        from glassbridge.mcu.errors import PortError

        self._loop = asyncio.get_running_loop()
        try:
            self._serial = self._open_port(self.port, self.baudrate)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortError(f"cannot open {self.port}: {exc}") from exc
        self.port_open = True
        self._thread = threading.Thread(target=self._run, name=f"glassbridge-link {self.port}", daemon=True)
        self._thread.start()

    async def send(self, channel: int, data: bytes) -> None:
        """Hands one message to the engine; returns once it is queued there (not when it is acknowledged)."""
        if self._thread is None or self._loop is None:
            raise RuntimeError("SerialTransport.send() before start()")
        if self.fatal is not None:
            raise self.fatal
        future: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            self._outgoing.append(_Outgoing(channel, bytes(data), future))
        self._wake()
        await future

    async def close(self) -> None:
        """Stops the thread and closes the port. Unsent messages fail with LinkError."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 2.0)
        with self._lock:
            pending = list(self._outgoing)
            self._outgoing.clear()
        for item in pending:
            if not item.future.done():
                item.future.set_exception(LinkError("the transport was closed before the message was queued"))
        self._close_port()

    # ---- link thread ----------------------------------------------------------------------------------

    def _wake(self) -> None:
        """Makes a blocking read return early (posix serial ports support it; others poll every 5 ms)."""
        ser = self._serial
        cancel = getattr(ser, "cancel_read", None)
        if cancel is not None:
            try:
                cancel()
            except (OSError, serial.SerialException):
                pass

    def _post(self, event: TransportEvent) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.events.put_nowait, event)

    def _resolve(self, item: _Outgoing, error: BaseException | None) -> None:
        assert self._loop is not None

        def done() -> None:
            if item.future.done():
                return
            if error is None:
                item.future.set_result(None)
            else:
                item.future.set_exception(error)

        self._loop.call_soon_threadsafe(done)

    def _close_port(self) -> None:
        ser, self._serial = self._serial, None
        self.port_open = False
        if ser is not None:
            try:
                ser.close()
            except (OSError, serial.SerialException):
                pass

    def _lose_port(self, reason: str) -> None:
        log.warning("serial port %s lost: %s", self.port, reason)
        self._close_port()
        self._post(PortLost(self.port, reason))

    def _try_reopen(self) -> None:
        try:
            self._serial = self._open_port(self.port, self.baudrate)
        except (serial.SerialException, OSError, ValueError):
            return
        self.port_open = True
        log.info("serial port %s is back", self.port)
        self._post(PortBack(self.port))

    def _feed_outgoing(self, now: int) -> None:
        """Moves waiting messages into the engine while it has room; the rest wait for acknowledgements."""
        from glassbridge.protocol.errors import LinkQueueFull

        while True:
            with self._lock:
                if not self._outgoing:
                    return
                item = self._outgoing[0]
                try:
                    self.link.send(item.channel, item.data, now)
                except LinkQueueFull:
                    return
                except LinkError as exc:  # too large, bad channel, incompatible peer: the caller's problem
                    self._outgoing.popleft()
                    self._resolve(item, exc)
                    continue
                self._outgoing.popleft()
            self._resolve(item, None)

    def _run(self) -> None:
        try:
            self._loop_body()
        except BaseException as exc:  # a bug here must not hang every waiting coroutine
            log.exception("link thread for %s failed", self.port)
            self.fatal = exc
            with self._lock:
                pending = list(self._outgoing)
                self._outgoing.clear()
            for item in pending:
                self._resolve(item, LinkError(f"the link thread stopped: {exc!r}"))

    def _loop_body(self) -> None:
        link = self.link
        next_reopen = 0.0
        while not self._stop.is_set():
            now = now_ms()
            if self._serial is not None:
                # Sleep in the read until data, the engine's deadline or a wake-up from send()/close().
                wait = max(0, link.next_deadline(now) - now) / 1000.0
                wait = min(wait, 0.05 if hasattr(self._serial, "cancel_read") else 0.005)
                try:
                    self._serial.timeout = wait
                    data = self._serial.read(max(1, self._serial.in_waiting))
                    if data and self._serial.in_waiting:
                        data += self._serial.read(self._serial.in_waiting)
                except (serial.SerialException, OSError, TypeError) as exc:
                    # TypeError: pyserial reading a closed fd after the device vanished.
                    self._lose_port(str(exc))
                    data = b""
                now = now_ms()
                if data:
                    link.receive(data, now)
            else:
                time.sleep(min(0.01, max(0, link.next_deadline(now) - now) / 1000.0))
                now = now_ms()
                if time.monotonic() >= next_reopen:
                    next_reopen = time.monotonic() + self.reopen_interval
                    self._try_reopen()
            self._feed_outgoing(now)
            while (frame := link.poll_tx(now)) is not None:
                if self._serial is None:
                    continue  # the wire is gone: the engine retransmits what this frame carried
                try:
                    self._serial.write(frame)
                except (serial.SerialException, OSError) as exc:
                    self._lose_port(str(exc))
            for event in link.poll_events():
                self._post(event)
            self._feed_outgoing(now)


def _open_serial(port: str, baudrate: int) -> Any:
    """Opens any pyserial URL in raw binary mode with no flow control (the link engine paces itself)."""
    return serial.serial_for_url(port, baudrate=baudrate, timeout=0, write_timeout=2.0)
