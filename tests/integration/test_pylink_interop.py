"""PyLink (pure Python, written from SPEC.md) against the C engine (Link(profile="packet")) on a simulated wire.

Two independent implementations of the spec talk over a seeded datagram wire on a virtual clock, each driven by
its own next_deadline: loss, duplication, reordering within a few datagrams and outages longer than
link_timeout_ms. Whatever the wire does, every message arrives exactly once, intact and in order. Also: a peer
restart in each direction (PeerReset with the count of unacknowledged messages, then LinkUp), a version mismatch
reported by both ends, and on a clean wire no retransmission, a window never exceeded and about one
acknowledgement per two data frames. Settings: the SPEC.md defaults, and the BLE ones (gatt.LINK_SETTINGS with
the frame of an ATT_MTU, gatt.frame_limit).
"""

from __future__ import annotations

import heapq
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest

from glassbridge_companion.link import PyLink
from glassbridge.protocol.errors import LinkIncompatible, LinkQueueFull
from glassbridge.protocol.gatt import LINK_SETTINGS, frame_limit
from glassbridge.protocol.link import (
    Link,
    LinkDown,
    LinkEvent,
    LinkState,
    LinkStats,
    LinkUp,
    MessageReceived,
    PeerInfo,
    PeerReset,
    VersionMismatch,
)


class AnyLink(Protocol):
    """What the driver needs of an end: the API Link and PyLink share."""

    session: int

    def receive(self, data: bytes, now_ms: int) -> None: ...
    def send(self, channel: int, message: bytes, now_ms: int) -> None: ...
    def poll_tx(self, now_ms: int) -> bytes | None: ...
    def poll_events(self) -> list[LinkEvent]: ...
    def next_deadline(self, now_ms: int) -> int: ...
    @property
    def state(self) -> LinkState: ...
    @property
    def stats(self) -> LinkStats: ...
    @property
    def peer(self) -> PeerInfo | None: ...
    @property
    def tx_pending(self) -> int: ...
    @property
    def tx_free(self) -> int: ...


@dataclass
class WireFaults:
    """What the simulated wire does to each datagram (probabilities), and when it is cut."""

    loss: float = 0.0
    duplicate: float = 0.0
    jitter_ms: int = 0  # extra random delay: datagrams sent this close together may swap
    latency_ms: int = 5
    outages: list[tuple[int, int]] = field(default_factory=list)  # [start, end) virtual ms: nothing crosses


class Wire:
    """Both directions of a datagram wire; `rng` seeded so a failure replays."""

    def __init__(self, faults: WireFaults, rng: random.Random) -> None:
        self.faults = faults
        self.rng = rng
        self.heap: list[tuple[int, int, int, bytes]] = []  # (arrival, order, destination 0/1, datagram)
        self.order = 0

    def cut(self, now: int) -> bool:
        return any(a <= now < b for a, b in self.faults.outages)

    def put(self, dst: int, datagram: bytes, now: int) -> None:
        f = self.faults
        if self.cut(now) or self.rng.random() < f.loss:
            return
        copies = 2 if self.rng.random() < f.duplicate else 1
        for _ in range(copies):
            at = now + f.latency_ms + (self.rng.randint(0, f.jitter_ms) if f.jitter_ms else 0)
            self.order += 1
            heapq.heappush(self.heap, (at, self.order, dst, datagram))

    def due(self, now: int) -> list[tuple[int, bytes]]:
        out = []
        while self.heap and self.heap[0][0] <= now:
            _, _, dst, datagram = heapq.heappop(self.heap)
            out.append((dst, datagram))
        return out

    def next_arrival(self) -> int | None:
        return self.heap[0][0] if self.heap else None

    def flush(self) -> None:
        self.heap.clear()


def payload(rng: random.Random, index: int, size: int) -> bytes:
    """A message that says which one it is (so a swap or duplicate is caught) plus random bytes."""
    head = struct.pack("<I", index)[: size]
    return head + rng.randbytes(max(0, size - len(head)))


