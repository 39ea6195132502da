"""PyLink on its own, against a scripted peer and against the C engine's answers to the same inputs.

- configuration: PyLink refuses (LinkConfigError) exactly what Link refuses, and fills the same defaults;
- send: the same errors in the same conditions as Link (QUEUE_FULL backpressure, TOO_LARGE before and after
  the handshake, bad channels, INCOMPATIBLE), with the same tx_free accounting (SPEC.md 6.1: length + 4);
- every kind of invalid datagram of SPEC.md 2.5 and 4.3 is counted as a framing error and dropped, by PyLink and
  by the C engine alike, without an exception or a state change;
- the stats count what crossed (frames, bytes, messages, RTT from a known delay, duplicates, windows, events);
- hypothesis: random datagram soups (noise, near-valid frames, Hellos, time steps, sends) never raise, and never
  grow PyLink's memory past its configured bounds.
The scripted peer builds frames with `struct` and Hellos with Python's protobuf (independent of PyLink).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glassbridge_companion.link import PyLink, initial_sequence
from glassbridge.protocol.errors import (
    InvalidChannel,
    LinkConfigError,
    LinkError,
    LinkIncompatible,
    LinkQueueFull,
    MessageTooLarge,
)
from glassbridge.protocol.glassbridge_pb2 import Hello
from glassbridge.protocol.link import (
    Link,
    LinkDown,
    LinkState,
    LinkUp,
    MessageReceived,
    PeerReset,
    VersionMismatch,
)
from tests.fuzz import fuzz_pylink

OWN, PEER = 0x1234ABCD, 0x5EED0001
ISN = initial_sequence(OWN, PEER)
HELLO, PING, DATA, MORE = 0x04, 0x08, 0x01, 0x02


def frame(flags: int, channel: int = 0, seq: int = 0, ack: int = 0, sack: int = 0, payload: bytes = b"") -> bytes:
    """SPEC.md 2.3, packed with struct."""
    return struct.pack("<BBHHI", flags, channel, seq & 0xFFFF, ack & 0xFFFF, sack) + payload


def hello(session: int = PEER, peer_session: int = OWN, *, ping: bool = False, **fields: Any) -> bytes:
    values: dict[str, Any] = {"protocol_version": 1, "min_protocol_version": 1, "max_frame": 1024, "window": 16,
                              "max_message": 4096, **fields}
    h = Hello(session=session, peer_session=peer_session, **values)
    return frame(HELLO | (PING if ping else 0), payload=h.SerializeToString())


def up(link: Any, now: int = 1, **peer_fields: Any) -> Any:
    """Brings `link` (session OWN) UP with the scripted peer PEER; drains its frames and events."""
    link.poll_tx(0)
    link.receive(hello(**peer_fields), now)
    assert link.state == LinkState.UP
    while link.poll_tx(now) is not None:
        pass
    assert [type(e) for e in link.poll_events()] == [LinkUp]
    return link


def both(**kw: Any) -> list[Any]:
    return [PyLink(session=OWN, **kw), Link(profile="packet", session=OWN, **kw)]


# ---- configuration -----------------------------------------------------------------------------------------

CONFIGS: list[dict[str, Any]] = [
    {},
    {"max_frame": 127}, {"max_frame": 128}, {"max_frame": 4096}, {"max_frame": 4097}, {"max_frame": 0},
    {"window": 0}, {"window": 1}, {"window": 32}, {"window": 33},
    {"max_message": 0}, {"max_message": 1}, {"max_message": 65536},
    {"max_message": 65535, "tx_queue_bytes": 65539}, {"max_message": 65535},
    {"tx_queue_bytes": 4099}, {"tx_queue_bytes": 4100}, {"tx_queue_bytes": 0},
    {"session": 0}, {"session": 2**32}, {"session": -1}, {"session": 2**32 - 1},
    {"role": 3}, {"role": 4}, {"boot_counter": -1}, {"capabilities": 2**32}, {"capabilities": 2**32 - 1},
    {"firmware_version": "x" * 31}, {"firmware_version": "x" * 32}, {"firmware_version": "\u00e9" * 16},
    {"rto_min_ms": 300}, {"rto_initial_ms": 2000}, {"rto_max_ms": 100}, {"rto_min_ms": 1, "rto_initial_ms": 1,
                                                                          "rto_max_ms": 1},
    {"heartbeat_ms": 50, "link_timeout_ms": 400, "ack_delay_ms": 0, "hello_interval_ms": 7},
    {"hello_ms": 5},
]


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: ",".join(f"{k}={v!r}"[:30] for k, v in kw.items()) or "defaults")
def test_config_accepted_and_refused_like_link(kw: dict[str, Any]) -> None:
    kw = {"session": OWN, **kw}
    outcomes: list[object] = []
    for make in (lambda: PyLink(**kw), lambda: Link(profile="packet", **kw)):
        try:
            outcomes.append(make().config)
        except LinkConfigError as exc:
            assert str(exc)  # says which rule
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1]


def test_profile_must_be_packet() -> None:
    with pytest.raises(LinkConfigError, match="packet profile only"):
        PyLink(profile="uart")


def test_defaults_and_api_before_handshake() -> None:
    py, c = both()
    for name in ("state", "tx_free", "tx_pending", "max_message", "max_wire_size", "peer", "stats"):
        assert getattr(py, name) == getattr(c, name), name
    assert PyLink().session != PyLink().session  # random sessions


# ---- send errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", [0, 4, 255, -1])
def test_bad_channel(channel: int) -> None:
    for link in both():
        with pytest.raises(InvalidChannel) as info:
            link.send(channel, b"x", 0)
        assert info.value.channel == channel


def test_too_large_before_and_after_handshake() -> None:
    for link in both(max_message=3000, tx_queue_bytes=10000):
        link.send(1, bytes(3000), 0)  # before the handshake: our own limit only
        with pytest.raises(MessageTooLarge) as info:
            link.send(1, bytes(3001), 0)
        assert (info.value.size, info.value.limit) == (3001, 3000)
        up(link, max_message=1000)
        assert link.max_message == 1000  # min(ours, the peer's)
        with pytest.raises(MessageTooLarge):
            link.send(2, bytes(1001), 1)
        link.send(2, bytes(1000), 1)


def test_queue_full_is_backpressure() -> None:
    results = []
    for link in both(max_message=4096, tx_queue_bytes=4100 + 10):
        seen = [link.tx_free]
        link.send(1, bytes(4096), 0)  # costs 4100
        seen.append(link.tx_free)
        link.send(1, bytes(6), 0)
        seen.append(link.tx_free)
        with pytest.raises(LinkQueueFull) as info:
            link.send(1, b"", 0)
        assert (info.value.needed, info.value.free) == (4, 0)
        assert link.tx_pending == 2
        # Acknowledged, the messages leave the queue: room again.
        up(link, max_message=4096)
        seen += [link.tx_pending]
        link.receive(frame(0, ack=ISN + 5), 3)  # 4096 bytes = 5 fragments of 1014, then 1 more: 6 frames
        seen += [link.tx_pending, link.tx_free]
        link.receive(frame(0, ack=ISN + 6), 4)
        seen += [link.tx_pending, link.tx_free]
        results.append(seen)
    assert results[0] == results[1] == [4110, 10, 0, 2, 1, 4100, 0, 4110]


def test_incompatible_refuses_send() -> None:
    for link in both():
        link.poll_tx(0)
        link.receive(hello(protocol_version=2, min_protocol_version=2, ping=True), 1)
        assert link.state == LinkState.INCOMPATIBLE
        [ev] = link.poll_events()
        assert isinstance(ev, VersionMismatch) and ev.peer.protocol_version == 2
        with pytest.raises(LinkIncompatible, match="1..1"):
            link.send(1, b"x", 2)
        reply = link.poll_tx(2)  # answers with a Hello carrying reject
        assert reply is not None
        h = Hello()
        h.ParseFromString(reply[10:])
        assert reply[0] & HELLO and h.reject and h.peer_session == PEER


def test_error_precedence_like_link() -> None:
    """When several errors apply, both engines name the same one (channel, then incompatible, size, room)."""
    outcomes = []
    for link in both(tx_queue_bytes=4100):
        got = []
        link.send(1, bytes(4000), 0)
        for channel, size in ((0, 5000), (1, 5000), (1, 200)):
            with pytest.raises(LinkError) as info:
                link.send(channel, bytes(size), 0)
            got.append(type(info.value).__name__)
        link.poll_tx(0)
        link.receive(hello(protocol_version=2, min_protocol_version=2, ping=True), 1)
        for channel, size in ((0, 1), (9, 5000), (1, 5000)):
            with pytest.raises(LinkError) as info:
                link.send(channel, bytes(size), 2)
            got.append(type(info.value).__name__)
        outcomes.append(got)
    assert outcomes[0] == outcomes[1] == ["InvalidChannel", "MessageTooLarge", "LinkQueueFull", "InvalidChannel",
                                          "InvalidChannel", "LinkIncompatible"]


# ---- malformed datagrams (SPEC.md 2.5, 4.3) ----------------------------------------------------------------


def bad_hello(**fields: Any) -> bytes:
    h = Hello(protocol_version=1, min_protocol_version=1, session=PEER, max_frame=1024, window=16,
              max_message=4096)
    for k, v in fields.items():
        setattr(h, k, v)
    return frame(HELLO | PING, payload=h.SerializeToString())


MALFORMED: dict[str, bytes] = {
    "empty": b"",
    "short_9": frame(0)[:9],
    "over_max_frame": frame(DATA, 1, ISN, ISN, 0, bytes(1024 - 10 + 1)),
    "hello_with_data": frame(HELLO | DATA, 0, payload=hello()[10:]),
    "hello_on_channel_1": frame(HELLO, 1, payload=hello()[10:]),
    "data_on_channel_0": frame(DATA, 0, ISN, ISN, 0, b"x"),
    "data_on_channel_4": frame(DATA, 4, ISN, ISN, 0, b"x"),
    "data_on_channel_255": frame(DATA | MORE, 255, ISN, ISN, 0, b"x"),
    "ack_on_channel_1": frame(0, 1, ISN, ISN),
    "ack_with_payload": frame(0, 0, ISN, ISN, 0, b"\x00"),
    "ping_with_payload": frame(PING, 0, ISN, ISN, 0, b"zz"),
    "ping_on_channel_3": frame(PING, 3, ISN, ISN),
    "hello_truncated_varint": frame(HELLO | PING, payload=b"\x08"),
    "hello_wire_type_7": frame(HELLO | PING, payload=b"\x0f\x01"),
    "hello_length_past_end": frame(HELLO | PING, payload=b"\x52\x05ab"),
    "hello_session_0": bad_hello(session=0),
    "hello_firmware_32_bytes": bad_hello(firmware_version="y" * 32),
    "hello_firmware_bad_utf8": frame(HELLO | PING, payload=bad_hello()[10:] + b"\x52\x02\xff\xfe"),
    "hello_firmware_nul": bad_hello(firmware_version="a\x00b"),
    # protocol/CODEC.md's deliberate differences from protobuf's parser: no conforming encoder writes these.
    "hello_known_field_wrong_wire_type": bad_hello() + b"\x20\x80\x10",  # peer_session (fixed32) as a varint
    "hello_group": bad_hello() + b"\xa3\x06\xa4\x06",  # field 100 as a group
    "hello_uint32_over_32_bits": bad_hello() + b"\x30\x80\x81\x80\x80\x10",  # max_frame = 2^32 + 128
    "hello_varint_over_10_bytes": bad_hello() + b"\xa0\x06" + b"\x80" * 10 + b"\x01",  # field 100
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_counted_and_dropped(name: str) -> None:
    for link in both():
        up(link)
        before = link.stats
        link.receive(MALFORMED[name], 5)
        after = link.stats
        assert after.framing_errors == before.framing_errors + 1, (type(link).__name__, name)
        assert after.frames_rx == before.frames_rx  # not a valid frame
        assert link.state == LinkState.UP and link.poll_events() == [] and link.peer.session == PEER
        assert link.poll_tx(5) is None  # nothing to answer
    # Also before any handshake.
    for link in both():
        link.receive(MALFORMED[name], 0)
        assert link.stats.framing_errors == 1 and link.peer is None and link.state == LinkState.HANDSHAKE


def test_hello_with_unknown_fields_is_valid() -> None:
    """A newer peer's Hello (an unknown field 100) is read, the field skipped (SPEC.md 4.3)."""
    link = PyLink(session=OWN)
    link.receive(hello(ping=True) + b"\xa2\x06\x03abc", 0)
    assert link.stats.framing_errors == 0 and link.state == LinkState.UP


