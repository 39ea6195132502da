"""The glassbridge link in pure Python, packet profile: the phone companion's end of the BLE link.

A second, independent implementation of protocol/SPEC.md (sections 2-9, 11-13 and 16.3), written from the text
and protocol/vectors/ alone, as a Kotlin or Swift companion would be. The glasses run the C engine
(`glassbridge.protocol.link.Link`); every BLE test is thus a test between two readings of the spec.

`PyLink` offers the same API as `Link` (and reuses its event and stat dataclasses), for the packet profile only:
one frame per datagram (one ATT write or notification), no COBS, no CRC. It does no I/O and reads no clock:

    link = PyLink(max_frame=frame_limit(att_mtu), **LINK_SETTINGS)
    link.receive(value_written_to_uplink, now_ms)        # one datagram; malformed ones are counted, never raised
    link.send(Channel.CONTROL, payload, now_ms)          # queued; LinkQueueFull is backpressure
    while (frame := link.poll_tx(now_ms)) is not None:   # also runs the timers: call it at the deadline
        notify_downlink(frame)
    for event in link.poll_events():                     # MessageReceived, LinkUp, LinkDown, PeerReset, ...
        ...
    sleep_until(link.next_deadline(now_ms))

Memory is bounded by the configuration, as in the C engine: the transmit queue holds at most `tx_queue_bytes`
(a message of n bytes costs n + 4), the receive window at most `window` frames of at most `max_frame` bytes, the
reassembly one message of at most `max_message` bytes, and at most one complete message plus 7 link events wait
for `poll_events` (SPEC.md 11); a receiver whose application does not take its messages stops acknowledging, and
the sender's window closes (SPEC.md 6.2).

Time is the caller's monotonic millisecond clock as a Python int: it never wraps here, so the SPEC's signed
32-bit comparisons become plain ones.
"""

from __future__ import annotations

import secrets
import struct
from collections import deque
from dataclasses import dataclass, field

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError

from glassbridge.protocol.errors import (
    InvalidChannel,
    LinkConfigError,
    LinkIncompatible,
    LinkQueueFull,
    MessageTooLarge,
)
from glassbridge.protocol.glassbridge_pb2 import Hello
from glassbridge.protocol.link import (
    TIMERS,
    LinkDown,
    LinkEvent,
    LinkState,
    LinkStats,
    LinkUp,
    MessageReceived,
    PeerInfo,
    PeerReset,
    Role,
    VersionMismatch,
)

__all__ = ["PyLink"]

# ---- wire constants (SPEC.md 2, 12, 13) ----------------------------------------------------------------------

HEADER = struct.Struct("<BBHHI")  # flags, channel, seq, ack, sack: the packet profile's 10-byte header
FLAG_DATA, FLAG_MORE, FLAG_HELLO, FLAG_PING = 0x01, 0x02, 0x04, 0x08
LINK_CHANNEL = 0
PROTOCOL_VERSION = 1
MIN_FRAME, MAX_FRAME = 128, 4096  # a Hello must always fit; a 16-bit-friendly ceiling
MAX_WINDOW = 32  # the SACK bitmap has 32 bits
MAX_MESSAGE = 65535  # 16-bit record length in the C engine's transmit queue
QUEUE_OVERHEAD = 4  # bytes of transmit queue a message costs besides its payload (SPEC.md 6.1)
MAX_FIRMWARE_VERSION = 31  # bytes of UTF-8 in a Hello
MAX_LINK_EVENTS = 7  # link events that wait for the application; further ones are counted (SPEC.md 11)
PEER_LINK_TIMEOUT_DEFAULT = 1000  # a Hello without link_timeout_ms comes from an older peer: SPEC.md's default
PING_FRACTION = 4  # ping after at most a quarter of the peer's link timeout without sending (SPEC.md 4.5)
PEER_PING_FLOOR_MS = 20  # ...but a peer's tiny declared timeout cannot make us ping more often than this (4.5)
SEQ_MOD = 0x10000
_U32 = 0xFFFFFFFF

DEFAULTS: dict[str, int] = {
    "max_frame": 1024,
    "window": 16,
    "max_message": 4096,
    "tx_queue_bytes": 65536,
    "hello_interval_ms": 100,
    "heartbeat_ms": 250,
    "link_timeout_ms": 1000,
    "ack_delay_ms": 2,
    "rto_initial_ms": 200,
    "rto_min_ms": 20,
    "rto_max_ms": 1000,
}


def seq_diff(a: int, b: int) -> int:
    """`a - b (mod 2^16)` read as a signed 16-bit number: negative when a is before b (SPEC.md 5.1)."""
    d = (a - b) & 0xFFFF
    return d - SEQ_MOD if d >= 0x8000 else d


def initial_sequence(own_session: int, peer_session: int) -> int:
    """The ISN both directions start at (SPEC.md 5.1): frames of an earlier session pair miss the new window."""
    x = (own_session ^ peer_session) & _U32
    return (x ^ (x >> 16)) & 0xFFFF