@dataclass
class Side:
    """One end with its application: messages to send and what arrived."""

    link: AnyLink
    outbox: list[tuple[int, bytes]] = field(default_factory=list)
    next_out: int = 0
    received: list[tuple[int, bytes]] = field(default_factory=list)
    events: list[LinkEvent] = field(default_factory=list)

    def pump_app(self, now: int) -> None:
        while self.next_out < len(self.outbox):
            channel, data = self.outbox[self.next_out]
            try:
                self.link.send(channel, data, now)
            except LinkQueueFull:
                return  # backpressure: retry after acknowledgements
            self.next_out += 1

    def take_events(self) -> None:
        for ev in self.link.poll_events():
            self.events.append(ev)
            if isinstance(ev, MessageReceived):
                self.received.append((ev.channel, ev.data))


class Sim:
    """Drives two ends and a wire on a virtual clock, each end woken at its own next_deadline."""

    def __init__(self, a: AnyLink, b: AnyLink, faults: WireFaults, seed: int) -> None:
        self.sides = [Side(a), Side(b)]
        self.wire = Wire(faults, random.Random(seed))
        self.now = 0
        self.sniff: Callable[[int, bytes], None] | None = None  # sees every frame sent (side, datagram)
        self.on_deliver: Callable[[int, bytes], None] | None = None  # sees every datagram delivered (side, datagram)

    def step(self) -> None:
        for dst, datagram in self.wire.due(self.now):
            if self.on_deliver:
                self.on_deliver(dst, datagram)
            self.sides[dst].link.receive(datagram, self.now)
        for i, side in enumerate(self.sides):
            side.pump_app(self.now)
        for i, side in enumerate(self.sides):
            while (frame := side.link.poll_tx(self.now)) is not None:
                if self.sniff:
                    self.sniff(i, frame)
                self.wire.put(1 - i, frame, self.now)
        for side in self.sides:
            side.take_events()
        wake = [s.link.next_deadline(self.now) for s in self.sides]
        arrival = self.wire.next_arrival()
        if arrival is not None:
            wake.append(arrival)
        for a, b in self.wire.faults.outages:  # wake at the edges of an outage too
            wake += [t for t in (a, b) if t > self.now]
        self.now = max(self.now + 1, min(wake))

    def run_until(self, done: Callable[[], bool], limit_ms: int) -> None:
        end = self.now + limit_ms
        while not done():
            assert self.now < end, f"not done after {limit_ms} virtual ms: {self.describe()}"
            self.step()

    def run_for(self, ms: int) -> None:
        end = self.now + ms
        while self.now < end:
            self.step()

    def describe(self) -> str:
        return " | ".join(
            f"{type(s.link).__name__} {s.link.state.name} sent {s.next_out}/{len(s.outbox)} "
            f"got {len(s.received)} pending {s.link.tx_pending} {s.link.stats}"
            for s in self.sides
        )


def make_outbox(rng: random.Random, count: int, max_message: int, frame: int) -> list[tuple[int, bytes]]:
    """Random sizes: many small, many of a few fragments, some up to max_message (empty ones included)."""
    out = []
    for i in range(count):
        r = rng.random()
        if r < 0.05:
            size = 0
        elif r < 0.45:
            size = rng.randint(1, 64)
        elif r < 0.85:
            size = rng.randint(frame - 12, 3 * frame)  # around one fragment and a few
        elif r < 0.97:
            size = rng.randint(frame, max_message)
        else:
            size = max_message
        out.append((rng.randint(1, 3), payload(rng, i, min(size, max_message))))
    return out


DEFAULTS: dict[str, Any] = {}
BLE_185: dict[str, Any] = {**LINK_SETTINGS, "max_frame": frame_limit(185)}
BLE_517: dict[str, Any] = {**LINK_SETTINGS, "max_frame": frame_limit(517)}
SETTINGS: dict[str, dict[str, Any]] = {"defaults": DEFAULTS, "ble185": BLE_185, "ble517": BLE_517}


def pair(settings: dict[str, Any], *, py_first: bool = True) -> tuple[AnyLink, AnyLink]:
    py = PyLink(**settings)
    c = Link(profile="packet", **settings)
    return (py, c) if py_first else (c, py)


def all_delivered(sim: Sim) -> Callable[[], bool]:
    a, b = sim.sides

    def done() -> bool:
        return (
            a.next_out == len(a.outbox)
            and b.next_out == len(b.outbox)
            and len(b.received) == len(a.outbox)
            and len(a.received) == len(b.outbox)
            and a.link.tx_pending == 0
            and b.link.tx_pending == 0
        )

    return done


def timeout_of(settings: dict[str, Any]) -> int:
    return int(settings.get("link_timeout_ms", 1000))