def test_reserved_flag_bits_ignored() -> None:
    link = up(PyLink(session=OWN))
    link.receive(frame(DATA | 0xF0, 2, ISN, ISN, 0, b"hi"), 2)
    assert link.poll_events() == [MessageReceived(2, b"hi")] and link.stats.framing_errors == 0


# ---- stats -------------------------------------------------------------------------------------------------


def test_stats_count_what_crossed() -> None:
    link = PyLink(session=OWN, rto_min_ms=5)
    sent: list[bytes] = []
    first = link.poll_tx(0)
    assert first is not None
    sent.append(first)
    fed = [hello()]
    link.receive(fed[-1], 10)
    assert [type(e) for e in link.poll_events()] == [LinkUp]
    link.send(1, bytes(1500), 10)  # two fragments of 1014 and 486
    while (f := link.poll_tx(10)) is not None:
        sent.append(f)
    assert [len(f) for f in sent[1:]] == [1024, 496]
    fed.append(frame(0, 0, ISN, ISN + 2))  # both acknowledged 40 ms later
    link.receive(fed[-1], 50)
    fed.append(frame(DATA, 3, ISN, ISN + 2, 0, b"abc"))  # a message from the peer
    link.receive(fed[-1], 60)
    link.receive(fed[-1], 61)  # and its duplicate
    fed.append(fed[-1])
    fed.append(frame(DATA, 3, ISN + 40, ISN + 2, 0, b"far"))  # beyond our window of 16
    link.receive(fed[-1], 62)
    fed.append(frame(DATA, 3, ISN + 3, ISN + 2, 0, b"ahead"))  # out of order: holds ISN+3, misses ISN+1, +2
    link.receive(fed[-1], 63)
    while (f := link.poll_tx(63)) is not None:
        sent.append(f)
    st = link.stats
    assert st.frames_tx == len(sent) and st.bytes_tx == sum(map(len, sent))
    assert st.frames_rx == len(fed) and st.bytes_rx == sum(map(len, fed))
    assert st.data_frames_tx == 2 and st.retransmits == 0 and st.messages_tx == 1 and st.messages_rx == 1
    assert st.srtt_ms == 40 and st.rto_ms == 40 + 2 * 40  # first sample R: SRTT = R, RTO = R + 4 * R/2
    assert (st.duplicates, st.out_of_window, st.out_of_order) == (1, 1, 1)
    assert link.tx_pending == 0 and link.tx_free == 65536
    last = sent[-1]  # an immediate acknowledgement: ack ISN+1, SACK bit 1 = ISN+3
    assert struct.unpack_from("<BBHHI", last) == (0, 0, (ISN + 2) & 0xFFFF, (ISN + 1) & 0xFFFF, 0b10)
    assert st.acks_tx >= 1


