"""SerialTransport: sends wait for room only while the link makes progress, then fail naming the line's losses;
the port is opened exclusively; rates and times that would wait for ever are refused.

The far end is a second link engine (the MCU's role) behind a fake serial port, driven from the transport's own
reads; the fake can lose every data frame the SoC sends, a line that lets short acknowledgements and pings
through but no data (what a burst of noise does to long frames), so the link stays up while nothing progresses.
"""

from __future__ import annotations

import asyncio
import os
import pty
import time
from typing import Any

import pytest

from glassbridge.mcu.errors import PortError
from glassbridge.mcu.transport import SerialTransport
from glassbridge.protocol.errors import LinkLost, LinkStalled
from glassbridge.protocol.link import Link, LinkState, LinkUp, MessageReceived, Role

FLAG_DATA = 0x01  # SPEC.md 2.1


def cobs_decode(data: bytes) -> bytes:
    """COBS as in SPEC.md 3.1 (Cheshire and Baker), written out here."""
    out, i = bytearray(), 0
    while i < len(data):
        code = data[i]
        out += data[i + 1 : i + code]
        i += code
        if code != 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


class PeerPort:
    """A serial port whose far end is an MCU-role engine. `drop_data`: every data frame from the SoC is lost."""

    def __init__(self, *, drop_data: bool = False, silent: bool = False) -> None:
        self.peer = Link(role=Role.MCU, firmware_version="peer", session=0x5EED0042)
        self.t0 = time.monotonic()
        self.inbox = bytearray()
        self.timeout: float | None = 0
        self.drop_data = drop_data
        self.silent = silent  # nothing arrives at the peer at all
        self.dropped = 0
        self.delivered = 0

    def _now(self) -> int:
        return int((time.monotonic() - self.t0) * 1000)

    def _pump(self) -> None:
        now = self._now()
        while (frame := self.peer.poll_tx(now)) is not None:
            self.inbox += frame
        self.delivered += sum(isinstance(e, MessageReceived) for e in self.peer.poll_events())

    @property
    def in_waiting(self) -> int:
        self._pump()
        return len(self.inbox)

    def read(self, n: int) -> bytes:
        self._pump()
        if not self.inbox and self.timeout:
            time.sleep(min(self.timeout, 0.002))
            self._pump()
        out = bytes(self.inbox[:n])
        del self.inbox[:n]
        return out

    def write(self, frame: bytes) -> int:
        raw = cobs_decode(frame.rstrip(b"\x00"))
        if self.silent or (self.drop_data and raw[1] & FLAG_DATA):
            self.dropped += 1
            return len(frame)
        self.peer.receive(frame, self._now())
        return len(frame)

    def cancel_read(self) -> None:
        return None

    def close(self) -> None:
        return None


async def started(port: PeerPort, **options: Any) -> SerialTransport:
    link = Link(role=Role.SOC, max_message=1024, tx_queue_bytes=4096)
    transport = SerialTransport("peer-port", link, open_port=lambda _p, _b: port, **options)
    await transport.start()
    return transport


async def until_up(transport: SerialTransport) -> None:
    while not isinstance(await asyncio.wait_for(transport.events.get(), 5), LinkUp):
        pass


def test_a_send_fails_naming_the_losses_when_nothing_gets_through_although_the_link_is_up() -> None:
    """Every data frame lost, acknowledgements and pings fine: the queue (4 KB) fills and never drains. The send
    that finds no room fails after stall_timeout with LinkStalled saying that nearly every frame went
    again, instead of waiting for ever (it did: 300 s at offset 0 in the review's 64 KB transfer)."""
    port = PeerPort(drop_data=True)

    async def body() -> tuple[float, str, int]:
        transport = await started(port, stall_timeout=1.0)
        try:
            await until_up(transport)
            started_at = time.monotonic()
            sent = 0
            with pytest.raises(LinkStalled) as info:
                for _ in range(20):
                    await transport.send(3, bytes(1000))
                    sent += 1
            assert transport.link.state == LinkState.UP
            return time.monotonic() - started_at, str(info.value), sent
        finally:
            await transport.close()

    elapsed, text, sent = asyncio.run(asyncio.wait_for(body(), 20))
    assert sent == 4  # 4 x (1000 + 4) bytes fill the 4096-byte queue; the fifth waits for room
    assert 1.0 <= elapsed < 3.0, elapsed
    assert "for 1.0 s although the link is up (1 messages waiting)" in text or "although the link is up" in text
    assert "data frames sent were retransmissions" in text and "% lost" in text
    assert port.dropped > 4 and port.delivered == 0


def test_a_send_fails_as_link_lost_when_the_mcu_never_answers() -> None:
    port = PeerPort(silent=True)

    async def body() -> str:
        transport = await started(port, stall_timeout=0.8)
        try:
            with pytest.raises(LinkLost) as info:
                for _ in range(20):
                    await transport.send(1, bytes(1000))
            return str(info.value)
        finally:
            await transport.close()

    text = asyncio.run(asyncio.wait_for(body(), 20))
    assert "no handshake with the MCU" in text and "no data frame sent" in text


def test_a_slow_link_that_makes_progress_is_not_a_stall() -> None:
    """The same queue, a peer that takes everything: 60 messages through a queue of 4, each waiting for room,
    none failing although the whole run takes longer than stall_timeout."""
    port = PeerPort()

    async def body() -> int:
        transport = await started(port, stall_timeout=0.5)
        try:
            await until_up(transport)
            for _ in range(60):
                await transport.send(3, bytes(1000))
            while transport.link.tx_pending:
                await asyncio.sleep(0.01)
            return port.delivered
        finally:
            await transport.close()

    assert asyncio.run(asyncio.wait_for(body(), 30)) == 60


def test_the_port_is_opened_exclusively() -> None:
    """Two programs on one UART would split each other's frames: the second opener gets PortError 'port in use'
    naming the port (pyserial's exclusive=True, an flock on POSIX)."""
    master, slave = pty.openpty()
    path = os.ttyname(slave)

    async def body() -> str:
        first = SerialTransport(path, Link(role=Role.SOC))
        await first.start()
        try:
            second = SerialTransport(path, Link(role=Role.SOC))
            with pytest.raises(PortError) as info:
                await second.start()
            return str(info.value)
        finally:
            await first.close()

    try:
        text = asyncio.run(asyncio.wait_for(body(), 10))
    finally:
        os.close(master)
        os.close(slave)
    assert text.startswith(f"cannot open {path}: port in use")


@pytest.mark.parametrize(("option", "bad"), [("baudrate", 0), ("baudrate", -1), ("baudrate", 921600.5),
                                             ("baudrate", True), ("reopen_interval", 0),
                                             ("stall_timeout", float("inf")), ("stall_timeout", float("nan")),
                                             ("stall_timeout", -1)])
def test_rates_and_times_that_would_wait_for_ever_are_refused(option: str, bad: Any) -> None:
    with pytest.raises(ValueError, match=option):
        SerialTransport("/dev/null", Link(role=Role.SOC), **{option: bad})