# ---- exactly once, in order, intact: a faulty wire ----------------------------------------------------------


@pytest.mark.parametrize(
    "name,count,seed,jitter_ms",
    # jitter 0: a FIFO wire as BLE is (loss = a dropped connection's datagrams); jitter 3: datagrams sent
    # within 3 ms may swap, which also provokes spurious fast retransmits (SPEC.md 7.3 assumes FIFO).
    [("defaults", 3000, 1, 3), ("ble185", 1000, 2, 0), ("ble517", 1000, 3, 3)],
)
def test_faulty_wire_exactly_once_in_order(name: str, count: int, seed: int, jitter_ms: int) -> None:
    settings = SETTINGS[name]
    rng = random.Random(seed)
    py, c = pair(settings, py_first=seed % 2 == 1)
    frame = settings.get("max_frame", 1024) - 10
    max_message = settings.get("max_message", 4096)
    timeout = timeout_of(settings)
    # Two outages longer than link_timeout_ms: both ends go DOWN and come back UP with nothing lost.
    outages = [(2000, 2000 + timeout + 700), (9000, 9000 + 2 * timeout)]
    faults = WireFaults(loss=0.05, duplicate=0.03, jitter_ms=jitter_ms, latency_ms=8, outages=outages)
    sim = Sim(py, c, faults, seed)
    sim.sides[0].outbox = make_outbox(rng, count, max_message, frame)
    sim.sides[1].outbox = make_outbox(rng, count, max_message, frame)
    sim.run_until(all_delivered(sim), limit_ms=600_000)
    # The outages may have come after all was delivered: run past them so both really went DOWN and UP.
    if sim.now < outages[-1][1] + 3 * timeout:
        sim.run_for(outages[-1][1] + 3 * timeout - sim.now)
    a, b = sim.sides
    assert b.received == a.outbox, "A -> B: lost, duplicated, altered or reordered"
    assert a.received == b.outbox, "B -> A: lost, duplicated, altered or reordered"
    for side in sim.sides:
        kinds = [type(e) for e in side.events if not isinstance(e, MessageReceived)]
        assert kinds.count(LinkDown) >= 2, (type(side.link).__name__, kinds)
        assert kinds.count(LinkUp) == kinds.count(LinkDown) + 1, kinds
        assert PeerReset not in kinds and VersionMismatch not in kinds
        st = side.link.stats
        assert st.retransmits > 0 and st.duplicates > 0  # the wire really was faulty
        assert st.framing_errors == 0 and st.rx_oversize == 0 and st.events_dropped == 0
        assert side.link.state == LinkState.UP


# ---- a clean wire: no retransmission, window respected, acknowledgements sane -------------------------------


@pytest.mark.parametrize("name", ["defaults", "ble185", "ble517"])
@pytest.mark.parametrize("py_first", [True, False])
def test_clean_wire_no_retransmission(name: str, py_first: bool) -> None:
    settings = SETTINGS[name]
    rng = random.Random(7)
    a_link, b_link = pair(settings, py_first=py_first)
    frame = settings.get("max_frame", 1024) - 10
    window = settings.get("window", 16)
    sim = Sim(a_link, b_link, WireFaults(latency_ms=10), 7)
    # A bulk sender (A) and a light one (B): A's window fills, B's acknowledgements pace it.
    sim.sides[0].outbox = [(3, payload(rng, i, rng.randint(1, 4 * frame))) for i in range(300)]
    sim.sides[1].outbox = [(1, payload(rng, i, rng.randint(0, 40))) for i in range(30)]

    data_frames = [0, 0]
    worst_flight = [0, 0]
    una: list[int | None] = [None, None]  # per side: the latest cumulative ack that reached it (its snd_una)

    def delivered(dst: int, datagram: bytes) -> None:
        flags, _, _, ack, _ = struct.unpack_from("<BBHHI", datagram)
        if not flags & 0x04:  # a Hello carries no acknowledgement
            una[dst] = ack  # a clean wire keeps order: the latest is the highest

    def sniff(i: int, datagram: bytes) -> None:
        flags, _, seq, _, _ = struct.unpack_from("<BBHHI", datagram)
        if flags & 0x01:
            data_frames[i] += 1
            first = una[i]
            if first is not None:
                worst_flight[i] = max(worst_flight[i], (seq - first) & 0xFFFF)

    sim.on_deliver = delivered
    sim.sniff = sniff
    sim.run_until(all_delivered(sim), limit_ms=120_000)
    a, b = sim.sides
    assert b.received == a.outbox and a.received == b.outbox
    for i, side in enumerate(sim.sides):
        st = side.link.stats
        assert st.retransmits == 0, (type(side.link).__name__, st)
        assert st.duplicates == 0 and st.out_of_order == 0 and st.out_of_window == 0
        # No frame beyond the window: seq - (the oldest unacknowledged, as the acks that arrived say) < window.
        assert worst_flight[i] < window, (i, worst_flight)
    assert worst_flight[0] == window - 1  # the bulk sender did fill its window
    # The receiver of the bulk acknowledges about every second in-order frame, not every one.
    bulk_rx = sim.sides[1].link.stats
    assert 0 < bulk_rx.acks_tx <= data_frames[0] * 0.6 + 10, (bulk_rx, data_frames)
    assert sim.sides[0].link.stats.messages_tx == 300 and bulk_rx.messages_rx == 300


