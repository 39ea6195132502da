"""Fuzzing PyLink's receive path and reassembly (atheris), with oracles, and against the C engine.

    python tests/fuzz/fuzz_pylink.py -max_total_time=15            # short (make test)
    python tests/fuzz/fuzz_pylink.py -max_total_time=600 -max_len=4200 build/fuzz/corpus_pylink   # long

The input is a script for the peer, in the language of protocol/c/fuzz/fuzz_packet.c (its C twin): send one of
the peer's fragments or an in-order run of them, a datagram of fuzzer bytes, an acknowledgement or a ping, let
time pass, make PyLink's application send, lose PyLink's next frames, restart the peer, say Hello again.

Oracles, after every operation:
- inbound: the peer's fragment k (k = seq - ISN) has fixed content, so the messages due are known: each one
  PyLink delivers is the next of them, exactly once, in order, intact (those over max_message skipped and
  counted in rx_oversize);
- lockstep with the C engine (Link(profile="packet"), same session and configuration): fed the same datagrams
  at the same times and the same sends, it must send byte-identical datagrams, deliver the same messages, raise
  the same events and count the same stats (the SPEC leaves an engine no freedom there). After a version
  mismatch only what they receive is compared (they answer a peer that changes its versions within one session
  differently: a reported SPEC ambiguity);
- outbound: the harness reassembles PyLink's data frames as a receiver would: the application's messages, in
  order, exactly once, intact; no data frame beyond the window past what the peer acknowledged; a
  retransmission repeats flags, channel and payload;
- memory stays within the configuration (window, reassembly, queue, events); receive() never raises.
The peer acknowledges only what it received, and raw datagrams get truthful ack/sack fields and lose their DATA
and HELLO bits, unless bit 0x80 of the first byte asks for a lying peer (then only the invariants that survive
lies are checked). `run(data)` is plain Python, also driven by hypothesis in tests/unit/test_pylink.py.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field
from typing import Any


from glassbridge_companion.link import PyLink, initial_sequence
from glassbridge.protocol.errors import LinkError
from glassbridge.protocol.glassbridge_pb2 import Hello
from glassbridge.protocol.link import (
    LinkEvent,
    LinkState,
    MessageReceived,
    PeerReset,
    VersionMismatch,
)

OWN = 0x1234ABCD
HDR = 10
DATA, MORE, HELLO, PING = 0x01, 0x02, 0x04, 0x08
STEPS = (0, 1, 2, 5, 20, 100, 700, 3000)
M32 = 0xFFFFFFFF
#: Counters of what arrived: the same datagrams must move them the same way in both engines, always.
RX_STATS = ("frames_rx", "bytes_rx", "framing_errors", "duplicates", "out_of_order", "out_of_window",
            "rx_oversize", "messages_rx", "link_downs", "peer_resets")


class OracleError(AssertionError):
    """An engine broke a promise (the message says which)."""


def check(ok: bool, why: str) -> None:
    if not ok:
        raise OracleError(why)


def mix(x: int) -> int:
    x &= M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    return x ^ (x >> 16)


def header(flags: int, channel: int, seq: int, ack: int, sack: int) -> bytes:
    return struct.pack("<BBHHI", flags & 0xFF, channel & 0xFF, seq & 0xFFFF, ack & 0xFFFF, sack & M32)


@dataclass
class Peer:
    """The scripted peer: its session, the content of its fragments, and its receive state for our frames."""

    session: int
    epoch: int
    payload_max: int
    isn: int = 0
    next_k: int = 0  # the first fragment of the next message PyLink must deliver
    oversize_skipped: int = 0
    rcv_nxt: int = 0
    window: dict[int, tuple[int, int, bytes]] = field(default_factory=dict)
    buf: bytearray = field(default_factory=bytearray)
    active: bool = False
    channel: int = 0
    seen: dict[int, bytes] = field(default_factory=dict)  # seq -> flags, channel and payload first sent

    def __post_init__(self) -> None:
        self.isn = initial_sequence(OWN, self.session)
        self.rcv_nxt = self.isn

    def frag(self, k: int) -> tuple[int, int, bytes]:
        """(flags, channel, payload) of the peer's fragment k: fixed for the epoch."""
        h = mix(k * 2654435761 + self.epoch * 97)
        n = 0 if h % 9 == 0 else h % (self.payload_max + 1)
        more = mix(k ^ 0xABCD ^ (self.epoch << 20)) % 2 != 0
        channel = 1 + mix(k + 0x55 + self.epoch) % 3
        data = bytes((k * 13 + i * 5 + self.epoch) & 0xFF for i in range(n))
        return (DATA | (MORE if more else 0)), channel, data

    def sack(self) -> int:
        return sum(1 << i for i in range(32) if (self.rcv_nxt + 1 + i) & 0xFFFF in self.window)

    def fragment(self, k: int) -> bytes:
        flags, channel, data = self.frag(k)
        return header(flags, channel, self.isn + k, self.rcv_nxt, self.sack()) + data

    def hello(self, peer_session: int, ping: bool, max_frame: int, window: int) -> bytes:
        h = Hello(protocol_version=1, min_protocol_version=1, session=self.session, peer_session=peer_session,
                  max_frame=max_frame, window=window, max_message=65535, role=3)  # type: ignore[arg-type]
        return header(HELLO | (PING if ping else 0), 0, 0, 0, 0) + bytes(h.SerializeToString())


