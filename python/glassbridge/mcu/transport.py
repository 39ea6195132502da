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

The writer keeps the queue in front of the line short (about 4 ms of line, `queue_ahead`): it takes the next
frame from the engine only when the port's output queue (TIOCOUTQ where the driver reports it; a pty reports
0, so also what the line cannot have carried yet at baudrate / 10 bytes a second) is below that. A frame still
in the engine can become, or carry, an acknowledgement; one already written cannot be overtaken. Writing the
whole window (16 x 1 KB) at once queued 175 ms in front of the acknowledgement of every MCU reply, and the MCU
sent its replies again (SPEC.md 6.3).

Nothing waits for ever: `send()` waits for room in the engine's transmit queue (backpressure) only while the
link makes progress (the MCU acknowledges something, a message enters the queue); after `stall_timeout` seconds
without any it raises LinkLost (the link is down) or LinkStalled (it is up but the line loses nearly everything),
naming what the line did meanwhile: frames sent again, frames from the MCU with a bad CRC.

The port is opened exclusively on POSIX (pyserial's `exclusive=True`, an advisory flock): two programs driving
one UART would corrupt each other's frames, so the second one gets PortError "in use" naming the port.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import errno
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from glassbridge.protocol.client import now_ms
from glassbridge.protocol.errors import LinkError, LinkLost, LinkStalled, PeerError
from glassbridge.protocol.link import Link, LinkEvent

log = logging.getLogger(__name__)

#: The UART rate of the glasses' MCU link (8N1: 92,160 bytes/s). Both ends must agree; the emulator charges it.
DEFAULT_BAUD = 921600
#: Line time (seconds) the writer keeps queued in front of the line at most before it takes another frame from
#: the engine (SPEC.md 6.3): an acknowledgement waits behind this plus the frame on the line, no more.
QUEUE_AHEAD_S = 0.004
#: Seconds a write may wait for the OS (pyserial's write_timeout), and the driver's output queue may not move.
WRITE_TIMEOUT = 2.0
#: Seconds `send()` waits for room in the engine's queue while nothing at all gets through before it gives up.
DEFAULT_STALL_TIMEOUT = 20.0


def check_positive(name: str, value: object, *, integer: bool = False) -> None:
    """Raises ValueError unless `value` is a finite number above 0 (an int when `integer`): a baud of 0, a timeout
    of -1, inf (waits for ever) or nan (compares false with everything, so every bound check passes)."""
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise ValueError(f"{name} must be {'a whole' if integer else 'a'} number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number above 0, got {value!r}")


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
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        queue_ahead: float = QUEUE_AHEAD_S,
    ) -> None:
        check_positive("baudrate", baudrate, integer=True)
        check_positive("queue_ahead", queue_ahead)
        check_positive("reopen_interval", reopen_interval)
        check_positive("stall_timeout", stall_timeout)
        self.port = port
        self.link = link
        self.baudrate = baudrate
        self.reopen_interval = reopen_interval
        self.stall_timeout = stall_timeout
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
        # Progress (link thread writes, asyncio side reads; a float and a reference: atomic under the GIL): when
        # the engine's queue last moved (an acknowledgement freed room, a message entered it), and the engine's
        # counters at that moment, so a stall can say what the line did since.
        self._progress_at = time.monotonic()
        self._progress_stats: dict[str, int] = {}
        self._progress_mark: tuple[int, int] = (-1, -1)
        self._fed = 0  # messages moved into the engine
        # The writer (_write_frames): when the line will have carried everything written so far, at 8N1.
        self._byte_rate = baudrate / 10.0
        self._line_free_at = 0.0
        self._queue_limit = max(1.0, self._byte_rate * queue_ahead)
        self._held_back = False
        self._reported = 0  # the driver's output queue at the last look, and since when it has not shrunk
        self._stuck_since = time.monotonic()

    # ---- asyncio side ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Opens the port (raises PortError from serial's message if it cannot) and starts the link thread."""
        from glassbridge.mcu.errors import PortError

        self._loop = asyncio.get_running_loop()
        try:
            self._serial = self._open_port(self.port, self.baudrate)
        except (serial.SerialException, OSError, ValueError) as exc:
            if getattr(exc, "errno", None) in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES) and \
                    "lock" in str(exc).lower():
                raise PortError(f"cannot open {self.port}: port in use: another program holds it (exclusive "
                                f"lock); stop that program or use another port ({exc})") from exc
            raise PortError(f"cannot open {self.port}: {exc}") from exc
        self.port_open = True
        self._note_progress()
        self._thread = threading.Thread(target=self._run, name=f"glassbridge-link {self.port}", daemon=True)
        self._thread.start()

    async def send(self, channel: int, data: bytes) -> None:
        """Hands one message to the engine; returns once it is queued there (not when it is acknowledged).

        Waits for room (backpressure) while the link makes progress; after `stall_timeout` seconds without any,
        the message is withdrawn and LinkLost (link down) or LinkStalled (up, nothing gets through) says what the
        line did meanwhile."""
        if self._thread is None or self._loop is None:
            raise RuntimeError("SerialTransport.send() before start()")
        if self.fatal is not None:
            raise self.fatal
        future: asyncio.Future[None] = self._loop.create_future()
        item = _Outgoing(channel, bytes(data), future)
        with self._lock:
            self._outgoing.append(item)
        self._wake()
        while True:
            idle = time.monotonic() - self._progress_at
            try:
                await asyncio.wait_for(asyncio.shield(future), max(0.05, self.stall_timeout - idle))
                return
            except asyncio.TimeoutError:
                pass
            idle = time.monotonic() - self._progress_at
            if idle < self.stall_timeout:
                continue
            with self._lock:
                withdrawn = item in self._outgoing
                if withdrawn:
                    self._outgoing.remove(item)
            if not withdrawn:  # the engine took it just now
                await future
                return
            raise self.stall_error(idle)

    def stall_error(self, idle: float) -> PeerError:
        """The error for `idle` seconds without progress: what the link saw meanwhile, in the line's terms."""
        from glassbridge.protocol.link import LinkState

        waiting = len(self._outgoing) + 1
        quality = self.line_report(self._progress_stats)
        state = self.link.state
        if state != LinkState.UP:
            why = {LinkState.HANDSHAKE: "no handshake with the MCU", LinkState.DOWN: "the link is down",
                   LinkState.INCOMPATIBLE: "the MCU speaks an incompatible protocol"}[state]
            return LinkLost(
                f"nothing got through to the MCU on {self.port} for {idle:.1f} s ({waiting} messages waiting): "
                f"{why}; {quality}", peer="MCU")
        return LinkStalled(
            f"nothing got through to the MCU on {self.port} for {idle:.1f} s although the link is up ({waiting} "
            f"messages waiting): {quality}; the line loses nearly every frame: check the wiring, noise, the baud",
            peer="MCU")

    def line_report(self, since: dict[str, int]) -> str:
        return line_report(self.link, since)

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

    def _note_progress(self) -> None:
        self._progress_stats = dataclasses.asdict(self.link.stats)
        self._progress_at = time.monotonic()

    def _check_progress(self) -> None:
        """Progress = the engine's queue moved: a message taken in, or one acknowledged (fewer pending)."""
        mark = (self._fed, self.link.tx_pending)
        if mark != self._progress_mark:
            self._progress_mark = mark
            self._note_progress()
        elif not self._outgoing:
            self._progress_at = time.monotonic()  # nobody waits: nothing can be stalled

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
                self._fed += 1
            self._resolve(item, None)

    # ---- the writer: a short queue in front of the line ------------------------------------------------

    def _queued(self) -> float:
        """Bytes written to the port that the line has not carried yet: the OS's output queue where the driver
        reports it (TIOCOUTQ, pyserial's out_waiting: a real UART), and never less than what the line, at
        baudrate / 10 bytes a second (8N1), cannot have carried since they were written (a pty reports 0)."""
        now = time.monotonic()
        model = max(0.0, (self._line_free_at - now) * self._byte_rate)
        try:
            reported = int(getattr(self._serial, "out_waiting", 0) or 0)
        except (serial.SerialException, OSError, TypeError, ValueError):
            reported = 0
        if reported < self._reported or reported == 0:
            self._stuck_since = now
        self._reported = reported
        return max(model, float(reported))

    def _room_in(self) -> float:
        """Seconds until the queue in front of the line is short enough for the next frame."""
        return max(0.0, (self._queued() - self._queue_limit) / self._byte_rate)

    def _write_frames(self, now: int) -> None:
        """Writes the engine's frames while the queue in front of the line is short (SPEC.md 6.3).

        A frame the engine has not yet produced can still become an acknowledgement (or carry one): whatever
        the engine emits next leaves after the bytes already queued. Writing every frame the window allows
        (16 x 1 KB) queued 16 KB, 175 ms at 921600 baud, in front of the acknowledgement of the MCU's reply, and
        the MCU, whose RTO is 20 ms after a few quick round trips, sent the reply again. So a frame is taken
        from the engine only while less than `queue_ahead` of line time (4 ms: 368 bytes at 921600 baud) waits
        for the line, as Linux's byte queue limits do for a NIC: an acknowledgement then waits behind at most
        the frame just written plus that (15 ms with 1 KB frames at 921600 baud). The line stays busy as long as
        the thread comes back within `queue_ahead`; it sleeps until then (no polling)."""
        self._held_back = False
        if self._serial is not None and self._queued() >= self._queue_limit and \
                time.monotonic() - self._stuck_since > WRITE_TIMEOUT:
            # The driver's queue has not shrunk at all for that long (flow control holding the line, a wedged
            # adapter): what a blocking write used to time out on. The port counts as lost and is reopened.
            self._stuck_since = time.monotonic()
            self._lose_port(f"nothing written left the output queue for {WRITE_TIMEOUT:g} s ({self._reported} "
                            "bytes waiting): flow control holds the line, or the adapter is wedged")
        while self._serial is None or self._queued() < self._queue_limit:
            frame = self.link.poll_tx(now)
            if frame is None:
                return
            if self._serial is None:
                continue  # the wire is gone: the engine retransmits what this frame carried
            try:
                self._serial.write(frame)
            except (serial.SerialException, OSError) as exc:
                self._lose_port(str(exc))
                continue
            t = time.monotonic()
            self._line_free_at = max(t, self._line_free_at) + len(frame) / self._byte_rate
        self._held_back = True

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
                if self._held_back:
                    # The engine has frames for the line (its deadline is now), the queue in front of the line is
                    # full: look again when there is room for one (or something arrives).
                    wait = max(0.0005, self._room_in())
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
            self._write_frames(now)
            for event in link.poll_events():
                self._post(event)
            self._feed_outgoing(now)
            self._check_progress()


def line_report(link: Link, since: dict[str, int]) -> str:
    """What the line did since the counters `since` (a dict of link.stats), as a phrase: data frames sent and how
    many of them were retransmissions (lost), frames from the peer that arrived good, with a bad CRC, malformed."""
    now = dataclasses.asdict(link.stats)
    d = {k: v - since.get(k, 0) for k, v in now.items()}
    sent = d["data_frames_tx"]
    lost = f"{d['retransmits']} of {sent} data frames sent were retransmissions" if sent else "no data frame sent"
    if sent:
        lost += f" ({100 * d['retransmits'] / sent:.0f} % lost)"
    return (f"{lost}; from the MCU {d['frames_rx']} good frames, {d['crc_errors']} with a bad CRC, "
            f"{d['framing_errors']} malformed")


def _open_serial(port: str, baudrate: int) -> Any:
    """Opens any pyserial URL in raw binary mode with no flow control (the link engine paces itself), exclusively
    on POSIX (a second program opening the same device gets an error instead of half of every frame)."""
    options: dict[str, Any] = {"exclusive": True} if os.name == "posix" else {}
    return serial.serial_for_url(port, baudrate=baudrate, timeout=0, write_timeout=WRITE_TIMEOUT, **options)