# ---- peer restart in both directions -----------------------------------------------------------------------


@pytest.mark.parametrize("restart_py", [True, False])
@pytest.mark.parametrize("name", ["defaults", "ble517"])
def test_peer_restart(restart_py: bool, name: str) -> None:
    settings = SETTINGS[name]
    rng = random.Random(11)
    py, c = pair(settings)
    sim = Sim(py, c, WireFaults(latency_ms=5), 11)
    sim.run_until(lambda: py.state == LinkState.UP and c.state == LinkState.UP, 1000)
    for s in sim.sides:
        s.outbox = [(1, payload(rng, i, rng.randint(0, 600))) for i in range(20)]
    sim.run_until(all_delivered(sim), 20_000)

    survivor_idx = 1 if restart_py else 0
    survivor = sim.sides[survivor_idx]
    old = sim.sides[1 - survivor_idx].link
    # The wire goes silent (the restarting end is gone); the survivor keeps sending into the void.
    sim.wire.faults.outages = [(sim.now, sim.now + 10**9)]
    more = [(2, payload(rng, 100 + i, rng.randint(0, 900))) for i in range(7)]
    survivor.outbox += more
    sim.run_for(300)
    pending = survivor.link.tx_pending
    assert pending == 7  # none could be acknowledged

    # The restarted end: same settings, a new session. Its old datagrams never arrive after its new ones.
    new = PyLink(**settings) if restart_py else Link(profile="packet", **settings)
    assert new.session != old.session
    sim.wire.flush()
    sim.wire.faults.outages = []
    restarted = Side(new)
    sim.sides[1 - survivor_idx] = restarted
    n_events = len(survivor.events)
    sim.run_until(lambda: new.state == LinkState.UP and survivor.link.state == LinkState.UP, 5000)
    evs = [e for e in survivor.events[n_events:] if not isinstance(e, MessageReceived)]
    assert [type(e) for e in evs] == [PeerReset, LinkUp], evs
    reset = evs[0]
    assert isinstance(reset, PeerReset) and reset.dropped == pending and reset.peer.session == new.session
    assert [type(e) for e in restarted.events] == [LinkUp]
    assert survivor.link.tx_pending == 0 and survivor.link.stats.peer_resets == 1

    # Life goes on with the new peer, both ways.
    survivor.outbox += [(3, payload(rng, 200 + i, rng.randint(0, 3000))) for i in range(10)]
    restarted.outbox = [(1, payload(rng, 300 + i, rng.randint(0, 3000))) for i in range(10)]
    already = len(survivor.received)
    sim.run_until(lambda: len(restarted.received) == 10 and len(survivor.received) == already + 10, 20_000)
    assert restarted.received == survivor.outbox[-10:]
    assert survivor.received[already:] == restarted.outbox


# ---- version mismatch --------------------------------------------------------------------------------------