class Harness:
    """One run: PyLink (and, for the differential oracle, a C Link) against the scripted peer."""

    def __init__(self, cfg: bytes, c_engine: bool) -> None:
        self.lying = bool(cfg[0] & 0x80)
        self.lockstep = True  # compare every frame and counter with the C engine (see pump)
        self.window = 1 + cfg[1] % 32
        self.max_frame = 128 + (cfg[2] % 8) * 56
        self.max_message = 32 + (cfg[3] % 64) * 32
        self.queue = self.max_message + 4 + (cfg[0] % 16) * 256
        kw = dict(session=OWN, role=2, max_frame=self.max_frame, window=self.window, max_message=self.max_message,
                  tx_queue_bytes=self.queue, link_timeout_ms=1000)
        self.py = PyLink(**kw)  # type: ignore[arg-type]
        self.c = None
        if c_engine:
            from glassbridge.protocol.link import Link  # the C engine; optional (needs the extension)

            self.c = Link(profile="packet", **kw)  # type: ignore[arg-type]
        self.now = 0xFFFFF000 if cfg[0] & 0x40 else 1  # PyLink's clock never wraps; the C engine's does here
        self.peer = Peer(0x5EED0001, 1, self.max_frame - HDR)
        self.sent: list[tuple[int, bytes]] = []
        self.delivered = 0
        self.lose = 0
        self.c_msgs: list[tuple[int, bytes]] = []
        self.py_msgs: list[tuple[int, bytes]] = []
        self.c_kinds: list[str] = []
        self.py_kinds: list[str] = []
        self.pump()
        self.feed(self.peer.hello(OWN, True, self.max_frame, self.window))
        self.pump()
        check(self.py.state == LinkState.UP, "handshake")

    # ---- the wire ----

    def feed(self, datagram: bytes) -> None:
        self.py.receive(datagram, self.now)
        if self.c is not None:
            self.c.receive(datagram, self.now)

    def pump(self) -> None:
        self.drain_events()
        py_out = self.drain_frames(self.py)
        c_out = self.drain_frames(self.c) if self.c is not None else []
        for frame in py_out:
            self.on_frame(frame)
        self.drain_events()  # the timers that poll_tx ran may have raised some (LinkDown)
        self.check_bounds()
        if self.c is not None:
            # Lockstep: same datagrams in at the same times, so the same datagrams out, events and counters.
            # Except after a version mismatch: there the engines answer a peer that changed its versions within
            # one session differently (a reported SPEC ambiguity), so only what they receive is compared.
            if LinkState.INCOMPATIBLE in (self.py.state, self.c.state):
                self.lockstep = False
            check(not self.lockstep or py_out == c_out,
                  f"frames differ at {self.now}: PyLink {[f[:10].hex() for f in py_out]}, "
                  f"C {[f[:10].hex() for f in c_out]}")
            check(self.py_msgs == self.c_msgs, f"PyLink and C delivered differently: {len(self.py_msgs)} vs "
                                               f"{len(self.c_msgs)} messages")
            check(self.py_kinds == self.c_kinds, f"link events differ: {self.py_kinds} vs {self.c_kinds}")
            check(self.py.state == self.c.state, f"states differ: {self.py.state!r} vs {self.c.state!r}")
            a, b = self.py.stats, self.c.stats
            diff = {k: (v, getattr(b, k)) for k, v in vars(a).items()
                    if v != getattr(b, k) and (self.lockstep or k in RX_STATS)}
            check(not diff, f"counters differ (PyLink, C): {diff}")
            check(not self.lockstep or (self.py.tx_pending, self.py.tx_free) == (self.c.tx_pending, self.c.tx_free),
                  "queues differ")

    def drain_frames(self, link: Any) -> list[bytes]:
        out: list[bytes] = []
        for _ in range(5000):
            frame = link.poll_tx(self.now)
            if frame is None:
                return out
            out.append(frame)
        raise OracleError("endless frames")

    def drain_events(self) -> None:
        for ev in self.py.poll_events():
            self.on_event(ev, self.py_msgs, self.py_kinds, inbound=True)
        if self.c is not None:
            for ev in self.c.poll_events():
                self.on_event(ev, self.c_msgs, self.c_kinds, inbound=False)

    def on_event(self, ev: LinkEvent, msgs: list[tuple[int, bytes]], kinds: list[str], inbound: bool) -> None:
        if isinstance(ev, MessageReceived):
            check(1 <= ev.channel <= 3 and len(ev.data) <= self.max_message, "message beyond the limits")
            msgs.append((ev.channel, ev.data))
            if inbound:
                self.check_inbound(ev)
        else:
            kinds.append(type(ev).__name__)
            if not self.lying and isinstance(ev, (PeerReset, VersionMismatch)) and inbound:
                check(isinstance(ev, PeerReset), "unexpected version mismatch")

    # ---- oracles ----

    def check_inbound(self, ev: MessageReceived) -> None:
        if self.lying:
            return
        p = self.peer
        for _ in range(70000):
            start = k = p.next_k
            parts = []
            while True:
                flags, channel, data = p.frag(k)
                parts.append(data)
                if not flags & MORE:
                    break
                k += 1
            p.next_k = k + 1
            message = b"".join(parts)
            if len(message) > self.max_message:
                p.oversize_skipped += 1
                continue
            check((ev.channel, ev.data) == (p.frag(start)[1], message), "inbound message altered or out of order")
            return
        raise OracleError("no message boundary")

    def on_frame(self, f: bytes) -> None:
        check(HDR <= len(f) <= self.py.max_wire_size, "frame size")
        flags, channel, seq, _, _ = struct.unpack_from("<BBHHI", f)
        check(not flags & 0xF0, "reserved flags sent")
        data, hello = bool(flags & DATA), bool(flags & HELLO)
        check(not (hello and (data or channel)), "invalid Hello frame")
        check(not data or 1 <= channel <= 3, "data on a bad channel")
        check(data or hello or (channel == 0 and len(f) == HDR), "ack or ping with channel or payload")
        if not data:
            return
        p = self.peer
        body = bytes([flags, channel]) + f[HDR:]
        if not self.lying:
            check(p.seen.setdefault(seq, body) == body, "retransmission differs from the first transmission")
        if self.lose:
            self.lose -= 1
            return
        if self.lying:
            return
        d = (seq - p.rcv_nxt) & 0xFFFF
        if d >= 0x8000:
            return  # a duplicate of something delivered
        check(d < self.window, "data frame beyond the window of what the peer acknowledged")
        p.window.setdefault(seq, (flags, channel, f[HDR:]))
        while p.rcv_nxt in p.window:
            fl, ch, payload = p.window.pop(p.rcv_nxt)
            p.rcv_nxt = (p.rcv_nxt + 1) & 0xFFFF
            if not p.active:
                p.active, p.channel, p.buf = True, ch, bytearray()
            p.buf += payload
            if not fl & MORE:
                p.active = False
                check(self.delivered < len(self.sent), "a message sent twice or never")
                check((p.channel, bytes(p.buf)) == self.sent[self.delivered], "outbound message altered")
                self.delivered += 1

    def check_bounds(self) -> None:
        """Fixed memory (the same bounds as the C engine's block)."""
        link = self.py
        check(len(link._rx) <= self.window, "receive window grew")
        check(len(link._reasm.buf) <= self.max_message, "reassembly grew")
        check(len(link._flight) <= self.window, "flight grew")
        check(0 <= link.tx_free <= self.queue, "queue accounting")
        check(len(link._events) <= 8, "events grew")
        check(link.stats.rx_oversize >= self.peer.oversize_skipped or self.lying, "oversize message not counted")
        check(self.lying or link.tx_pending <= len(self.sent) - self.delivered + 64, "pending")

    # ---- operations ----

    def restart_peer(self) -> None:
        pending = self.py.tx_pending
        n_events = len(self.py_kinds)
        self.peer = Peer(mix(self.peer.session + 0x9E3779B9) | 1, self.peer.epoch + 1, self.max_frame - HDR)
        self.feed(self.peer.hello(0, True, self.max_frame, self.window))
        evs = self.py.poll_events()
        for ev in evs:
            self.on_event(ev, self.py_msgs, self.py_kinds, inbound=True)
            if isinstance(ev, PeerReset) and not self.lying:
                check(ev.dropped == pending and ev.peer.session == self.peer.session, "PEER_RESET dropped count")
        check(self.lying or self.py_kinds[n_events:] == ["PeerReset"], "no PEER_RESET")
        self.sent, self.delivered = [], 0
        self.feed(self.peer.hello(OWN, False, self.max_frame, self.window))
        self.pump()
        check(self.lying or self.py.state == LinkState.UP, "not up after the restarted peer's Hello")

    def app_send(self, channel: int, size: int) -> None:
        data = bytes((len(self.sent) * 31 + i * 7) & 0xFF for i in range(size))
        c_error = ""
        if self.c is not None:
            try:
                self.c.send(channel, data, self.now)
            except LinkError as exc:
                c_error = type(exc).__name__
        try:
            self.py.send(channel, data, self.now)
        except LinkError as exc:
            check(type(exc).__name__ == c_error or self.c is None, f"send: PyLink {exc!r}, C {c_error or 'ok'}")
            check(self.lying or not 1 <= channel <= 3 or size > self.max_message or self.py.tx_free < size + 4,
                  "send refused a valid message")
            return
        check(not c_error, f"send: PyLink accepted, C refused with {c_error}")
        check(1 <= channel <= 3 and size <= self.max_message, "send accepted an invalid message")
        self.sent.append((channel, data))

    def step(self, op: int, arg: int, rest: bytes) -> int:
        """Runs one operation; returns how many bytes of `rest` it used beyond its argument."""
        used = 0
        p = self.peer
        kind = op % 9
        if kind == 0:
            self.feed(p.fragment(p.next_k + arg % 48 - 4))
        elif kind == 1:
            n, hole = 1 + arg % 16, arg >> 4
            for j in range(n):
                if j != hole:
                    self.feed(p.fragment(p.next_k + j))
        elif kind == 2:
            raw = rest[:arg]
            used = len(raw)
            if not self.lying and len(raw) >= HDR:
                flags = raw[0] & ~(DATA | HELLO)
                raw = header(flags, raw[1], raw[2] | raw[3] << 8, p.rcv_nxt, p.sack()) + raw[HDR:]
            self.feed(raw)
        elif kind == 3:
            self.now += STEPS[arg % 8] + (arg >> 3)
        elif kind == 4:
            size_byte = rest[0] if rest else 0
            used = 1 if rest else 0
            channel = 1 if arg % 5 == 4 else arg % 5
            self.app_send(channel, size_byte * (1 + arg // 40))
        elif kind == 5:
            self.feed(header(PING if arg & 1 else 0, 0, 0, p.rcv_nxt, p.sack()))
        elif kind == 6:
            self.lose = arg % 5
        elif kind == 7:
            if arg % 4 == 0:
                self.restart_peer()
        else:
            self.feed(p.hello(OWN if arg & 1 else 0, bool(arg & 2), self.max_frame, self.window))
        self.pump()
        return used


def run(data: bytes, c_engine: bool = True) -> None:
    """One fuzz input (see the module docstring); raises OracleError when a promise is broken."""
    if len(data) < 4:
        return
    h = Harness(data[:4], c_engine)
    at = 4
    while at < len(data):
        op = data[at]
        arg = data[at + 1] if at + 1 < len(data) else 0
        at += 2
        at += h.step(op, arg, data[at:])
    h.now += 5000
    h.pump()


def main() -> None:
    import atheris  # only for fuzzing runs: `pip install atheris` (3.0.0 has wheels for CPython 3.11)

    import glassbridge_companion.link as pylink_module
    from coverage_of import instrument  # tests/fuzz/, beside this script

    instrument(atheris, pylink_module, sys.modules[__name__])  # PyLink and this harness, not protobuf
    atheris.Setup(sys.argv, lambda data: run(bytes(data)))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
