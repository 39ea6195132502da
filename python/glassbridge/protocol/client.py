"""The client layer both links share: requests and answers, the link's events, resumable uploads.

The MCU (glassbridge.mcu: a UART, its engine driven by a thread) and the phone (glassbridge.phone: BLE, its engine
driven on asyncio) carry one protocol above the link: a Message with a request_id is answered by the messages that
echo it; a peer restart (PeerReset: SPEC.md 8) drops what was in flight, so the requests waiting for it fail and
the transfers ask where they stand (SPEC.md 10); a version mismatch (SPEC.md 9) ends every wait with an error that
says which side to update. `LinkClient` is that layer, written once for any transport that queues a message on a
link (`MessageTransport`) and hands the link's events to `on_event`. `Mcu` and `Phone` are typed facades over it:
each builds its requests, turns its peer's messages into its own events, and says things in its peer's words
through a handful of hooks (a `LinkClient` subclass), never through a second copy of the logic.

The patience rule, for every wait on the peer: `request_timeout` while the link is up, and up to `link_patience`
more while it is down (a pulled cable, a phone out of range: the engine keeps and resends everything, so the
answer may still come), then an error of glassbridge.protocol.errors naming the peer, what was awaited and what
was seen meanwhile; never a bare timeout.

No I/O of its own: the transport moves the bytes; this module imports nothing of glassbridge but `protocol`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any, Generic, Protocol, Self, TypeVar

from glassbridge._events import Broadcaster, EventStream
from glassbridge.protocol.errors import (
    LinkLost,
    MessageDecodeError,
    NotConnected,
    PeerError,
    PeerIncompatible,
    PeerRestarted,
    PeerTimeout,
    RequestFailed,
)
from glassbridge.protocol.link import Channel, LinkDown, LinkUp, MessageReceived, PeerInfo, PeerReset, VersionMismatch
from glassbridge.protocol.messages import decode, encode, enum_name, pb
from glassbridge.protocol.transfer import ChunkFormat, Upload, UploadReport

__all__ = ["LinkClient", "MessageTransport", "PeerClient", "now_ms"]

log = logging.getLogger(__name__)

E = TypeVar("E")
L = TypeVar("L", bound="LinkClient")


def now_ms() -> int:
    """The engines' clock: monotonic milliseconds (the engine keeps 32 bits of it and may wrap without harm)."""
    return time.monotonic_ns() // 1_000_000


class MessageTransport(Protocol):
    """What carries the messages: queues one on the link, waiting while the engine's transmit queue is full
    (backpressure), and returns once the engine holds it; delivery is then the engine's job. SerialTransport
    (glassbridge.mcu.transport) and BleLink (glassbridge.phone.ble) are two."""

    async def send(self, channel: int, data: bytes) -> None: ...


