"""The glassbridge link in Python: the C engine the firmware runs (protocol/c/link*.c), behind a typed API.

The link carries messages reliably and in order over a lossy byte stream (UART) or datagrams (BLE): SPEC.md
"Link layer". It does no I/O (h11 style): a transport feeds it what arrived and the time, writes what it
returns, and sleeps until the next deadline.

    link = Link(profile="uart", role=Role.SOC)
    link.send(Channel.CONTROL, payload, now_ms)          # queued; LinkQueueFull is backpressure
    link.receive(bytes_from_the_port, now_ms)            # any slice of the stream
    while (frame := link.poll_tx(now_ms)) is not None:   # also runs the timers: call it at the deadline
        port.write(frame)
    for event in link.poll_events():                     # MessageReceived, LinkUp, LinkDown, PeerReset, ...
        ...
    sleep_until(link.next_deadline(now_ms))

Time is any monotonic millisecond clock as an int (`time.monotonic_ns() // 1_000_000`); the Link counts from the
first value it sees, and the engine's 32-bit clock may wrap without harm. A Link is not thread-safe: drive it from
one thread (the native calls are short and keep the GIL).

The engine is the extension `glassbridge.protocol._link`, which holds the C engine and nothing else. Its C enums
are Python IntEnums there (`Channel`, `Role`, `LinkState` are re-exported here), and its configuration is checked
by the C engine's own rules: a value out of range raises LinkConfigError with the C engine's sentence.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields
from typing import Any, Literal, Union

from glassbridge.protocol import _link
from glassbridge.protocol.errors import (
    InvalidChannel,
    LinkConfigError,
    LinkError,
    LinkIncompatible,
    LinkQueueFull,
    MessageTooLarge,
)

__all__ = [
    "Channel",
    "Link",
    "LinkDown",
    "LinkEvent",
    "LinkState",
    "LinkStats",
    "LinkUp",
    "MessageReceived",
    "PeerInfo",
    "PeerReset",
    "Profile",
    "Role",
    "VersionMismatch",
]

_MASK = 0xFFFFFFFF

#: Timer options of Link (milliseconds; 0 or absent = the SPEC.md default).
TIMERS = (
    "hello_interval_ms",
    "heartbeat_ms",
    "link_timeout_ms",
    "ack_delay_ms",
    "rto_initial_ms",
    "rto_min_ms",
    "rto_max_ms",
)

#: The keys of Link.config: the engine's configuration after defaults were filled in.
CONFIG_KEYS = ("profile", "max_frame", "window", "max_message", "tx_queue_bytes", *TIMERS, "protocol_version",
               "min_protocol_version")

Profile = Literal["uart", "packet"]

# The C engine's enums (link.h), as IntEnums made by the extension: the numbers are written once, in C.
#: Channels: CONTROL (requests, answers, events), AUDIO (microphone, speaker), BULK (transfers); LINK (0) is the
#: engine's own (hellos, acknowledgements, pings).
Channel = _link.Channel
#: Who an end is (glassbridge.proto `Role`): informs the peer, changes no behaviour.
Role = _link.Role
#: HANDSHAKE (no peer yet, or a restarted peer not yet confirmed), UP, DOWN (nothing heard for link_timeout_ms:
#: queues kept, hellos resume), INCOMPATIBLE (the peer speaks a protocol version we cannot, or it cannot ours).
LinkState = _link.LinkState


@dataclass(frozen=True)
class PeerInfo:
    """The peer as its last Hello described it."""

    protocol_version: int
    min_protocol_version: int
    session: int
    boot_counter: int
    max_frame: int
    window: int
    max_message: int
    capabilities: int
    role: Role
    firmware_version: str

    @classmethod
    def _from_native(cls, d: dict[str, Any]) -> PeerInfo:
        return cls(**{**d, "role": Role(d["role"]) if d["role"] in Role._value2member_map_ else Role.UNSPECIFIED})


@dataclass(frozen=True)
class LinkStats:
    """The engine's counters (gb_link_stats): frames, errors seen on the wire, retransmissions, timing."""

    frames_tx: int
    frames_rx: int
    data_frames_tx: int
    retransmits: int
    acks_tx: int
    crc_errors: int
    framing_errors: int
    duplicates: int
    out_of_order: int
    messages_tx: int
    messages_rx: int
    link_downs: int
    peer_resets: int
    bytes_tx: int
    bytes_rx: int
    srtt_ms: int
    rto_ms: int
    out_of_window: int
    rx_oversize: int
    events_dropped: int
    rewinds: int  # UART: frames in flight cut again into smaller fragments (REWIND/REWOUND, SPEC.md 6.5)
    frag_size: int  # the largest fragment sent now (UART: smaller on a lossy line, SPEC.md 6.1); 0 before a peer


