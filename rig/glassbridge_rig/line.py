"""One direction of an emulated UART: a line clock at the configured baud, a fixed latency, and faults.

Every byte costs 10 bit-times (start bit, 8 data bits, stop bit: 8N1), so 921600 baud carries 92,160 bytes/s.
The line is a clock, not a sleep per byte: a chunk read from the sender occupies the line from
``max(now, line_free)`` for ``len * 10 / baud`` seconds, and each of its bytes reaches the receiver when its
last bit has been sent, plus the latency. Delivery wakes at most about once a millisecond and hands over every
byte whose time has come, so pacing is exact on average and never ahead of the line.

The line reads from its sender only a few milliseconds ahead of the clock (``horizon``) and holds at most what
the latency and that horizon need (``capacity``). A slow receiver therefore stops the reading, and the sender
(the SoC's write, the firmware's socket) waits: backpressure, never a silent loss. Losses happen only where a
real UART loses bytes: faults, a pulled cable, a port nobody has open, an MCU that is not running.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from glassbridge_rig.faults import FaultCounters, FaultModel

BITS_PER_BYTE = 10  # 8N1: start bit + 8 data bits + stop bit

# Shortest pause between two deliveries within one chunk. asyncio's timers resolve to 1 ms (epoll), so a
# shorter pause would cost as much and deliver less.
_GRANULARITY_S = 0.001

Reader = Callable[[int], Awaitable[bytes]]
Writer = Callable[[bytes], Awaitable[int]]


@dataclass
class LineStats:
    """What one direction carried. Bytes flow: received -> (faults) -> on the line -> delivered or discarded."""

    received: int = 0  # bytes taken from the sender
    lost_unplugged: int = 0  # bytes sent while the cable was pulled (silent unplug): never reached the line
    on_line: int = 0  # bytes put on the line after faults
    delivered: int = 0  # bytes handed to the receiver
    discarded: int = 0  # bytes that arrived while nobody was listening (port closed, MCU down)
    line_busy_s: float = 0.0  # line time charged so far: at most elapsed time, by construction
    faults: FaultCounters = field(default_factory=FaultCounters)


class _Chunk:
    """Bytes on the line: the i-th (0-based) arrives at ``start + (i + 1) * period + latency``."""

    __slots__ = ("data", "start", "period", "taken")

    def __init__(self, data: bytes, start: float, period: float) -> None:
        self.data, self.start, self.period, self.taken = data, start, period, 0

    def due(self, now: float, latency: float) -> int:
        """How many bytes have arrived by `now` (including those already taken)."""
        sent = math.floor((now - latency - self.start) / self.period + 1e-9)
        return max(0, min(len(self.data), sent))

    def next_arrival(self, latency: float) -> float:
        return self.start + (self.taken + 1) * self.period + latency

    def last_arrival(self, latency: float) -> float:
        return self.start + len(self.data) * self.period + latency


class Line:
    """Moves bytes from `read` to `write` at line rate. Run it with `start()`; `stop()` cancels."""

    def __init__(self, name: str, read: Reader, write: Writer, *, baud: int, latency_s: float,
                 faults: FaultModel | None, clock: Callable[[], float], horizon_s: float = 0.004) -> None:
        if baud <= 0:
            raise ValueError(f"baud must be positive, got {baud}")
        if latency_s < 0:
            raise ValueError(f"latency must not be negative, got {latency_s * 1e3:g} ms")
        self.name = name
        self.byte_time = BITS_PER_BYTE / baud
        self.latency = latency_s
        self.stats = LineStats()
        if faults is not None:
            self.stats.faults = faults.counters
        self.unplugged = False
        self._read, self._write, self._faults, self._clock = read, write, faults, clock
        self._horizon = horizon_s
        rate = baud / BITS_PER_BYTE
        # Read sizes: about one horizon of line time (368 B at 921600), so a read never books the line far ahead.
        self._read_max = max(16, int(rate * horizon_s))
        # In the pipe at most: what arrives during the latency, plus a horizon, plus one read.
        self._capacity = int(rate * (latency_s + horizon_s)) + 2 * self._read_max
        self._line_free = 0.0
        self._chunks: deque[_Chunk] = deque()
        self._in_pipe = 0
        self._have_data = asyncio.Event()
        self._have_room = asyncio.Event()
        self._have_room.set()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump(), name=f"line {self.name} pump"),
                       loop.create_task(self._deliver(), name=f"line {self.name} deliver")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []

    @property
    def failed(self) -> BaseException | None:
        """The exception that stopped a task of this line, if one did (a bug or an unexpected OS error)."""
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def _pump(self) -> None:
        """Take bytes from the sender, apply faults, book them on the line clock."""
        while True:
            while self._in_pipe >= self._capacity:
                self._have_room.clear()
                await self._have_room.wait()
            ahead = self._line_free - self._clock()
            if ahead > self._horizon:
                await asyncio.sleep(ahead - self._horizon)
                continue
            data = await self._read(min(self._read_max, self._capacity - self._in_pipe))
            self.stats.received += len(data)
            if self.unplugged:
                self.stats.lost_unplugged += len(data)
                continue
            sent = len(data)  # bytes the sender put on the wire: dropped or cut ones took line time too
            if self._faults is not None:
                data = self._faults.apply(data)
            # A duplicated byte takes a byte-time of its own, so the receiver never gets more than the line rate.
            slots = max(sent, len(data))
            now = self._clock()
            start = max(now, self._line_free)
            self._line_free = start + slots * self.byte_time
            self.stats.line_busy_s += slots * self.byte_time
            if not data:
                continue
            self.stats.on_line += len(data)
            self._chunks.append(_Chunk(data, start, slots * self.byte_time / len(data)))
            self._in_pipe += len(data)
            self._have_data.set()

    async def _deliver(self) -> None:
        """Hand each byte to the receiver once its time has come; wait for the receiver if it is slow.

        Everything due at a wake-up goes out in one write, and wake-ups are at least `_GRANULARITY_S` apart
        unless a chunk (typically one frame) completes sooner: a real driver hands over a FIFO's or a DMA
        buffer's worth at a time too, and it keeps the cost near one write per millisecond. Waking for every
        byte (10.8 us apart at 921600) would spin: the loop itself takes about that long."""
        while True:
            if not self._chunks:
                self._have_data.clear()
                await self._have_data.wait()
                continue
            now = self._clock()
            pieces: list[bytes] = []
            for chunk in self._chunks:
                due = chunk.due(now, self.latency)
                if due > chunk.taken:
                    pieces.append(chunk.data[chunk.taken:due])
                    chunk.taken = due
                if chunk.taken < len(chunk.data):
                    break  # later chunks start after this one ends: none of their bytes is due yet
            while self._chunks and self._chunks[0].taken == len(self._chunks[0].data):
                self._chunks.popleft()
            if pieces:
                batch = b"".join(pieces)
                written = await self._write(batch)
                self.stats.delivered += written
                self.stats.discarded += len(batch) - written
                self._in_pipe -= len(batch)
                self._have_room.set()
            if self._chunks:
                head, now = self._chunks[0], self._clock()
                wake = min(head.last_arrival(self.latency),
                           max(head.next_arrival(self.latency), now + _GRANULARITY_S))
                await asyncio.sleep(max(wake - now, 0.0))