_WIRE_TYPE_OF = {  # protobuf wire type of each field type a Hello uses
    FieldDescriptor.TYPE_UINT32: 0,
    FieldDescriptor.TYPE_ENUM: 0,
    FieldDescriptor.TYPE_BOOL: 0,
    FieldDescriptor.TYPE_FIXED32: 5,
    FieldDescriptor.TYPE_STRING: 2,
}
_HELLO_FIELDS = {f.number: f.type for f in Hello.DESCRIPTOR.fields}


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """(value, next offset) of the varint at `at`; ValueError past 10 bytes, 64 bits or the end."""
    value = shift = 0
    for i in range(10):
        if at + i >= len(data):
            raise ValueError("truncated varint")
        b = data[at + i]
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            if value >> 64:
                raise ValueError("varint over 64 bits")
            return value, at + i + 1
        shift += 7
    raise ValueError("varint over 10 bytes")


def hello_wire_problem(payload: bytes) -> str | None:
    """Why the glassbridge codec refuses these Hello bytes although protobuf's parser takes them, or None.

    protocol/CODEC.md lists the codec's deliberate differences from protobuf: a known field with the wrong wire
    type, a group, a uint32 varint above 2^32-1, a varint with bits above 2^64, and in any occurrence of
    firmware_version (not only the last, which protobuf keeps) more than 31 bytes or a NUL are errors there (no
    conforming encoder writes them). The C engine thus discards such a Hello as not parsing (SPEC.md 4.3); checking
    the same here keeps both ends agreeing on which Hellos exist (CODEC.md, "Which codec is the contract", lists
    the checks). Unknown fields of the usual wire types stay skipped.
    """
    at = 0
    try:
        while at < len(payload):
            tag, at = _varint(payload, at)
            number, wire = tag >> 3, tag & 7
            if wire in (3, 4, 6, 7):
                return f"field {number} has wire type {wire} (groups and invalid types are refused)"
            known = _HELLO_FIELDS.get(number)
            if known is not None and _WIRE_TYPE_OF.get(known) != wire:
                return f"field {number} has wire type {wire}, not its own"
            if wire == 0:
                value, at = _varint(payload, at)
                if known == FieldDescriptor.TYPE_UINT32 and value > _U32:
                    return f"field {number} is {value}, over 32 bits"
            elif wire == 1:
                at += 8
            elif wire == 5:
                at += 4
            else:
                length, at = _varint(payload, at)
                # Every occurrence counts, also one a later one replaces (protobuf keeps only the last): the C
                # codec refuses a firmware_version over 31 bytes or holding a NUL wherever it appears.
                if known == FieldDescriptor.TYPE_STRING and length > MAX_FIRMWARE_VERSION:
                    return f"field {number} is {length} bytes, over its limit of {MAX_FIRMWARE_VERSION}"
                if known == FieldDescriptor.TYPE_STRING and 0 in payload[at:at + length]:
                    return f"field {number} holds a NUL"
                at += length
    except ValueError as exc:
        return str(exc)
    return None  # (truncation past the end is protobuf's DecodeError)


def _peer_info(h: Hello) -> PeerInfo:
    role = Role(h.role) if h.role in Role._value2member_map_ else Role.UNSPECIFIED
    return PeerInfo(
        protocol_version=h.protocol_version,
        min_protocol_version=h.min_protocol_version,
        session=h.session,
        boot_counter=h.boot_counter,
        max_frame=h.max_frame,
        window=h.window,
        max_message=h.max_message,
        capabilities=h.capabilities,
        role=role,
        firmware_version=h.firmware_version,
    )


# ---- transmit side ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _TxMessage:
    """A queued message: cut into fragments as the window opens, removed when its last fragment is acknowledged."""

    channel: int
    data: bytes
    cut: int = 0  # bytes already cut into fragments (an empty message is one empty fragment)


@dataclass(eq=False)
class _TxFrame:
    """A data frame in flight: retransmissions repeat seq, channel, flags and payload (SPEC.md 6.1)."""

    seq: int
    flags: int
    channel: int
    payload: bytes
    message: _TxMessage
    last: bool  # the message's last fragment: acknowledging it frees the message
    sent_at: int
    txnum: int  # transmission number of the last transmission (fast retransmit, SPEC.md 7.3)
    tx_count: int = 1
    sacked: bool = False  # selectively acknowledged: never retransmitted
    marked: bool = False  # due for retransmission
    fast_done: bool = False  # this transmission was already fast-retransmitted once


# ---- receive side -------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _RxFrame:
    more: bool
    channel: int
    payload: bytes


@dataclass
class _Reassembly:
    """The one message being put together from in-order fragments (bounded by our max_message)."""

    active: bool = False
    channel: int = 0
    buf: bytearray = field(default_factory=bytearray)
    oversize: bool = False  # longer than max_message: counted once, its remaining fragments dropped