@pytest.mark.parametrize("newer", ["py", "c"])
def test_version_mismatch_reported_by_both(newer: str) -> None:
    v2: dict[str, Any] = {"protocol_version": 2, "min_protocol_version": 2}
    py = PyLink(**(v2 if newer == "py" else {}))
    c = Link(profile="packet", **(v2 if newer == "c" else {}))
    sim = Sim(py, c, WireFaults(latency_ms=5), 5)
    sim.run_for(3000)
    for side in sim.sides:
        kinds = [type(e) for e in side.events]
        assert kinds == [VersionMismatch], (type(side.link).__name__, side.events)
        ev = side.events[0]
        assert isinstance(ev, VersionMismatch)
        want = 2 if (newer == "py") != isinstance(side.link, PyLink) else 1
        assert ev.peer.protocol_version == want and ev.peer.min_protocol_version == want
        assert side.link.state == LinkState.INCOMPATIBLE
        with pytest.raises(LinkIncompatible):
            side.link.send(1, b"x", sim.now)
    # Incompatible ends stop talking: no Hello storm (each answers the other's Hellos at most).
    frames = py.stats.frames_tx + c.stats.frames_tx
    assert frames < 40, (py.stats, c.stats)


# ---- timers, flow control, limits --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["defaults", "ble517"])
def test_hello_schedule_alone_matches_c(name: str) -> None:
    """With nobody answering, both engines send their Hellos at the same times (SPEC.md 4.4 backoff)."""
    schedules = []
    for link in pair(SETTINGS[name]):
        t, times = 0, []
        while t < 8000:
            while link.poll_tx(t) is not None:
                times.append(t)
            t = max(t + 1, link.next_deadline(t))
        schedules.append(times)
    assert schedules[0] == schedules[1]
    assert schedules[0][:4] == [0, 100, 300, 700]  # hello_interval_ms doubling (both use the default 100)


@pytest.mark.parametrize("name", ["defaults", "ble185"])
def test_idle_link_stays_up_on_heartbeats(name: str) -> None:
    settings = SETTINGS[name]
    py, c = pair(settings)
    sim = Sim(py, c, WireFaults(latency_ms=15), 3)
    sim.run_for(60_000)
    heartbeat = settings.get("heartbeat_ms", 250)
    for side in sim.sides:
        assert [type(e) for e in side.events] == [LinkUp]
        st = side.link.stats
        # About one ping per heartbeat (and the peer's acknowledgements of them), no more.
        assert 60_000 / heartbeat * 0.5 <= st.frames_tx <= 60_000 / heartbeat * 2.2 + 5, st
        assert st.data_frames_tx == 0 and st.framing_errors == 0


@pytest.mark.parametrize("slow_py", [True, False])
def test_receiver_that_does_not_take_messages_closes_the_window(slow_py: bool) -> None:
    """SPEC.md 6.2: a receiver whose application does not take its messages stops acknowledging; the sender's
    window closes (its queue stays pending) and nothing is lost when the application catches up."""
    rng = random.Random(21)
    py, c = pair(DEFAULTS)
    sender, receiver = (c, py) if slow_py else (py, c)
    sim = Sim(sender, receiver, WireFaults(latency_ms=5), 21)
    sim.run_until(lambda: py.state == LinkState.UP and c.state == LinkState.UP, 1000)
    sim.sides[0].outbox = [(2, payload(rng, i, rng.randint(0, 1500))) for i in range(200)]
    stalled = sim.sides[1]
    real_take = stalled.take_events
    stalled.take_events = lambda: None  # type: ignore[method-assign]  # the application is busy
    sim.run_for(2000)
    stuck = sender.tx_pending
    sim.run_for(2000)
    # The window is closed: no progress for 2 s, yet the link stays up (pings and probes are answered).
    assert sender.tx_pending == stuck > 0 and sender.state == receiver.state == LinkState.UP
    assert sim.sides[0].next_out < len(sim.sides[0].outbox)  # the sender's application feels backpressure
    assert receiver.stats.out_of_window > 0
    stalled.take_events = real_take  # type: ignore[method-assign]
    sim.run_until(all_delivered(sim), 60_000)
    assert stalled.received == sim.sides[0].outbox


@pytest.mark.parametrize("big_py", [True, False])
def test_message_over_the_peers_max_message_is_dropped_whole(big_py: bool) -> None:
    """A message queued before the handshake is checked against our own limit only; the peer with the smaller
    max_message discards it on reassembly (rx_oversize) and takes the next one (SPEC.md 5, 6.4)."""
    big: dict[str, Any] = {"max_message": 4096}
    small: dict[str, Any] = {"max_message": 1000}
    py = PyLink(**(big if big_py else small))
    c = Link(profile="packet", **(small if big_py else big))
    sender, receiver = (py, c) if big_py else (c, py)
    sim = Sim(sender, receiver, WireFaults(latency_ms=5), 4)
    sim.sides[0].outbox = [(1, bytes(3000)), (2, b"after")]
    sim.run_until(lambda: len(sim.sides[1].received) == 1 and sender.tx_pending == 0, 5000)
    assert sim.sides[1].received == [(2, b"after")]
    assert receiver.stats.rx_oversize == 1
    assert sender.max_message == 1000  # after the handshake: the smaller of both