class LinkClient:
    """Requests, answers and events over one peer's link. Feed it every event of the link and of its transport
    (`on_event`, or `pump` for a transport that queues them), in arrival order, in the event loop.

    The hooks (the methods under "hooks") have neutral defaults; a peer's subclass overrides those it words or
    acts on differently (glassbridge.mcu.client._McuLink, glassbridge.phone.client._PhoneLink)."""

    def __init__(self, transport: MessageTransport, *, peer: str, request_timeout: float,
                 link_patience: float) -> None:
        self.transport = transport
        self.peer = peer
        self.request_timeout = request_timeout
        self.link_patience = link_patience
        self.version_error: PeerIncompatible | None = None
        self.restarts = 0  # peer restarts (and new sessions of our own) seen
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Queue[Any]] = {}
        self._transfers: dict[int, asyncio.Queue[Any]] = {}
        self._up = asyncio.Event()
        self._changed = asyncio.Event()
        self._down_since: float | None = time.monotonic()

    # ---- hooks ----------------------------------------------------------------------------------------------

    def on_message(self, msg: pb.Message, channel: int) -> bool:
        """A message that answers no pending request and no transfer: True when the facade took it."""
        return False

    def on_answer(self, msg: pb.Message) -> None:
        """A message that answered a pending request (the phone also publishes answer parts as events)."""

    def on_link_up(self, peer: PeerInfo) -> None:
        """The link came up (first time, or again with the same peer)."""

    def on_link_down(self) -> None:
        """Nothing was heard from the peer for the link timeout (queues kept: SPEC.md 4.5)."""

    def on_restart(self, event: PeerReset) -> None:
        """The peer restarted, after the requests in flight were failed and the transfers told."""

    def on_other(self, event: object) -> None:
        """An event of the transport's own (a serial port lost, a BLE connection attached), in the same order."""

    def restart_error(self, event: PeerReset) -> PeerRestarted:
        """The error the requests in flight fail with when the peer restarted."""
        return PeerRestarted(f"the {self.peer} restarted its link: {event.dropped} unacknowledged messages were "
                             "dropped; send the request again", peer=self.peer)

    def incompatible(self, peer: PeerInfo) -> PeerIncompatible:
        """The error of a VersionMismatch: both sides' versions and which side to update."""
        ours = self.own_versions()
        return PeerIncompatible(
            f"the {self.peer} speaks link protocol versions {peer.min_protocol_version} to "
            f"{peer.protocol_version}, this glassbridge {ours[0]} to {ours[1]}",
            peer=self.peer, peer_versions=(peer.min_protocol_version, peer.protocol_version), our_versions=ours)

    def own_versions(self) -> tuple[int, int]:
        """(min_protocol_version, protocol_version) of our engine."""
        raise NotImplementedError

    def on_incompatible(self, error: PeerIncompatible) -> None:
        """A VersionMismatch, after every pending request failed with `error`."""

    def stats(self) -> dict[str, Any]:
        """The counters a wait compares before and after, to say what the line did meanwhile."""
        return {}

    def awaited(self, what: str) -> str:
        """`what` (a request's name) as the thing a timeout says was not received."""
        return what

    def down_detail(self, since: dict[str, Any]) -> str:
        """What to add when the link stayed down past the patience (`since`: stats() when the wait began)."""
        return ""

    def silent_detail(self, since: dict[str, Any]) -> str:
        """What to add when no answer came although the link is up."""
        return "the link is up"

    def fatal(self) -> PeerError | None:
        """An error that ends every wait for the link (the phone's central found an incompatible companion)."""
        return None

    def not_connected(self, timeout: float) -> NotConnected:
        """The error of `wait_up` when the link did not come up within `timeout` seconds."""
        return NotConnected(f"link to the {self.peer}", timeout, peer=self.peer)

    # ---- state ----------------------------------------------------------------------------------------------

    @property
    def up(self) -> bool:
        return self._up.is_set()

    def set_up(self, up: bool) -> None:
        """Whether messages flow now; while they do not, waits use their patience (down_for)."""
        if up:
            self._up.set()
            self._down_since = None
        else:
            self._up.clear()
            if self._down_since is None:
                self._down_since = time.monotonic()
        self._changed.set()

    def down_for(self) -> float | None:
        """Seconds the link has not been up (None while up)."""
        return None if self._down_since is None else time.monotonic() - self._down_since

    async def wait_up(self, timeout: float) -> None:
        """Waits until messages flow; the version error or the hook's fatal error when there is one, else
        `not_connected(timeout)` after `timeout` seconds."""
        try:
            await asyncio.wait_for(self._wait_up(), timeout)
        except asyncio.TimeoutError:
            raise self.not_connected(timeout) from None

    async def _wait_up(self) -> None:
        while True:
            fatal = self.version_error or self.fatal()
            if fatal is not None:
                raise fatal
            if self._up.is_set():
                return
            self._changed.clear()
            await self._changed.wait()

    # ---- events ---------------------------------------------------------------------------------------------

    async def pump(self, events: asyncio.Queue[Any]) -> None:
        """Feeds `on_event` from a transport that queues its events (SerialTransport), until cancelled."""
        while True:
            self.on_event(await events.get())

    def on_event(self, event: object) -> None:
        """One event of the link or of its transport, in arrival order: messages are routed, the link's state is
        kept, restarts and version mismatches fail what waits; the transport's own events go to `on_other`."""
        if isinstance(event, MessageReceived):
            self._on_message(event.channel, event.data)
        elif isinstance(event, LinkUp):
            self.version_error = None  # a compatible peer (an updated one, a new session): the mismatch is over
            self.set_up(True)
            self.on_link_up(event.peer)
        elif isinstance(event, LinkDown):
            self.set_up(False)
            self.on_link_down()
        elif isinstance(event, PeerReset):
            self.restarted(self.restart_error(event))
            self.on_restart(event)
        elif isinstance(event, VersionMismatch):
            self.version_error = self.incompatible(event.peer)
            self.fail_pending(self.version_error)
            self._changed.set()
            self.on_incompatible(self.version_error)
        else:
            self.on_other(event)

    def restarted(self, error: PeerRestarted) -> None:
        """The link session changed: pending requests fail with `error`, transfers ask where they stand."""
        self.restarts += 1
        for queue in self._transfers.values():
            queue.put_nowait(error)
        self.fail_pending(error)

    def fail_pending(self, error: PeerError) -> None:
        """Ends every pending request with `error` (their waits raise it)."""
        for queue in self._pending.values():
            queue.put_nowait(error)

    def _on_message(self, channel: int, data: bytes) -> None:
        try:
            msg = decode(data)
        except MessageDecodeError as exc:
            # The link checked the bytes, so this is a bug or a newer peer: say so, drop nothing silently.
            log.error("undecodable message from the %s on channel %d (%d bytes): %s", self.peer, channel, len(data),
                      exc)
            return
        queue = self._pending.get(msg.request_id) if msg.request_id else None
        if queue is not None:
            queue.put_nowait(msg)
            self.on_answer(msg)
            return
        body = msg.WhichOneof("body")
        if body == "transfer_status":
            transfer = self._transfers.get(msg.transfer_status.transfer_id)
            if transfer is not None:
                transfer.put_nowait(msg.transfer_status)
        elif self.on_message(msg, channel):
            pass
        elif body == "result" and msg.result.code:
            log.warning("the %s reports %s: %s", self.peer, enum_name(pb.ErrorCode, msg.result.code, "ERROR_CODE_"),
                        msg.result.message)
        else:
            log.debug("unhandled message from the %s: %s", self.peer, body)

    # ---- requests -------------------------------------------------------------------------------------------

    def next_id(self) -> int:
        """A request_id: never 0 (0 marks events)."""
        return next(self._ids) & 0xFFFFFFFF or next(self._ids)

    async def send(self, msg: pb.Message, channel: int = Channel.CONTROL) -> None:
        """Queues one Message on the link (waits for room, not for delivery)."""
        if self.version_error is not None:
            raise self.version_error
        await self.transport.send(channel, encode(msg))

    def register_request(self, queue: asyncio.Queue[Any]) -> int:
        """A request_id whose answers (and the errors that end it) go to `queue`."""
        rid = self.next_id()
        self._pending[rid] = queue
        return rid

    def unregister_request(self, request_id: int) -> None:
        self._pending.pop(request_id, None)

    async def answers(self, what: str, msg: pb.Message, channel: int = Channel.CONTROL
                      ) -> AsyncGenerator[pb.Message, None]:
        """Sends `msg` as a request (its request_id is set here) and yields every message that echoes it, until
        the caller stops; each answer is awaited by the patience rule."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        msg.request_id = self.register_request(queue)
        since = self.stats()
        try:
            await self.send(msg, channel)
            while True:
                item = await self.next_answer(queue, what, since)
                if isinstance(item, PeerError):
                    raise item
                yield item
        finally:
            self.unregister_request(msg.request_id)

    async def request(self, what: str, msg: pb.Message, channel: int = Channel.CONTROL) -> pb.Message:
        """Sends one request and returns its first answer; a Result with an error code raises RequestFailed."""
        answers = self.answers(what, msg, channel)
        try:
            answer = await answers.__anext__()
        finally:
            await answers.aclose()
        return self.check(what, answer)

    def check(self, what: str, answer: pb.Message) -> pb.Message:
        """`answer`, unless it is a Result with an error code: RequestFailed naming `what`."""
        if answer.WhichOneof("body") == "result" and answer.result.code != pb.ERROR_CODE_OK:
            code = answer.result.code
            raise RequestFailed(what, code, enum_name(pb.ErrorCode, code, "ERROR_CODE_"), answer.result.message,
                                peer=self.peer)
        return answer

    async def next_answer(self, queue: asyncio.Queue[Any], what: str, since: dict[str, Any]) -> Any:
        """The next item of `queue` by the patience rule; LinkLost (down too long) or PeerTimeout (up, silent)."""
        started = time.monotonic()
        deadline = started + self.request_timeout
        while True:
            left = deadline - time.monotonic()
            if left > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    return await asyncio.wait_for(queue.get(), left)
                continue
            down = self.down_for()
            if down is not None and down < self.link_patience:
                deadline = time.monotonic() + 0.1  # the link is down: keep waiting while patience lasts
                continue
            if down is not None:
                detail = self.down_detail(since)
                raise LinkLost(f"waiting for {self.awaited(what)}: the link to the {self.peer} has been down for "
                               f"{down:.1f} s" + (f" ({detail})" if detail else ""), peer=self.peer)
            raise PeerTimeout(self.awaited(what), round(time.monotonic() - started, 1), self.silent_detail(since),
                              peer=self.peer)

    # ---- transfers ------------------------------------------------------------------------------------------

    async def upload(self, kind: str, data: bytes, name: str, chunks: ChunkFormat, *, transfer_id: int,
                     progress: Callable[[int, int], None] | None = None, fresh: bool = False,
                     all_sent: asyncio.Event | None = None, stall_timeout: float | None = None,
                     stall_detail: Callable[[dict[str, Any]], str] | None = None) -> UploadReport:
        """Sends `data` as a resumable transfer (SPEC.md 10; glassbridge.protocol.transfer.Upload says how) once
        the link is up; returns when the peer verified it."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._transfers[transfer_id] = queue
        try:
            await self.wait_up(self.link_patience)
            options: dict[str, Any] = {} if stall_timeout is None else {"stall_timeout": stall_timeout}
            upload = Upload(self, transfer_id, kind, data, name, queue, chunks, progress, fresh=fresh,
                            all_sent=all_sent, stall_detail=stall_detail, **options)
            return await upload.run()
        finally:
            self._transfers.pop(transfer_id, None)