@dataclass(frozen=True)
class MessageReceived:
    """A complete message from the peer, in order, exactly once."""

    channel: int
    data: bytes


@dataclass(frozen=True)
class LinkUp:
    """The handshake completed (first time, or again after a link loss with the same peer: nothing was lost)."""

    peer: PeerInfo


@dataclass(frozen=True)
class LinkDown:
    """Nothing heard for link_timeout_ms. Queued messages are kept and go out when the link is back."""


@dataclass(frozen=True)
class PeerReset:
    """The peer restarted (a new session, e.g. an MCU reboot): `dropped` messages of ours it had not acknowledged
    are gone; re-synchronise application state (e.g. resume a transfer from the offset the peer reports)."""

    peer: PeerInfo
    dropped: int


@dataclass(frozen=True)
class VersionMismatch:
    """The peer cannot talk to us or we to it; `peer` holds its protocol versions. Both ends report this."""

    peer: PeerInfo


LinkEvent = Union[MessageReceived, LinkUp, LinkDown, PeerReset, VersionMismatch]

_EventType = _link.EventType
_Status = _link.Status


class Link:
    """One end of a glassbridge link (SPEC.md), sans-IO. See the module docstring for the driving loop.

    profile: "uart" (COBS frames with CRC-32C on a byte stream) or "packet" (one frame per datagram: BLE).
    session: random and non-zero, new for every Link (default: from `secrets`); the peer detects our restarts
    by it. boot_counter, capabilities, firmware_version, role: told to the peer in the Hello.
    max_frame, window, max_message: what this end accepts; the link uses the smaller of both ends' values.
    tx_queue_bytes: room for outgoing messages (each costs its length + 4) until the peer acknowledges them.
    Timers (milliseconds, 0 = default): hello_interval_ms 100, heartbeat_ms 250, link_timeout_ms 1000,
    ack_delay_ms 2, rto_initial_ms 200, rto_min_ms 20, rto_max_ms 1000.
    protocol_version, min_protocol_version: for tests only (provoke a version mismatch).
    Raises LinkConfigError on values out of range, with the C engine's sentence naming the field and its range
    (the values are checked once, in C, when the engine's LinkConfig is made).
    """

    def __init__(
        self,
        *,
        profile: Profile = "uart",
        role: Role = Role.SOC,
        session: int | None = None,
        boot_counter: int = 0,
        capabilities: int = 0,
        firmware_version: str = "",
        max_frame: int = 1024,
        window: int = 16,
        max_message: int = 4096,
        tx_queue_bytes: int = 65536,
        protocol_version: int | None = None,
        min_protocol_version: int | None = None,
        **timers_ms: int,
    ) -> None:
        kinds = {"uart": _link.Profile.UART, "packet": _link.Profile.PACKET}
        if profile not in kinds:
            raise LinkConfigError(f"profile must be 'uart' or 'packet', got {profile!r}")
        unknown = set(timers_ms) - set(TIMERS)
        if unknown:
            raise LinkConfigError(f"unknown Link options {sorted(unknown)}: the timers are {', '.join(TIMERS)}")
        if session is None:
            session = secrets.randbits(32) or 1
        try:
            config = _link.LinkConfig(
                profile=kinds[profile],
                role=role,
                session=session,
                boot_counter=boot_counter,
                capabilities=capabilities,
                firmware_version=firmware_version,
                max_frame=max_frame,
                window=window,
                max_message=max_message,
                tx_queue_bytes=tx_queue_bytes,
                protocol_version=protocol_version or 0,
                min_protocol_version=min_protocol_version or 0,
                **timers_ms,
            )
        except (ValueError, TypeError) as exc:
            raise LinkConfigError(str(exc)) from exc
        self._engine = _link.LinkEngine(config)
        self.profile: Profile = profile
        self.session = session
        self._t0: int | None = None  # the caller's clock at the engine's time 0
        self._config = {key: int(getattr(config, key)) for key in CONFIG_KEYS}

    # ---- time ------------------------------------------------------------------------------------------------

    def _now(self, now_ms: int) -> int:
        if self._t0 is None:
            self._t0 = now_ms
        return (now_ms - self._t0) & _MASK

    # ---- driving ---------------------------------------------------------------------------------------------

    def receive(self, data: bytes | bytearray | memoryview, now_ms: int) -> None:
        """Bytes from the wire. uart: any slice of the stream (noise is counted and skipped); packet: one datagram."""
        self._engine.receive(data, self._now(now_ms))

    def send(self, channel: int, message: bytes | bytearray | memoryview, now_ms: int) -> None:
        """Queues one message for reliable, in-order delivery on `channel` (Channel.CONTROL/AUDIO/BULK).

        Raises LinkQueueFull (backpressure: retry after acknowledgements), MessageTooLarge, InvalidChannel,
        LinkIncompatible. The bytes are copied.
        """
        status = self._engine.send(int(channel), message, self._now(now_ms))
        if status == _Status.OK:
            return
        size = len(memoryview(message))
        if status == _Status.ERR_QUEUE_FULL:
            raise LinkQueueFull(size + 4, self.tx_free)
        if status == _Status.ERR_TOO_LARGE:
            raise MessageTooLarge(size, self.max_message)
        if status == _Status.ERR_BAD_CHANNEL:
            raise InvalidChannel(int(channel))
        if status == _Status.ERR_INCOMPATIBLE:
            peer = self.peer
            theirs = f"{peer.min_protocol_version}..{peer.protocol_version}" if peer else "unknown"
            raise LinkIncompatible(
                f"cannot send: the peer speaks link protocol versions {theirs}, this end "
                f"{self.min_protocol_version}..{self.protocol_version}; update the older side"
            )
        raise LinkError(f"send failed: {_link.status_str(status)}")

    def poll_tx(self, now_ms: int) -> bytes | None:
        """The next frame to write (uart: COBS-encoded with its 0x00), or None. Runs the timers too."""
        frame: bytes | None = self._engine.poll_tx(self._now(now_ms))
        return frame

    def poll_events(self) -> list[LinkEvent]:
        """Every event since the last call, in order."""
        out: list[LinkEvent] = []
        while (ev := self._engine.poll_event()) is not None:
            kind, channel, data, dropped, peer = ev
            if kind == _EventType.MESSAGE:
                out.append(MessageReceived(channel, data))
            elif kind == _EventType.LINK_UP:
                out.append(LinkUp(PeerInfo._from_native(peer)))
            elif kind == _EventType.LINK_DOWN:
                out.append(LinkDown())
            elif kind == _EventType.PEER_RESET:
                out.append(PeerReset(PeerInfo._from_native(peer), dropped))
            elif kind == _EventType.VERSION_MISMATCH:
                out.append(VersionMismatch(PeerInfo._from_native(peer)))
        return out

    def next_deadline(self, now_ms: int) -> int:
        """When poll_tx must run next even if nothing arrives, on the caller's clock (== now_ms: at once)."""
        now = self._now(now_ms)
        delta = (self._engine.next_deadline(now) - now) & _MASK
        return now_ms + (delta if delta < 0x80000000 else 0)

    # ---- state -----------------------------------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        return self._engine.state

    @property
    def stats(self) -> LinkStats:
        d = self._engine.stats()
        return LinkStats(**{f.name: d[f.name] for f in fields(LinkStats)})

    @property
    def peer(self) -> PeerInfo | None:
        d = self._engine.peer()
        return None if d is None else PeerInfo._from_native(d)

    @property
    def tx_free(self) -> int:
        """Bytes free in the transmit queue (a message of n bytes needs n + 4)."""
        return int(self._engine.tx_free)

    @property
    def tx_pending(self) -> int:
        """Messages queued or in flight, not yet acknowledged by the peer."""
        return int(self._engine.tx_pending)

    @property
    def max_message(self) -> int:
        """The largest message that can be sent now: min(ours, the peer's), or ours before the handshake."""
        return int(self._engine.max_message)

    @property
    def max_wire_size(self) -> int:
        """The longest frame poll_tx returns (a writer with limited room asks for a frame only when it has this)."""
        return int(self._engine.max_wire_size)

    @property
    def protocol_version(self) -> int:
        return int(self._config["protocol_version"])

    @property
    def min_protocol_version(self) -> int:
        return int(self._config["min_protocol_version"])

    @property
    def config(self) -> dict[str, int]:
        """The engine's configuration after defaults were filled in (timers included)."""
        return dict(self._config)

    def __repr__(self) -> str:
        return f"Link(profile={self.profile!r}, session={self.session:#010x}, state={self.state.name})"