@pytest.mark.parametrize("py_mtu,c_mtu", [(185, 517), (517, 185), (131, 247)])
def test_different_frame_limits_negotiate_the_smaller(py_mtu: int, c_mtu: int) -> None:
    """Each end declares the frame of its own ATT_MTU; both send frames no larger than the smaller (SPEC.md 5)."""
    rng = random.Random(py_mtu + c_mtu)
    py_settings: dict[str, Any] = {**LINK_SETTINGS, "max_frame": frame_limit(py_mtu)}
    c_settings: dict[str, Any] = {**LINK_SETTINGS, "max_frame": frame_limit(c_mtu)}
    py, c = PyLink(**py_settings), Link(profile="packet", **c_settings)
    sim = Sim(py, c, WireFaults(loss=0.02, latency_ms=10), 8)
    largest = [0, 0]

    def sniff(i: int, datagram: bytes) -> None:
        largest[i] = max(largest[i], len(datagram))

    sim.sniff = sniff
    for side in sim.sides:
        side.outbox = [(3, payload(rng, i, rng.randint(0, 16448))) for i in range(40)]
    sim.run_until(all_delivered(sim), 120_000)
    assert sim.sides[1].received == sim.sides[0].outbox and sim.sides[0].received == sim.sides[1].outbox
    limit = min(frame_limit(py_mtu), frame_limit(c_mtu))
    assert largest == [limit, limit]  # full fragments of the negotiated size, never more
    assert py.stats.framing_errors == c.stats.framing_errors == 0


# ---- lockstep: the same peer, the same bytes ----------------------------------------------------------------


class LockstepPeer:
    """A scripted peer driven by what PyLink sends; the C engine gets the very same datagrams at the same times.

    It acknowledges the data frames that reach it (truthful ack and SACK, after `latency` ms, some lost), answers
    pings, sends messages of its own (fragments lost at random, resent while unacknowledged), goes silent for
    `outage` and comes back with a Hello. Where the SPEC determines what an engine sends (it does: 6.3, 7.1-7.4,
    4.4-4.5, 6.1's fragment sizes), both engines must emit identical datagrams at identical times.
    """

    def __init__(self, rng: random.Random, own: int, peer: int, frame: int, window: int, loss: float,
                 latency: int, outage: tuple[int, int]) -> None:
        from glassbridge_companion.link import initial_sequence
        from glassbridge.protocol.glassbridge_pb2 import Hello

        self.rng, self.loss, self.latency, self.outage = rng, loss, latency, outage
        self.isn = initial_sequence(own, peer)
        self.rcv_nxt = self.isn
        self.held: set[int] = set()
        self.queue: list[tuple[int, bytes]] = []  # (time, datagram) to the engines
        self.hello = struct.pack("<BBHHI", 0x0C, 0, 0, 0, 0) + Hello(
            protocol_version=1, min_protocol_version=1, session=peer, peer_session=own, max_frame=frame,
            window=window, max_message=65535).SerializeToString()
        self.snd_nxt = self.isn
        self.unacked: dict[int, tuple[int, bytes]] = {}  # seq -> (last sent, datagram)
        self.frame = frame

    def silent(self, t: int) -> bool:
        return self.outage[0] <= t < self.outage[1]

    def ack(self) -> bytes:
        sack = sum(1 << i for i in range(32) if (self.rcv_nxt + 1 + i) & 0xFFFF in self.held)
        return struct.pack("<BBHHI", 0, 0, self.snd_nxt, self.rcv_nxt, sack)

    def heard(self, frame: bytes, t: int) -> None:
        if self.silent(t) or self.rng.random() < self.loss:
            return
        flags, _, seq, ack, _ = struct.unpack_from("<BBHHI", frame)
        if flags & 0x04:
            return
        for s in [s for s in self.unacked if ((s - ack) & 0xFFFF) >= 0x8000]:
            del self.unacked[s]  # acknowledged by the engine
        if flags & 0x01:
            if ((seq - self.rcv_nxt) & 0xFFFF) < 0x8000:
                self.held.add(seq)
            while self.rcv_nxt in self.held:
                self.held.discard(self.rcv_nxt)
                self.rcv_nxt = (self.rcv_nxt + 1) & 0xFFFF
        if flags & 0x09:  # data or ping: acknowledge (a real peer delays or batches; this one answers each)
            self.queue.append((t + self.latency, self.ack()))

    def tick(self, t: int) -> list[bytes]:
        if t == self.outage[1]:
            self.queue.append((t, self.hello))  # back after the outage: "answer me"
        if not self.silent(t):
            if self.rng.random() < 0.01 and len(self.unacked) < 4:  # a message of its own, 1 to 3 fragments
                n = self.rng.randint(1, 3)
                for i in range(n):
                    flags = 0x01 | (0x02 if i < n - 1 else 0)
                    body = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(0, self.frame - 10)))
                    d = struct.pack("<BBHHI", flags, 2, self.snd_nxt, self.rcv_nxt, 0) + body
                    self.unacked[self.snd_nxt] = (t - 1000, d)
                    self.snd_nxt = (self.snd_nxt + 1) & 0xFFFF
            for s, (sent, d) in list(self.unacked.items()):
                if t - sent >= 150:  # (re)send, sometimes lost on the way
                    self.unacked[s] = (t, d)
                    if self.rng.random() >= self.loss:
                        self.queue.append((t + self.latency, d))
        due = [d for at, d in self.queue if at == t]
        self.queue = [(at, d) for at, d in self.queue if at != t]
        return [] if self.silent(t) else due


