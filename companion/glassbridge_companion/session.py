"""One link session per bonded glasses (SPEC.md 16.4): kept across BLE reconnections, driven on asyncio.

The link engine does no I/O. A `LinkSession` feeds it the frames of whichever connection the glasses use now,
writes what it returns to that connection (a notification each), hands its events to the application and
sleeps until the engine's next deadline. Between connections it has no writer and polls nothing: the link keeps
its queue, its sequence state and its session, as on a UART whose cable was pulled; when the glasses come back
their Hellos bring it UP again and only the unacknowledged is resent (by the link, never by us).

When a new connection allows smaller frames than the session negotiated (a smaller ATT_MTU), frames in flight
might not fit: the session is dropped and a new one started, which the glasses see as a restart (SPEC 16.4);
transfers then resume through TransferQuery (SPEC 10).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from glassbridge_companion.engine import IMPLEMENTATION, PeerLink
from glassbridge.protocol.errors import LinkError, LinkQueueFull
from glassbridge.protocol.gatt import LINK_SETTINGS
from glassbridge.protocol.link import LinkEvent, LinkState, Role

__all__ = ["LinkSession", "monotonic_ms"]

log = logging.getLogger(__name__)

#: Messages the application queued while the link's transmit queue was full: bounded, so a stalled peer cannot
#: make the companion grow without end (the oldest are dropped and counted beyond this).
OUTBOX_LIMIT_BYTES = 4 << 20


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


Writer = Callable[[bytes], bool]  # writes one frame to the current connection; False = could not (counted)


class LinkSession:
    """The companion's end of the link with one glasses identity."""

    def __init__(
        self,
        identity: str,
        max_frame: int,
        *,
        on_event: Callable[[LinkSession, LinkEvent], None],
        capabilities: int = 0,
        app_version: str = "",
        bond: str = "",
    ) -> None:
        self.identity = identity
        #: Fingerprint of the bond's key this session was created under (server.BondBook.fingerprint): the
        #: companion hands the session only to connections secured with that same bond.
        self.bond = bond
        self._on_event = on_event
        self._capabilities = capabilities
        self._app_version = app_version
        self.link = self._new_link(max_frame)
        self.restarts = 0  # sessions dropped because a new connection's frames were too small
        self.messages_dropped = 0
        self._outbox: deque[tuple[int, bytes]] = deque()
        self._outbox_bytes = 0
        self._writer: Writer | None = None
        self._writer_token: object | None = None
        self._frame_room = max_frame
        self._wake = asyncio.Event()
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"link {identity}")

    def _new_link(self, max_frame: int) -> PeerLink:
        return PeerLink(profile="packet", role=Role.PHONE, capabilities=self._capabilities,
                        firmware_version=self._app_version, max_frame=max_frame, **LINK_SETTINGS)

    # ---- the transport side ---------------------------------------------------------------------------------

    def attach(self, token: object, writer: Writer, frame_room: int) -> None:
        """Frames go to this connection from now on (the glasses subscribed on a secure link)."""
        peer = self.link.peer
        negotiated = min(self.link.config["max_frame"], peer.max_frame if peer else self.link.config["max_frame"])
        if frame_room < negotiated:
            log.warning("glasses %s: the new connection carries frames of %d bytes, the session negotiated %d: "
                        "starting a new link session (the glasses will see a restart)", self.identity, frame_room,
                        negotiated)
            self.link = self._new_link(frame_room)
            self.restarts += 1
        self._writer, self._writer_token, self._frame_room = writer, token, frame_room
        self._wake.set()

    def detach(self, token: object) -> None:
        """The connection `token` is gone or unsubscribed: stop sending (the link keeps everything)."""
        if self._writer_token is token:
            self._writer, self._writer_token = None, None

    def writes_to(self, token: object) -> bool:
        """Whether frames currently go to the connection `token`."""
        return self._writer_token is token

    @property
    def attached(self) -> bool:
        return self._writer is not None

    def receive(self, frame: bytes) -> None:
        """One uplink value = one frame (the link counts and discards malformed ones)."""
        self.link.receive(frame, monotonic_ms())
        self._wake.set()

    # ---- the application side -------------------------------------------------------------------------------

    def send(self, channel: int, message: bytes) -> None:
        """Queue one message for the glasses (kept across disconnections, like the link's own queue)."""
        while self._outbox and self._outbox_bytes + len(message) > OUTBOX_LIMIT_BYTES:
            _, old = self._outbox.popleft()
            self._outbox_bytes -= len(old)
            self.messages_dropped += 1
            log.warning("glasses %s: outgoing queue full; dropped a %d-byte message", self.identity, len(old))
        self._outbox.append((channel, message))
        self._outbox_bytes += len(message)
        self._wake.set()

    # ---- driving --------------------------------------------------------------------------------------------

    def _pump(self, now: int) -> None:
        while self._outbox:
            channel, message = self._outbox[0]
            try:
                self.link.send(channel, message, now)
            except LinkQueueFull:
                break  # backpressure: retried after acknowledgements free the queue
            except LinkError as exc:
                self.messages_dropped += 1
                log.error("glasses %s: message of %d bytes on channel %d not sent: %s", self.identity,
                          len(message), channel, exc)
            self._outbox.popleft()
            self._outbox_bytes -= len(message)
        writer = self._writer
        if writer is not None:
            while (frame := self.link.poll_tx(now)) is not None:
                writer(frame)
                if self._writer is not writer:
                    break
        for event in self.link.poll_events():
            try:
                self._on_event(self, event)
            except Exception:  # an application bug must not stop the link of this glasses
                log.exception("glasses %s: error while handling %s", self.identity, type(event).__name__)

    async def _run(self) -> None:
        # The flag, not only the cancellation, ends the loop: Python < 3.12's wait_for can swallow a cancellation
        # that arrives just as the event fires.
        while not self._closed:
            self._wake.clear()
            now = monotonic_ms()
            self._pump(now)
            if self._wake.is_set():
                continue  # the events queued more work
            timeout: float | None = None
            if self._writer is not None:
                timeout = max(1, self.link.next_deadline(now) - now) / 1000
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    def status(self) -> dict[str, Any]:
        peer = self.link.peer
        return {
            "state": LinkState(self.link.state).name,
            "session": self.link.session,
            "peer_session": peer.session if peer else 0,
            "implementation": IMPLEMENTATION,
            "attached": self.attached,
            "max_frame": self.link.config["max_frame"],
            "restarts": self.restarts,
            "messages_dropped": self.messages_dropped,
            "stats": asdict(self.link.stats),
        }