def test_stats_link_down_peer_reset_and_events_dropped() -> None:
    link = up(PyLink(session=OWN))
    link.send(1, b"lost", 1)
    now = 1
    for _ in range(5):  # silence, then the same peer again: LinkDown, LinkUp each time (10 events)
        now += 1000
        while link.poll_tx(now) is not None:
            pass
        assert link.state == LinkState.DOWN
        link.receive(hello(ping=True), now)
        assert link.state == LinkState.UP
    st = link.stats
    assert st.link_downs == 5
    assert st.events_dropped == 10 - 7  # 7 link events wait at most (SPEC.md 11)
    kinds = [type(e) for e in link.poll_events()]
    assert kinds == [LinkDown, LinkUp] * 3 + [LinkDown]
    link.receive(hello(session=PEER + 1, peer_session=0, ping=True), now + 1)  # the peer restarted
    [ev] = link.poll_events()
    assert isinstance(ev, PeerReset) and ev.dropped == 1 and link.stats.peer_resets == 1
    assert link.tx_pending == 0 and link.state == LinkState.HANDSHAKE


# ---- heartbeat against the peer's declared link timeout (SPEC.md 4.5) --------------------------------------


@pytest.mark.parametrize(("declared", "heartbeat", "interval"), [
    (None, 1000, 250),        # a Hello without field 13 (an older peer): its link timeout is taken as 1000 ms
    (1000, 1000, 250),        # the BLE heartbeat against the UART default link timeout
    (6000, 1000, 1000),       # both BLE: the own heartbeat is the shorter
    (400, 250, 100),
    (100, 250, 25),
    # A peer declaring a tiny timeout cannot make this end ping more often than every 20 ms (a misbehaving or
    # hostile peer would otherwise fill the line with pings: 1 ms asked for 1,000 a second); its own pings,
    # answered at once, keep its timer running. The end's own heartbeat_ms is its own choice and still applies.
    (79, 250, 20),
    (2, 1000, 20),
    (1, 10, 10),
    (0xFFFFFFFF, 250, 250),
])
def test_ping_after_a_quarter_of_the_peers_link_timeout(declared: int | None, heartbeat: int, interval: int) -> None:
    """An end pings after min(heartbeat_ms, max(20, the link_timeout_ms of the peer's Hello / 4)) without sending:
    the peer's link timer runs on what this end sends. PyLink and the C engine alike."""
    fields = {} if declared is None else {"link_timeout_ms": declared}
    for link in both(heartbeat_ms=heartbeat, link_timeout_ms=6000):
        up(link, **fields)
        link.receive(frame(PING, seq=ISN, ack=ISN), 10)  # answered at once: nothing sent after t = 10
        assert struct.unpack_from("<BB", link.poll_tx(10)) == (0, 0)
        assert link.next_deadline(10) == 10 + interval, type(link).__name__
        assert link.poll_tx(10 + interval - 1) is None
        ping = link.poll_tx(10 + interval)
        assert ping is not None and struct.unpack_from("<BB", ping) == (PING, 0), type(link).__name__
        assert link.next_deadline(10 + interval) == 10 + 2 * interval