class PeerClient(Generic[L, E]):
    """What a peer's facade (Mcu, Phone) has of its own besides its requests: the LinkClient under it (`_link`,
    the peer's subclass `L`) and its live events, of the facade's value types `E`."""

    def __init__(self, link: L, event_queue: int) -> None:
        self._link = link
        self._events: Broadcaster[E] = Broadcaster(event_queue)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stops the facade's transport and tasks; what still waits on the peer fails with LinkLost."""
        await self._shutdown()
        peer = self._link.peer
        self._link.fail_pending(LinkLost(f"the {peer} client was closed", peer=peer))

    async def _shutdown(self) -> None:
        """Stops what the facade runs (its transport, its tasks)."""
        raise NotImplementedError

    @property
    def up(self) -> bool:
        """Whether messages flow to the peer now."""
        return self._link.up

    @property
    def request_timeout(self) -> float:
        """Seconds an answer may take while the link is up."""
        return self._link.request_timeout

    @property
    def link_patience(self) -> float:
        """Seconds more an answer may take while the link is down."""
        return self._link.link_patience

    def events(self) -> EventStream[E]:
        """The peer's events (the facade's class says which), live, from this call on (nothing arriving before the
        first `async for` step is missed) until `aclose()`. Bounded: a consumer that falls more than the facade's
        EVENT_QUEUE events behind loses the oldest (counted in `events_dropped`)."""
        return self._events.subscribe()

    @property
    def events_dropped(self) -> int:
        return self._events.dropped

    def _publish(self, event: E) -> None:
        self._events.publish(event)