LOCKSTEP: dict[str, dict[str, Any]] = {
    "small": {"max_frame": 512, "window": 8},
    "defaults": {"max_frame": 1024, "window": 16},
    "ble247": {**LINK_SETTINGS, "max_frame": frame_limit(247)},
    "ble517": {**LINK_SETTINGS, "max_frame": frame_limit(517)},
}


@pytest.mark.parametrize("loss", [0.0, 0.05, 0.2, 0.4])
@pytest.mark.parametrize("name", sorted(LOCKSTEP))
def test_lockstep_same_peer_same_bytes(name: str, loss: float) -> None:
    """PyLink and the C engine, fed the same datagrams at the same times, send the same datagrams at the same
    times and raise the same events: the SPEC leaves an engine no freedom there, and both read it alike."""
    settings = LOCKSTEP[name]
    own, peer = 0x1234ABCD, 0x5EED0001
    rng = random.Random(int(loss * 100) + len(name))
    py = PyLink(session=own, role=2, **settings)
    c = Link(profile="packet", session=own, role=2, **settings)  # type: ignore[arg-type]
    timeout = int(settings.get("link_timeout_ms", 1000))
    end = 4 * timeout + 4000
    script = LockstepPeer(rng, own, peer, settings["max_frame"], settings["window"], loss, latency=7,
                          outage=(timeout + 1500, 2 * timeout + 2000))
    sends = {rng.randrange(0, end - 500): rng.randint(0, 3000) for _ in range(60)}
    frames = 0
    for t in range(end):
        if t == 0:
            for link in (py, c):
                link.poll_tx(0)
                link.receive(script.hello, 1)
            continue
        if t in sends:
            for link in (py, c):
                link.send(1 + t % 3, bytes([t & 0xFF]) * sends[t], t)
        for d in script.tick(t):
            py.receive(d, t)
            c.receive(d, t)
        out_py, out_c = [], []
        while (f := py.poll_tx(t)) is not None:
            out_py.append(f)
        while (f := c.poll_tx(t)) is not None:
            out_c.append(f)
        assert out_py == out_c, f"t={t}: PyLink {[f[:10].hex() for f in out_py]} C {[f[:10].hex() for f in out_c]}"
        assert py.poll_events() == c.poll_events(), f"t={t}"
        for f in out_py:
            script.heard(f, t)
        frames += len(out_py)
    assert py.stats == c.stats
    st = py.stats
    assert frames > 200 and st.link_downs == 1 and st.messages_tx > 0 and st.messages_rx > 0
    assert st.retransmits > 0  # the outage at least: timeouts, backoff, probes all took part