def test_own_hello_declares_link_timeout() -> None:
    for link in both(link_timeout_ms=3456):
        raw = link.poll_tx(0)
        assert raw is not None
        h = Hello()
        h.ParseFromString(raw[10:])
        assert h.link_timeout_ms == 3456, type(link).__name__


def test_hello_timing_rules() -> None:
    """SPEC.md 4.4: every Hello sent while not UP, answers included, restarts and doubles the interval; a new peer
    resets it and gets exactly one Hello at once. PyLink and the C engine alike."""
    for link in both():
        name = type(link).__name__
        sent = [t for t in range(0, 720) if link.poll_tx(t) is not None]
        assert sent == [0, 100, 300, 700], name  # unanswered: 100, 200, 400 apart
        link.receive(hello(peer_session=0, ping=True), 750)  # the first peer: HANDSHAKE entered
        first = link.poll_tx(750)
        assert first is not None and first[0] == HELLO | PING, name
        h = Hello()
        h.ParseFromString(first[10:])
        assert h.peer_session == PEER, name
        assert link.poll_tx(750) is None, name  # one Hello, not two
        assert link.poll_tx(849) is None and link.poll_tx(850) is not None, name  # back to 100; the next 200 later
        link.receive(hello(peer_session=0, ping=True), 900)  # asks again: the answer counts as a Hello sent
        assert link.poll_tx(900) is not None, name
        assert link.poll_tx(1299) is None and link.poll_tx(1300) is not None, name  # 400 after the answer, not 1050
        assert link.poll_tx(2099) is None and link.poll_tx(2100) is not None, name  # then 800


