"""SerialTransport's writer keeps the queue in front of the line short (SPEC.md 6.3): an acknowledgement the
engine emits waits behind at most `queue_ahead` of line time plus the frame just written, never behind the
whole window (16 x 1 KB = 175 ms at 921600 baud, which made the MCU send its replies again).

The far end is an MCU-role engine behind a fake serial port (tests.unit.test_mcu_transport.PeerPort) that timestamps
every write. Two kinds of port: one that reports its output queue (a real UART's TIOCOUTQ, pyserial's
out_waiting), here a line that drains at a quarter of the baud rate (flow control, a slow adapter), and one that
reports nothing (a pty). The bounds are computed here from the bytes and times the fake saw.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from glassbridge.mcu.transport import QUEUE_AHEAD_S, SerialTransport
from glassbridge.protocol.link import Link, Role
from tests.unit.test_mcu_transport import PeerPort, until_up

BAUD = 921600
RATE = BAUD / 10  # bytes/s at 8N1


class TimedPort(PeerPort):
    """PeerPort that records (time, bytes) of every write and, when `drain` is set, reports as out_waiting what a
    line draining `drain` bytes a second has not carried yet."""

    def __init__(self, drain: float | None) -> None:
        super().__init__()
        self.drain = drain
        self.writes: list[tuple[float, int, int]] = []  # (monotonic time, length, out_waiting just before)
        self._line_free = 0.0

    def _backlog(self, now: float) -> int:
        return 0 if self.drain is None else int(max(0.0, self._line_free - now) * self.drain)

    @property
    def out_waiting(self) -> int:
        return self._backlog(time.monotonic())

    def write(self, frame: bytes) -> int:
        now = time.monotonic()
        self.writes.append((now, len(frame), self._backlog(now)))
        if self.drain is not None:
            self._line_free = max(now, self._line_free) + len(frame) / self.drain
        return super().write(frame)


async def _send_bulk(port: TimedPort, messages: int) -> None:
    link = Link(role=Role.SOC, max_message=1024, tx_queue_bytes=32 * 1024)
    transport = SerialTransport("peer-port", link, open_port=lambda _p, _b: port, baudrate=BAUD)
    await transport.start()
    try:
        await until_up(transport)
        port.writes.clear()
        for _ in range(messages):
            await transport.send(3, bytes(1000))
        while transport.link.tx_pending:
            await asyncio.sleep(0.005)
    finally:
        await transport.close()


@pytest.mark.parametrize("drain", [RATE / 4, None], ids=["reported-queue", "pty-reports-nothing"])
def test_the_writer_never_queues_more_than_queue_ahead_plus_one_frame(drain: float | None) -> None:
    port = TimedPort(drain)
    asyncio.run(asyncio.wait_for(_send_bulk(port, 40), 30))
    assert port.delivered == 40
    limit = QUEUE_AHEAD_S * RATE
    big = [w for w in port.writes if w[1] > 500]
    assert len(big) >= 40
    if drain is not None:
        # The port's own report is obeyed: a frame goes only while less than queue_ahead of line waits.
        assert all(backlog < limit for _, _, backlog in port.writes), [w for w in port.writes if w[2] >= limit][:3]
        # So the whole transfer took the slow line's time, not the baud rate's (the queue was not filled at once).
        span = port.writes[-1][0] - port.writes[0][0]
        sent = sum(n for _, n, _ in port.writes[:-1])
        assert span >= 0.9 * sent / drain, (span, sent / drain)
    # At the baud rate (all a pty allows to know), at no write had more been written than the line could carry
    # since the first one, plus queue_ahead and one frame: the whole window (16 KB) never went at once.
    t0 = port.writes[0][0]
    written = 0
    for t, n, _ in port.writes:
        assert written <= (t - t0) * RATE + limit + 1100, (t - t0, written)
        written += n


def test_queue_ahead_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_ahead"):
        SerialTransport("/dev/null", Link(role=Role.SOC), queue_ahead=0)


class StuckPort(PeerPort):
    """A port whose driver queue never drains (flow control holding the line): out_waiting stays at 5000."""

    out_waiting = 5000


def test_a_driver_queue_that_never_drains_counts_as_a_lost_port() -> None:
    """What a blocking write used to time out on (pyserial's write_timeout, 2 s): the writer never blocks, so it
    watches the driver's queue instead, and reports PortLost when it has not shrunk for that long."""
    from glassbridge.mcu.transport import WRITE_TIMEOUT, PortLost

    port = StuckPort()

    async def body() -> tuple[float, str]:
        transport = SerialTransport("stuck-port", Link(role=Role.SOC), open_port=lambda _p, _b: port)
        started = time.monotonic()  # before start(): the first write, and the stuck clock, may begin inside it
        await transport.start()
        try:
            while True:
                event = await asyncio.wait_for(transport.events.get(), 10)
                if isinstance(event, PortLost):
                    return time.monotonic() - started, event.reason
        finally:
            await transport.close()

    elapsed, reason = asyncio.run(body())
    assert WRITE_TIMEOUT <= elapsed < WRITE_TIMEOUT + 3.0, elapsed  # slack for emulated cores (qemu-user)
    assert "output queue" in reason and "5000 bytes" in reason, reason