class PyLink:
    """One end of a glassbridge link, packet profile, in pure Python (SPEC.md), sans-IO.

    The constructor takes Link's arguments (see glassbridge.protocol.link.Link): profile must be "packet";
    session random and non-zero by default; max_frame (128..4096), window (1..32), max_message (1..65535) are
    what this end accepts; tx_queue_bytes >= max_message + 4; timers in milliseconds (0 = SPEC.md default) with
    rto_min_ms <= rto_initial_ms <= rto_max_ms. protocol_version / min_protocol_version are for tests only.
    Raises LinkConfigError naming the rule broken.
    """

    def __init__(
        self,
        *,
        profile: str = "packet",
        role: Role | int = Role.PHONE,
        session: int | None = None,
        boot_counter: int = 0,
        capabilities: int = 0,
        firmware_version: str = "",
        max_frame: int = 0,
        window: int = 0,
        max_message: int = 0,
        tx_queue_bytes: int = 0,
        protocol_version: int | None = None,
        min_protocol_version: int | None = None,
        **timers_ms: int,
    ) -> None:
        if profile != "packet":
            raise LinkConfigError(
                f"PyLink speaks the packet profile only (one frame per datagram, BLE), got profile={profile!r}: "
                "use glassbridge.protocol.link.Link for the UART profile"
            )
        unknown = set(timers_ms) - set(TIMERS)
        if unknown:
            raise LinkConfigError(f"unknown Link options {sorted(unknown)}: the timers are {', '.join(TIMERS)}")
        if session is None:
            session = secrets.randbits(32) or 1
        numbers: dict[str, int] = {
            "session": session,
            "boot_counter": boot_counter,
            "capabilities": capabilities,
            "role": int(role),
            "max_frame": max_frame,
            "window": window,
            "max_message": max_message,
            "tx_queue_bytes": tx_queue_bytes,
            "protocol_version": protocol_version or 0,
            "min_protocol_version": min_protocol_version or 0,
            **timers_ms,
        }
        for key, value in numbers.items():
            if not isinstance(value, int) or not 0 <= value <= _U32:
                raise LinkConfigError(f"{key} must be an integer between 0 and {_U32}, got {value!r}")
        # 0 means "the SPEC.md default", as in the C engine's config.
        cfg = {key: numbers.get(key) or default for key, default in DEFAULTS.items()}
        fw = firmware_version.encode()
        problem = _config_problem(cfg, session, int(role), len(fw))
        if problem:
            raise LinkConfigError(f"invalid link configuration: {problem}")

        self.profile = "packet"
        self.session = session
        self.role = Role(int(role))
        self.boot_counter = boot_counter
        self.capabilities = capabilities
        self.firmware_version = firmware_version
        self._pv = protocol_version or PROTOCOL_VERSION
        self._min_pv = min_protocol_version or PROTOCOL_VERSION
        self._cfg = cfg
        self._max_frame = cfg["max_frame"]
        self._window = cfg["window"]
        self._max_message = cfg["max_message"]
        self._queue_cap = cfg["tx_queue_bytes"]

        self._state = LinkState.HANDSHAKE
        self._peer: PeerInfo | None = None
        self._peer_link_timeout = PEER_LINK_TIMEOUT_DEFAULT  # Hello.link_timeout_ms of the peer (SPEC.md 4.5)
        self._mismatch_reported: int | None = None  # the peer session VERSION_MISMATCH was raised for
        # Negotiated limits (SPEC.md 5); our own until a compatible peer is known.
        self._frame = self._max_frame
        self._snd_window = self._window
        self._msg_limit = self._max_message

        # Transmit side.
        self._queue: deque[_TxMessage] = deque()
        self._unsent: deque[_TxMessage] = deque()  # the queue's tail not yet wholly cut into fragments
        self._queue_used = 0
        self._flight: deque[_TxFrame] = deque()  # seq snd_una + i at index i
        self._snd_una = 0
        self._snd_nxt = 0
        self._txnum = 0
        self._srtt8: int | None = None
        self._rttvar4 = 0
        self._min_rtt: int | None = None
        self._rto = cfg["rto_initial_ms"]
        self._progress_at = 0

        # Receive side.
        self._rx: dict[int, _RxFrame] = {}  # stored frames, rx_base <= seq < rx_base + window
        self._rx_base = 0
        self._rcv_nxt = 0
        self._reasm = _Reassembly()
        self._message_waiting = False  # a complete message is in _events: the next waits for poll_events

        # Timers and what is due.
        self._hello_iv = cfg["hello_interval_ms"]
        self._next_hello: int | None = None  # None: at once (engine start)
        self._hello_answer: bool = False
        self._reject_answer: bool = False
        self._ack_at: int | None = None
        self._inorder_unacked = 0
        self._last_tx: int | None = None
        self._last_rx = 0

        self._events: deque[LinkEvent] = deque()
        self._link_events = 0  # events in _events that are not messages
        self._stats: dict[str, int] = {name: 0 for name in LinkStats.__dataclass_fields__}
        self._stats["rto_ms"] = self._rto

    # ---- API: driving ----------------------------------------------------------------------------------------

    def receive(self, data: bytes | bytearray | memoryview, now_ms: int) -> None:
        """One datagram from the peer (one ATT value). Malformed ones are counted (stats) and dropped."""
        frame = bytes(data)
        self._stats["bytes_rx"] += len(frame)
        if len(frame) < HEADER.size or len(frame) > self._max_frame:
            self._stats["framing_errors"] += 1
            return
        flags, channel, seq, ack, sack = HEADER.unpack_from(frame)
        payload = frame[HEADER.size :]
        is_data, is_hello = bool(flags & FLAG_DATA), bool(flags & FLAG_HELLO)
        if is_hello and (is_data or channel != LINK_CHANNEL):
            self._stats["framing_errors"] += 1
            return
        if is_data and not 1 <= channel <= 3:
            self._stats["framing_errors"] += 1
            return
        if not is_data and not is_hello and (channel != LINK_CHANNEL or payload):
            self._stats["framing_errors"] += 1
            return
        if is_hello:
            self._on_hello(payload, bool(flags & FLAG_PING), now_ms)
            return
        self._stats["frames_rx"] += 1
        if self._state != LinkState.UP:
            return  # SPEC.md 4.2: a receiver not UP ignores every frame but a Hello
        self._last_rx = now_ms
        self._on_ack(ack, sack, now_ms)
        if is_data:
            self._on_data(seq, bool(flags & FLAG_MORE), channel, payload, now_ms)
        elif flags & FLAG_PING:
            self._ack_at = now_ms  # a ping asks for an immediate acknowledgement

    def send(self, channel: int, message: bytes | bytearray | memoryview, now_ms: int) -> None:
        """Queues one message for reliable, in-order delivery on `channel` (Channel.CONTROL/AUDIO/BULK).

        Raises LinkQueueFull (backpressure: retry after acknowledgements), MessageTooLarge, InvalidChannel,
        LinkIncompatible. The bytes are copied.
        """
        if not isinstance(channel, int) or not 1 <= channel <= 3:
            raise InvalidChannel(channel)
        data = bytes(message)
        if self._state == LinkState.INCOMPATIBLE:
            peer = self._peer
            theirs = f"{peer.min_protocol_version}..{peer.protocol_version}" if peer else "unknown"
            raise LinkIncompatible(
                f"cannot send: the peer speaks link protocol versions {theirs}, this end "
                f"{self._min_pv}..{self._pv}; update the older side"
            )
        if len(data) > self.max_message:
            raise MessageTooLarge(len(data), self.max_message)
        cost = len(data) + QUEUE_OVERHEAD
        if cost > self.tx_free:
            raise LinkQueueFull(cost, self.tx_free)
        msg = _TxMessage(int(channel), data)
        self._queue.append(msg)
        self._unsent.append(msg)
        self._queue_used += cost
        self._stats["messages_tx"] += 1  # as the C engine: messages the application queued

    def poll_tx(self, now_ms: int) -> bytes | None:
        """The next datagram to send, or None. Runs the timers first (link timeout, then retransmission)."""
        now = now_ms
        if self._state == LinkState.UP:
            self._check_link_timeout(now)
        if self._state == LinkState.UP:
            self._check_retransmission_timeout(now)
            return self._next_frame_up(now)
        if self._state == LinkState.INCOMPATIBLE:
            if self._reject_answer:
                self._reject_answer = False
                return self._hello_frame(now, reject=True)
            return None
        # HANDSHAKE or DOWN: only Hellos, with PING ("answer me").
        if self._hello_answer or self._next_hello is None or now >= self._next_hello:
            return self._hello_frame(now, reject=False)
        return None

    def poll_events(self) -> list[LinkEvent]:
        """Every event since the last call, in order. Taking a message lets the next one be assembled."""
        out: list[LinkEvent] = []
        while self._events:
            ev = self._events.popleft()
            out.append(ev)
            if isinstance(ev, MessageReceived):
                self._message_waiting = False
                self._reassemble()  # the window's next fragments may complete the next message
            else:
                self._link_events -= 1
        return out

    def next_deadline(self, now_ms: int) -> int:
        """When poll_tx must run next even if nothing arrives, on the caller's clock (== now_ms: at once)."""
        now = now_ms
        if self._state == LinkState.INCOMPATIBLE:
            return now if self._reject_answer else now + 60_000  # nothing to do until the peer speaks again
        if self._state != LinkState.UP:
            if self._hello_answer or self._next_hello is None:
                return now
            return max(now, self._next_hello)
        # UP: anything ready goes at once, else the earliest timer.
        if self._hello_answer or any(f.marked for f in self._flight) or self._can_cut():
            return now
        times = [self._last_rx + self._cfg["link_timeout_ms"], (self._last_tx or now) + self._heartbeat()]
        if self._ack_at is not None:
            times.append(self._ack_at)
        rto_at = self._earliest_rto_deadline()
        if rto_at is not None:
            times.append(rto_at)
        return max(now, min(times))

    # ---- API: state ------------------------------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def stats(self) -> LinkStats:
        self._stats["rto_ms"] = self._rto
        # The fragment _cut_fragment cuts (full size always: no rewinds on the packet profile), once a peer is known.
        self._stats["frag_size"] = self._frame - HEADER.size if self._peer is not None else 0
        return LinkStats(**self._stats)

    @property
    def peer(self) -> PeerInfo | None:
        return self._peer

    @property
    def tx_free(self) -> int:
        """Bytes free in the transmit queue (a message of n bytes needs n + 4)."""
        return self._queue_cap - self._queue_used

    @property
    def tx_pending(self) -> int:
        """Messages queued or in flight, not yet acknowledged by the peer."""
        return len(self._queue)

    @property
    def max_message(self) -> int:
        """The largest message that can be sent now: min(ours, the peer's), or ours before the handshake."""
        return self._msg_limit

    @property
    def max_wire_size(self) -> int:
        """The longest datagram poll_tx returns: our max_frame (the negotiated frame is never larger)."""
        return self._max_frame

    @property
    def protocol_version(self) -> int:
        return self._pv

    @property
    def min_protocol_version(self) -> int:
        return self._min_pv

    @property
    def config(self) -> dict[str, int]:
        """The configuration after defaults were filled in (timers included), with the same keys as Link's."""
        return {"profile": 1, **self._cfg, "protocol_version": self._pv, "min_protocol_version": self._min_pv}

    def __repr__(self) -> str:
        return f"PyLink(session={self.session:#010x}, state={self._state.name})"

    # ---- Hellos (SPEC.md 4.3, 4.4, 8, 9) ---------------------------------------------------------------------

    def _on_hello(self, payload: bytes, ping: bool, now: int) -> None:
        h = Hello()
        try:
            h.ParseFromString(payload)  # unknown fields are skipped: a newer peer may add some
        except DecodeError:
            self._stats["framing_errors"] += 1
            return
        if hello_wire_problem(payload) is not None:
            self._stats["framing_errors"] += 1
            return
        # SPEC.md 4.3: session 0 or a firmware_version over 31 bytes make a Hello invalid. A NUL in it too: the
        # glassbridge codec refuses strings holding NUL (protocol/vectors/README.md, error UTF8), so a C peer
        # would not have parsed this Hello either, and both ends must agree on which Hellos exist.
        fw = h.firmware_version
        if h.session == 0 or len(fw.encode()) > MAX_FIRMWARE_VERSION or "\x00" in fw:
            self._stats["framing_errors"] += 1
            return
        if h.session == self.session:
            return  # our own Hello echoed by a loopback wire
        if h.reject and h.peer_session != self.session:
            return  # rule 1: a rejection of an earlier us
        self._stats["frames_rx"] += 1  # as the C engine: valid frames from the peer (not echoes, not stale rejects)
        if (self._state == LinkState.UP and self._peer is not None and h.session == self._peer.session
                and h.peer_session == self.session):
            # Restarts the link timer (SPEC.md 4.5) only when it shows our session: a Hello that does not proves
            # nothing about the way back (peer_session "proves liveness both ways", glassbridge.proto). As the C
            # engine does.
            self._last_rx = now
        if self._peer is None or h.session != self._peer.session:
            self._new_peer(h, now)  # rule 2
        elif self._state == LinkState.INCOMPATIBLE:
            # SPEC.md 9: only a new session is evaluated afresh; of this one, every Hello that is itself
            # incompatible gets a reject (a reject is not answered; a compatible Hello changes nothing).
            self._reject_answer = not h.reject and not self._compatible(h)
            return
        if h.reject or not self._compatible(h):  # rule 3
            if self._mismatch_reported != h.session:
                self._mismatch_reported = h.session
                self._push_event(VersionMismatch(_peer_info(h)))
            self._state = LinkState.INCOMPATIBLE
            self._hello_answer = False
            if not h.reject:
                self._reject_answer = True
            return
        if h.peer_session == self.session and self._state != LinkState.UP:  # rule 4
            self._enter_up(now)
        if ping or h.peer_session != self.session:  # rule 5
            self._hello_answer = True

    def _compatible(self, h: Hello) -> bool:
        """SPEC.md 9: overlapping version ranges, and limits a link can run with."""
        return (
            h.min_protocol_version <= self._pv
            and h.protocol_version >= self._min_pv
            and h.max_frame >= MIN_FRAME
            and h.window > 0
            and h.max_message > 0
        )

    def _new_peer(self, h: Hello, now: int) -> None:
        restart = self._peer is not None
        self._peer = _peer_info(h)
        self._peer_link_timeout = h.link_timeout_ms or PEER_LINK_TIMEOUT_DEFAULT
        if self._compatible(h):
            self._frame = min(self._max_frame, h.max_frame)
            self._snd_window = min(self._window, h.window, MAX_WINDOW)
            self._msg_limit = min(self._max_message, h.max_message)
        else:
            self._frame, self._snd_window, self._msg_limit = self._max_frame, self._window, self._max_message
        dropped = 0
        if restart:
            # SPEC.md 8: what the old peer had not acknowledged was addressed to a peer that no longer exists.
            dropped = len(self._queue)
            self._queue.clear()
            self._unsent.clear()
            self._queue_used = 0
            self._stats["peer_resets"] += 1
        isn = initial_sequence(self.session, h.session)
        self._snd_una = self._snd_nxt = self._rx_base = self._rcv_nxt = isn
        self._flight.clear()
        self._rx.clear()
        self._reasm = _Reassembly()  # a complete message already in _events is still delivered
        self._srtt8, self._rttvar4, self._min_rtt = None, 0, None
        self._rto = self._cfg["rto_initial_ms"]
        self._ack_at, self._inorder_unacked = None, 0
        self._reject_answer = False
        self._enter_not_up(LinkState.HANDSHAKE, now)
        if restart:
            self._push_event(PeerReset(self._peer, dropped))

    def _enter_not_up(self, state: LinkState, now: int) -> None:
        self._state = state
        self._hello_iv = self._cfg["hello_interval_ms"]
        self._next_hello = now

    def _enter_up(self, now: int) -> None:
        was_down = self._state == LinkState.DOWN
        self._state = LinkState.UP
        self._last_rx = now
        self._progress_at = now
        if self._last_tx is None:
            self._last_tx = now
        assert self._peer is not None
        self._push_event(LinkUp(self._peer))
        if was_down:
            # SPEC.md 4.5: a pulled cable loses nothing: resend what was not acknowledged, drop the backoff,
            # and tell the peer at once what we hold.
            for f in self._flight:
                if not f.sacked:
                    f.marked = True
            self._rto = self._computed_rto()
            self._ack_at = now

    def _hello_frame(self, now: int, *, reject: bool) -> bytes:
        up = self._state == LinkState.UP
        h = Hello(
            protocol_version=self._pv,
            min_protocol_version=self._min_pv,
            session=self.session,
            peer_session=self._peer.session if self._peer else 0,
            boot_counter=self.boot_counter,
            max_frame=self._max_frame,
            window=self._window,
            capabilities=self.capabilities,
            role=int(self.role),  # type: ignore[arg-type]  # protobuf enums accept their int values
            firmware_version=self.firmware_version,
            reject=reject,
            max_message=self._max_message,
            link_timeout_ms=self._cfg["link_timeout_ms"],
        )
        # PING ("answer me") on every Hello sent while not UP (SPEC.md 4.3), but not on a reject: nobody answers a
        # reject (rule 3), so it asks for nothing (SPEC.md 4.4 sends PING Hellos in HANDSHAKE and DOWN).
        flags = FLAG_HELLO if up or reject else FLAG_HELLO | FLAG_PING
        self._hello_answer = False
        if not up:
            self._next_hello = now + self._hello_iv
            self._hello_iv = min(self._hello_iv * 2, 10 * self._cfg["hello_interval_ms"])
        return self._emit(HEADER.pack(flags, LINK_CHANNEL, 0, 0, 0) + h.SerializeToString(deterministic=True), now)

    # ---- timers ----------------------------------------------------------------------------------------------

    def _check_link_timeout(self, now: int) -> None:
        if now - self._last_rx >= self._cfg["link_timeout_ms"]:
            self._stats["link_downs"] += 1
            self._enter_not_up(LinkState.DOWN, now)
            self._hello_answer = False
            self._ack_at, self._inorder_unacked = None, 0
            self._push_event(LinkDown())

    def _timeout_of(self, f: _TxFrame, k: int, probing: bool) -> int:
        if not probing or self._min_rtt is None:
            return self._rto
        scaled = (k + 1) * self._min_rtt * (1 << min(f.tx_count - 2, 4))
        return min(self._rto, max(self._cfg["rto_min_ms"], scaled))

    def _rto_candidates(self) -> list[tuple[int, _TxFrame]]:
        """(deadline, frame) of every frame awaiting acknowledgement: in flight, not selectively acknowledged,
        not already marked for retransmission (SPEC.md 7.2)."""
        waiting = [f for f in self._flight if not f.sacked and not f.marked]
        probing = bool(waiting) and all(f.tx_count >= 2 for f in waiting) and self._min_rtt is not None
        k = len(waiting)
        return [(max(f.sent_at, self._progress_at) + self._timeout_of(f, k, probing), f) for f in waiting]

    def _earliest_rto_deadline(self) -> int | None:
        cands = self._rto_candidates()
        return min(t for t, _ in cands) if cands else None

    def _check_retransmission_timeout(self, now: int) -> None:
        """Marks every frame whose deadline passed; RTO doubles once per expiry (SPEC.md 7.2).

        Runs before every frame poll_tx returns. A marked frame no longer awaits acknowledgement (it awaits
        retransmission), so once some are marked the lost-retransmission probe of the others is shorter (k
        shrinks) and the next call may find more of them due.
        """
        due = [f for t, f in self._rto_candidates() if t <= now]
        for f in due:
            f.marked = True
        if due:
            self._rto = min(self._rto * 2, self._cfg["rto_max_ms"])  # backoff, once per expiry

    # ---- sending while UP (SPEC.md 7.4) ----------------------------------------------------------------------

    def _next_frame_up(self, now: int) -> bytes | None:
        if self._hello_answer:
            return self._hello_frame(now, reject=False)
        for i, f in enumerate(self._flight):
            if f.marked:
                return self._retransmit(f, i == 0, now)
        if self._can_cut():
            return self._cut_fragment(now)
        if self._ack_at is not None and now >= self._ack_at:
            return self._control_frame(0, now)
        if self._last_tx is None or now - self._last_tx >= self._heartbeat():
            return self._control_frame(FLAG_PING, now)
        return None

    def _heartbeat(self) -> int:
        """How long we may send nothing before a ping (SPEC.md 4.5): our heartbeat_ms, or a quarter of the peer's
        link timeout (its Hello's link_timeout_ms) when that is shorter, but not below PEER_PING_FLOOR_MS on the
        peer's account (a peer declaring 1 ms would have us send a thousand pings a second). The peer's link timer
        runs on what we send."""
        return min(self._cfg["heartbeat_ms"], max(PEER_PING_FLOOR_MS, self._peer_link_timeout // PING_FRACTION))

    def _can_cut(self) -> bool:
        return bool(self._unsent) and len(self._flight) < self._snd_window

    def _cut_fragment(self, now: int) -> bytes:
        msg = self._unsent[0]
        size = self._frame - HEADER.size  # full size always: SPEC.md 6.1 halves on the UART profile only
        payload = msg.data[msg.cut : msg.cut + size]
        msg.cut += len(payload)
        last = msg.cut >= len(msg.data)
        if last:
            self._unsent.popleft()
        flags = FLAG_DATA if last else FLAG_DATA | FLAG_MORE
        self._txnum += 1
        f = _TxFrame(self._snd_nxt, flags, msg.channel, payload, msg, last, now, self._txnum)
        if not self._flight:
            self._progress_at = now  # the oldest frame in flight was sent now (SPEC.md 7.2)
        self._flight.append(f)
        self._snd_nxt = (self._snd_nxt + 1) & 0xFFFF
        self._stats["data_frames_tx"] += 1
        return self._data_frame(f, now)

    def _retransmit(self, f: _TxFrame, oldest: bool, now: int) -> bytes:
        self._txnum += 1
        f.txnum, f.sent_at, f.tx_count = self._txnum, now, f.tx_count + 1
        f.marked = f.fast_done = False
        if oldest:
            self._progress_at = now
        self._stats["retransmits"] += 1
        self._stats["data_frames_tx"] += 1
        return self._data_frame(f, now)

    def _data_frame(self, f: _TxFrame, now: int) -> bytes:
        return self._emit(HEADER.pack(f.flags, f.channel, f.seq, self._rcv_nxt, self._sack()) + f.payload, now)

    def _control_frame(self, flags: int, now: int) -> bytes:
        """An acknowledgement (flags 0) or a ping: seq is our next sequence number, informational."""
        self._stats["acks_tx"] += 1  # as gb_link_stats: frames sent without data (acknowledgements, pings)
        return self._emit(HEADER.pack(flags, LINK_CHANNEL, self._snd_nxt, self._rcv_nxt, self._sack()), now)

    def _emit(self, frame: bytes, now: int) -> bytes:
        self._last_tx = now
        if not frame[0] & FLAG_HELLO:
            # Every frame but a Hello carries ack and sack: it clears the pending acknowledgement.
            self._ack_at, self._inorder_unacked = None, 0
        self._stats["frames_tx"] += 1
        self._stats["bytes_tx"] += len(frame)
        return frame

    def _sack(self) -> int:
        bits = 0
        for i in range(32):
            if ((self._rcv_nxt + 1 + i) & 0xFFFF) in self._rx:
                bits |= 1 << i
        return bits

    # ---- acknowledgements received (SPEC.md 6.3, 7) ----------------------------------------------------------

    def _on_ack(self, ack: int, sack: int, now: int) -> None:
        in_flight = len(self._flight)
        advance = (ack - self._snd_una) & 0xFFFF
        if advance > in_flight:
            return  # stale (or from another session): ignore both fields
        newly: list[_TxFrame] = []
        for _ in range(advance):
            f = self._flight.popleft()
            if not f.sacked:
                newly.append(f)
            if f.last:
                done = self._queue.popleft()
                assert done is f.message
                self._queue_used -= len(done.data) + QUEUE_OVERHEAD
        self._snd_una = ack
        for i in range(32):
            if sack >> i & 1:
                idx = i + 1  # sequence ack + 1 + i
                if idx >= len(self._flight):
                    break
                f = self._flight[idx]
                if not f.sacked:
                    f.sacked, f.marked = True, False
                    newly.append(f)
        if not newly:
            return
        self._progress_at = now
        once = [f for f in newly if f.tx_count == 1]
        if once:
            self._rtt_sample(now - max(once, key=lambda f: f.sent_at).sent_at)
        # Fast retransmit: a later transmission arrived (SACK), so an earlier unacknowledged one was lost.
        latest = max((f.txnum for f in self._flight if f.sacked), default=0)
        for f in self._flight:
            if not f.sacked and not f.marked and not f.fast_done and f.txnum < latest:
                f.marked = f.fast_done = True

    def _rtt_sample(self, r: int) -> None:
        """RFC 6298 in integer milliseconds with scaled state (SPEC.md 7.1); drops any backoff."""
        r = max(0, r)
        if self._srtt8 is None:
            self._srtt8, self._rttvar4 = 8 * r, 2 * r
        else:
            err = r - self._srtt8 // 8
            self._srtt8 += err
            self._rttvar4 += abs(err) - self._rttvar4 // 4
        # MIN_RTT is at least 1 ms (the clock's resolution): a 0 would make the lost-retransmission probe fire at
        # rto_min_ms whatever its backoff (SPEC.md 7.2 multiplies MIN_RTT).
        self._min_rtt = max(1, r if self._min_rtt is None else min(self._min_rtt, r))
        self._rto = self._computed_rto()
        # The stat keeps the last estimate, also after a peer restart reset the estimator (as the C engine).
        self._stats["srtt_ms"] = self._srtt8 // 8

    def _computed_rto(self) -> int:
        if self._srtt8 is None:
            return self._cfg["rto_initial_ms"]
        rto = self._srtt8 // 8 + max(1, self._rttvar4)
        return max(self._cfg["rto_min_ms"], min(rto, self._cfg["rto_max_ms"]))

    # ---- data received (SPEC.md 6.2, 6.4) --------------------------------------------------------------------

    def _on_data(self, seq: int, more: bool, channel: int, payload: bytes, now: int) -> None:
        d = seq_diff(seq, self._rx_base)
        if d < 0:
            self._stats["duplicates"] += 1
            self._ack_at = now
            return
        if d >= self._window:
            self._stats["out_of_window"] += 1
            self._ack_at = now
            return
        if seq_diff(seq, self._rcv_nxt) < 0 or seq in self._rx:
            self._stats["duplicates"] += 1
            self._ack_at = now
            return
        self._rx[seq] = _RxFrame(more, channel, payload)
        if seq == self._rcv_nxt:
            while self._rcv_nxt in self._rx:
                self._rcv_nxt = (self._rcv_nxt + 1) & 0xFFFF
            self._inorder_unacked += 1
            # Every second in-order frame at once, and every one when the negotiated window is 1: the peer can
            # send nothing else until it is acknowledged, a delay would only stall it (SPEC.md 6.3).
            if self._inorder_unacked >= 2 or self._snd_window == 1:
                self._ack_at = now
            elif self._ack_at is None:
                self._ack_at = now + self._cfg["ack_delay_ms"]
        else:
            self._stats["out_of_order"] += 1
            self._ack_at = now
        self._reassemble()

    def _reassemble(self) -> None:
        """Moves in-order fragments from the window into the reassembly, while no message waits for the app."""
        r = self._reasm
        while not self._message_waiting and self._rx_base != self._rcv_nxt:
            f = self._rx.pop(self._rx_base)
            self._rx_base = (self._rx_base + 1) & 0xFFFF
            if not r.active:
                r.active, r.channel, r.oversize = True, f.channel, False
                r.buf = bytearray()
            if not r.oversize:
                if len(r.buf) + len(f.payload) > self._max_message:
                    # Longer than we accept: drop it whole (its frames are still acknowledged). Counted now, when
                    # it is known, not at its end, which may never come (a peer restart).
                    r.oversize = True
                    r.buf = bytearray()
                    self._stats["rx_oversize"] += 1
                else:
                    r.buf += f.payload
            if not f.more:
                if not r.oversize:
                    self._events.append(MessageReceived(r.channel, bytes(r.buf)))
                    self._message_waiting = True
                    self._stats["messages_rx"] += 1
                self._reasm = r = _Reassembly()

    def _push_event(self, ev: LinkEvent) -> None:
        if self._link_events >= MAX_LINK_EVENTS:
            self._stats["events_dropped"] += 1
            return
        self._link_events += 1
        self._events.append(ev)


def _config_problem(cfg: dict[str, int], session: int, role: int, fw_len: int) -> str | None:
    """The first configuration rule broken, in words, or None (the C engine's rules, SPEC.md 12 and 13)."""
    if session == 0:
        return "session must be non-zero (random, new at every start)"
    if not 0 <= role <= 3:
        return "role must be 0..3 (glassbridge.proto Role)"
    if fw_len > MAX_FIRMWARE_VERSION:
        return f"firmware_version is {fw_len} bytes in UTF-8; the Hello holds at most {MAX_FIRMWARE_VERSION}"
    if not MIN_FRAME <= cfg["max_frame"] <= MAX_FRAME:
        return f"max_frame must be {MIN_FRAME}..{MAX_FRAME}"
    if not 1 <= cfg["window"] <= MAX_WINDOW:
        return f"window must be 1..{MAX_WINDOW} (the SACK bitmap has 32 bits)"
    if not 1 <= cfg["max_message"] <= MAX_MESSAGE:
        return f"max_message must be 1..{MAX_MESSAGE}"
    if cfg["tx_queue_bytes"] < cfg["max_message"] + QUEUE_OVERHEAD:
        return "tx_queue_bytes must be at least max_message + 4 (room for one largest message)"
    if not cfg["rto_min_ms"] <= cfg["rto_initial_ms"] <= cfg["rto_max_ms"]:
        return "the timers need rto_min_ms <= rto_initial_ms <= rto_max_ms"
    return None