def test_compatible_hello_from_an_incompatible_session_is_not_answered() -> None:
    """SPEC.md 4.4 rule 3: the session found incompatible sends a compatible Hello (a faulty peer): nothing changes,
    nothing is answered; another incompatible one is answered with a reject again."""
    for link in both():
        name = type(link).__name__
        link.poll_tx(0)
        link.receive(hello(peer_session=0, ping=True, protocol_version=2, min_protocol_version=2), 1)
        assert link.state == LinkState.INCOMPATIBLE, name
        reject = link.poll_tx(1)
        assert reject is not None and reject[0] == HELLO, name
        assert [type(e) for e in link.poll_events()] == [VersionMismatch], name
        link.receive(hello(peer_session=OWN, ping=True), 2)
        assert link.state == LinkState.INCOMPATIBLE and link.poll_tx(2) is None and link.poll_events() == [], name
        link.receive(hello(peer_session=0, ping=True, protocol_version=2, min_protocol_version=2), 3)
        again = link.poll_tx(3)
        assert again is not None and again[0] == HELLO and link.poll_events() == [], name


def run_pair(make: Any, a_kw: dict[str, Any], b_kw: dict[str, Any], ms: int, *, cut_b_after: int,
             seed: int = 5) -> tuple[Any, Any, int]:
    """Two idle ends on a wire of 2 ms latency where half the datagrams wait 1..6 ms more; from `cut_b_after` on
    everything B sends is lost. Returns both ends and the frames A sent after the cut."""
    import random

    rng = random.Random(seed)
    a, b = make(session=OWN, **a_kw), make(session=PEER, **b_kw)
    wire: list[tuple[int, int, bytes]] = []  # (arrival, destination 0 = a / 1 = b, datagram)
    a_frames_after_cut = 0
    for now in range(ms):
        due = [w for w in wire if w[0] <= now]
        wire = [w for w in wire if w[0] > now]
        for _, dst, data in sorted(due, key=lambda w: w[0]):
            (a if dst == 0 else b).receive(data, now)
        for i, link in enumerate((a, b)):
            while (out := link.poll_tx(now)) is not None:
                if i == 0 and now >= cut_b_after:
                    a_frames_after_cut += 1
                if i == 1 and now >= cut_b_after:
                    continue
                extra = rng.randint(1, 6) if rng.random() < 0.5 else 0
                wire.append((now + 2 + extra, 1 - i, out))
            link.poll_events()
    return a, b, a_frames_after_cut


