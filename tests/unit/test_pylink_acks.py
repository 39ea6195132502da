"""When the packet profile's engines acknowledge (SPEC.md 6.3), PyLink and the C engine alike, against a
scripted peer: frames packed with `struct`, Hellos with Python's protobuf, the expected times from the SPEC's rules.

- a first in-order data frame is acknowledged ack_delay_ms later (or with the second) when the window is wider
  than 1; with a negotiated window of 1 (either end's window 1) at once: the peer cannot send anything until
  it is acknowledged, so a delay only stalls a stop-and-wait sender (every frame waited ack_delay_ms before);
- a Hello (it carries ack 0) does not clear the pending acknowledgement; a data frame (it carries the ack) does.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from glassbridge.protocol.glassbridge_pb2 import Hello
from glassbridge.protocol.link import Link, LinkState, LinkUp, MessageReceived
from glassbridge_companion.link import PyLink, initial_sequence

OWN, PEER = 0x1234ABCD, 0x5EED0001
ISN = initial_sequence(OWN, PEER)
HELLO, PING, DATA = 0x04, 0x08, 0x01
HEADER = struct.Struct("<BBHHI")  # SPEC.md 2.3: flags, channel, seq, ack, sack
ACK_DELAY = 2  # ack_delay_ms's default (SPEC.md 12)


def frame(flags: int, channel: int = 0, seq: int = 0, ack: int = 0, payload: bytes = b"") -> bytes:
    return HEADER.pack(flags, channel, seq & 0xFFFF, ack & 0xFFFF, 0) + payload


def hello(*, ping: bool = False, window: int = 16) -> bytes:
    h = Hello(session=PEER, peer_session=OWN, protocol_version=1, min_protocol_version=1, max_frame=1024,
              window=window, max_message=4096)
    return frame(HELLO | (PING if ping else 0), payload=h.SerializeToString())


def engine(kind: str, window: int) -> Any:
    if kind == "pylink":
        return PyLink(session=OWN, window=window)
    return Link(profile="packet", session=OWN, window=window)


def up(link: Any, *, peer_window: int, now: int = 1) -> Any:
    link.poll_tx(0)
    link.receive(hello(window=peer_window), now)
    assert link.state == LinkState.UP
    while link.poll_tx(now) is not None:
        pass
    assert [type(e) for e in link.poll_events()] == [LinkUp]
    return link


def parse(datagram: bytes) -> tuple[int, int, int, int]:
    flags, channel, seq, ack, _sack = HEADER.unpack_from(datagram)
    return flags, channel, seq, ack


def first_ack_at(link: Any, start: int, until: int) -> int | None:
    """The first millisecond in [start, until] at which poll_tx gives an acknowledgement (flags 0)."""
    for t in range(start, until + 1):
        out = link.poll_tx(t)
        if out is not None:
            flags, _channel, _seq, ack = parse(out)
            assert flags == 0, f"only an acknowledgement may go, got flags {flags:#x}"
            return t
    return None


ENGINES = ["pylink", "c"]


@pytest.mark.parametrize("kind", ENGINES)
@pytest.mark.parametrize(("own_window", "peer_window", "delay"),
                         [(16, 16, ACK_DELAY), (1, 16, 0), (16, 1, 0), (1, 1, 0), (2, 16, ACK_DELAY)])
def test_first_in_order_frame_is_acknowledged_at_once_only_with_a_window_of_one(
        kind: str, own_window: int, peer_window: int, delay: int) -> None:
    link = up(engine(kind, own_window), peer_window=peer_window)
    link.receive(frame(DATA, 1, ISN, ISN, b"hello"), 10)
    at = first_ack_at(link, 10, 50)
    assert at == 10 + delay, f"windows {own_window}/{peer_window}: acknowledged at {at}, want {10 + delay}"
    # The acknowledgement carries the frame: ack = ISN + 1.
    link2 = up(engine(kind, own_window), peer_window=peer_window)
    link2.receive(frame(DATA, 1, ISN, ISN, b"hello"), 10)
    out = None
    for t in range(10, 51):
        if (out := link2.poll_tx(t)) is not None:
            break
    assert out is not None and parse(out)[3] == (ISN + 1) & 0xFFFF


@pytest.mark.parametrize("kind", ENGINES)
def test_stop_and_wait_frames_are_each_acknowledged_at_once(kind: str) -> None:
    """Ten frames one after another, each sent when the previous one was acknowledged (what a window of 1 allows):
    every acknowledgement leaves in the millisecond its frame arrived."""
    link = up(engine(kind, 1), peer_window=16)
    t, got = 10, []
    for i in range(10):
        link.receive(frame(DATA, 1, ISN + i, ISN, bytes([i]) * 20), t)
        out = link.poll_tx(t)
        assert out is not None, f"frame {i}: no acknowledgement at once"
        flags, _channel, _seq, ack = parse(out)
        assert flags == 0 and ack == (ISN + i + 1) & 0xFFFF
        got += [e.data for e in link.poll_events() if isinstance(e, MessageReceived)]  # frees the one slot
        t += 1
    assert got == [bytes([i]) * 20 for i in range(10)]


@pytest.mark.parametrize("kind", ENGINES)
def test_a_hello_does_not_clear_the_pending_acknowledgement(kind: str) -> None:
    """A Hello carries ack 0: answering the peer's Hello while an acknowledgement is pending must not count as
    having sent it (SPEC.md 6.3)."""
    link = up(engine(kind, 16), peer_window=16)
    link.receive(frame(DATA, 1, ISN, ISN, b"x"), 10)
    link.receive(hello(ping=True), 10)  # the peer asks for a Hello answer
    out = link.poll_tx(10)
    assert out is not None and parse(out)[0] & HELLO, "the Hello answer goes first"
    assert first_ack_at(link, 10, 50) == 10 + ACK_DELAY, "the acknowledgement still goes, ack_delay_ms later"


@pytest.mark.parametrize("kind", ENGINES)
def test_a_data_frame_carries_and_clears_the_pending_acknowledgement(kind: str) -> None:
    link = up(engine(kind, 16), peer_window=16)
    link.receive(frame(DATA, 1, ISN, ISN, b"x"), 10)
    link.send(1, b"reply", 10)
    out = link.poll_tx(10)
    assert out is not None
    flags, _channel, seq, ack = parse(out)
    assert flags & DATA and seq == ISN and ack == (ISN + 1) & 0xFFFF
    assert first_ack_at(link, 11, 50) is None, "nothing more is owed"