@pytest.mark.parametrize("engine", ["pylink", "c"])
def test_ble_timers_against_uart_defaults_stay_up(engine: str) -> None:
    """A with the BLE settings (heartbeat 1000, link timeout 6000), B with the defaults (heartbeat 250, link timeout
    1000), both idle: 20 s on a working wire, then 5 s in which everything B sends is lost, so that only A's pings
    feed B's link timer. A pings every 250 ms (a quarter of the timeout B declared); at its own 1000 ms, a few ms of
    jitter made B's silence longer than its timeout and B dropped the link."""
    make = PyLink if engine == "pylink" else (lambda **kw: Link(profile="packet", **kw))
    a, b, pings = run_pair(make, {"heartbeat_ms": 1000, "link_timeout_ms": 6000}, {}, 25_000, cut_b_after=20_000)
    assert a.stats.link_downs == 0 and b.stats.link_downs == 0
    assert a.state == LinkState.UP and b.state == LinkState.UP
    assert 19 <= pings <= 21  # every 250 ms for 5 s


def test_receiver_that_does_not_take_messages_closes_the_window() -> None:
    """SPEC.md 6.2: one complete message waits for the application; then only what fits the window is stored and
    acknowledged, so the sender's window closes; taking the messages frees it."""
    link = up(PyLink(session=OWN, window=4))
    for i in range(8):
        link.receive(frame(DATA, 1, ISN + i, ISN, 0, bytes([i])), 2)
    assert link.stats.out_of_window == 3  # messages 0 (waiting) 1..4 (window): 5..7 refused
    while (f := link.poll_tx(2)) is not None:
        last = f
    assert struct.unpack_from("<BBHHI", last)[3] == (ISN + 5) & 0xFFFF
    got = [e.data for e in link.poll_events() if isinstance(e, MessageReceived)]
    assert got == [bytes([i]) for i in range(5)]
    for i in range(5, 8):  # resent by the peer: now there is room
        link.receive(frame(DATA, 1, ISN + i, ISN, 0, bytes([i])), 3)
    assert [e.data for e in link.poll_events() if isinstance(e, MessageReceived)] == [bytes([i]) for i in (5, 6, 7)]


def test_oversize_message_discarded_whole_and_acknowledged() -> None:
    link = up(PyLink(session=OWN, max_message=1500))
    link.receive(frame(DATA | MORE, 1, ISN, ISN, 0, bytes(1000)), 2)
    link.receive(frame(DATA, 1, ISN + 1, ISN, 0, bytes(501)), 2)  # 1501 bytes: over our max_message
    link.receive(frame(DATA, 2, ISN + 2, ISN, 0, b"next"), 2)
    assert link.poll_events() == [MessageReceived(2, b"next")]
    assert link.stats.rx_oversize == 1
    f = link.poll_tx(2)
    assert f is not None and struct.unpack_from("<BBHHI", f)[3] == (ISN + 3) & 0xFFFF


# ---- hypothesis: datagram soups ----------------------------------------------------------------------------

WINDOW, MAX_FRAME, MAX_MESSAGE, QUEUE = 8, 200, 700, 2000


def near_frame() -> st.SearchStrategy[bytes]:
    """Frames with valid-looking headers near the sequence state, so the soup reaches the window logic."""
    return st.builds(
        lambda flags, ch, ds, da, sack, n: frame(flags, ch, ISN + ds, ISN + da, sack, bytes([ds & 0xFF]) * n),
        st.sampled_from([DATA, DATA | MORE, DATA | MORE, 0, PING, DATA | 0x30]),
        st.sampled_from([0, 1, 2, 3]),
        st.integers(-4, 40),
        st.integers(-4, 40),
        st.integers(0, 2**32 - 1),
        st.integers(0, MAX_FRAME - 10),
    )


def soup_hello() -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda session, peer_session, ping, pv, mf, w, mm: hello(
            session=session, peer_session=peer_session, ping=ping, protocol_version=pv, max_frame=mf, window=w,
            max_message=mm),
        st.sampled_from([PEER, PEER, PEER + 1, OWN]),
        st.sampled_from([OWN, OWN, 0, 7]),
        st.booleans(),
        st.sampled_from([1, 1, 1, 2]),
        st.sampled_from([128, 200, 4096, 5]),
        st.sampled_from([1, 8, 32, 0]),
        st.sampled_from([1, 700, 65535]),
    )


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("rx"), st.binary(max_size=MAX_FRAME + 5)),
        st.tuples(st.just("rx"), near_frame()),
        st.tuples(st.just("rx"), near_frame()),
        st.tuples(st.just("rx"), soup_hello()),
        st.tuples(st.just("send"), st.tuples(st.integers(0, 4), st.integers(0, MAX_MESSAGE + 2))),
        st.tuples(st.just("wait"), st.integers(0, 1500)),
        st.tuples(st.just("events"), st.none()),
    ),
    max_size=60,
)


def check_bounds(link: PyLink) -> None:
    """Fixed memory: the window, the reassembly, the queue and the event list never exceed the configuration."""
    assert len(link._rx) <= WINDOW
    assert len(link._reasm.buf) <= MAX_MESSAGE
    assert len(link._flight) <= WINDOW
    assert 0 <= link.tx_free <= QUEUE and link._queue_used <= QUEUE
    assert len(link._events) <= 7 + 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_datagram_soup_never_raises_and_stays_bounded(ops: list[tuple[str, Any]]) -> None:
    link = PyLink(session=OWN, max_frame=MAX_FRAME, window=WINDOW, max_message=MAX_MESSAGE, tx_queue_bytes=QUEUE)
    now = 0
    link.poll_tx(now)
    link.receive(hello(max_frame=MAX_FRAME, window=WINDOW, max_message=MAX_MESSAGE), now)  # start UP
    for op, arg in ops:
        if op == "rx":
            link.receive(arg, now)
        elif op == "send":
            channel, size = arg
            try:
                link.send(channel, bytes(size), now)
            except (InvalidChannel, MessageTooLarge, LinkQueueFull, LinkIncompatible):
                pass
        elif op == "wait":
            now += arg
        else:
            for ev in link.poll_events():
                if isinstance(ev, MessageReceived):
                    assert 1 <= ev.channel <= 3 and len(ev.data) <= MAX_MESSAGE
        for _ in range(200):
            out = link.poll_tx(now)
            if out is None:
                break
            assert 10 <= len(out) <= link.max_wire_size
            flags, channel = out[0], out[1]
            assert (flags & DATA and 1 <= channel <= 3) or (not flags & DATA and channel == 0)
        else:
            raise AssertionError("poll_tx never ran dry")
        assert link.next_deadline(now) >= now
        check_bounds(link)


# ---- the fuzz harness's oracles (tests/fuzz/fuzz_pylink.py), briefly ---------------------------------------

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "protocol" / "c" / "fuzz" / "corpus_packet").glob("*"))
REGRESSIONS = sorted(p for p in (ROOT / "tests" / "fuzz" / "regressions").glob("*") if p.suffix != ".md")


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name.split("-")[0])
def test_fuzz_seeds_pass_the_oracles(seed: Path) -> None:
    """The C fuzzer's seed scripts, run against PyLink with the inbound, outbound and differential (C) oracles."""
    fuzz_pylink.run(seed.read_bytes())


@pytest.mark.parametrize("case", REGRESSIONS, ids=lambda p: p.name)
def test_fuzz_regressions(case: Path) -> None:
    """Inputs on which PyLink once disagreed with the C engine (tests/fuzz/regressions/README.md)."""
    fuzz_pylink.run(case.read_bytes())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=4, max_size=300))
def test_fuzz_harness_on_random_scripts(data: bytes) -> None:
    fuzz_pylink.run(data)
