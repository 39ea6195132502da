"""The BLE transport under the phone link: one bleak connection at a time, the C link engine across all of them.

Per connection (SPEC.md 16.4, in this order): `attach(client)` learns the real ATT MTU, reads the info
characteristic (ServiceInfo: incompatible versions end here, with both in the error), subscribes to downlink, and
only then lets frames flow. The frames of the link engine (glassbridge.protocol.link.Link, profile "packet": the
same C code as the MCU link) go out one per ATT write without response to uplink; every downlink notification is
one frame into `link.receive`. `detach()` (the connection is gone) stops all writing.

Why the Link outlives connections: its session is what lets the phone recognise us after a drop. It goes on
with the same session (the phone's link brings it UP again, and everything unacknowledged is retransmitted),
unless the new connection's frame limit is smaller than the one the session negotiated (SPEC.md 16.4): frames in
flight might not fit, so it starts a new Link (a new session), which the phone sees as our restart and the
application handles as a PeerReset (`LinkReplaced` here).

Why nothing is polled while disconnected: a frame taken from the engine with no connection would be lost and
only come back after a retransmission timeout, doubled at every expiry while the phone is away. Leaving the
engine untouched keeps those frames in it; at the first poll after reconnecting, the deadlines that passed fire
at once and the frames go out again.

How frames go out: BlueZ's AcquireWrite hands out a SOCK_SEQPACKET socket on which every datagram becomes one
ATT Write Command, together with the connection's ATT MTU. That is BlueZ's path for streaming writes: one
`send()` per frame instead of a D-Bus round trip per WriteValue, and the socket's buffer is the backpressure.
When AcquireWrite is not available, frames go through bleak's `write_gatt_char(response=False)`.

The MTU pitfall: bleak's BlueZ backend reports 23 unless asked. `_acquire_mtu()` (AcquireWrite, which returns
the negotiated MTU with a socket we close at once) is the only way that works on every BlueZ; the public
`max_write_without_response_size` reads the "MTU" property of BlueZ >= 5.62 and is the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from glassbridge.phone.errors import PhoneError, incompatible_phone
from glassbridge.protocol import gatt
from glassbridge.protocol.client import now_ms
from glassbridge.protocol.errors import LinkIncompatible, LinkLost, LinkQueueFull, MessageDecodeError
from glassbridge.protocol.link import Link, LinkEvent, LinkState, Role

__all__ = ["Attached", "BleLink", "Detached", "LinkReplaced", "TransportEvent", "now_ms"]

log = logging.getLogger(__name__)

#: The link protocol versions this end speaks (the engine's own; see Link.protocol_version).
_OWN_VERSIONS: tuple[int, int] | None = None


@dataclass(frozen=True)
class Attached:
    """A connection is ready: secured, MTU known, info read, subscribed. Frames flow from now on."""

    address: str
    mtu: int
    info: gatt.ServiceInfoData


@dataclass(frozen=True)
class Detached:
    """The connection went away (the Link and its queues stay)."""

    reason: str


@dataclass(frozen=True)
class LinkReplaced:
    """A new Link (new session) replaced the old one: the new connection's frames are smaller than the session's.
    `dropped` messages queued in the old Link are gone; resume transfers as after a PeerReset."""

    old_session: int
    new_session: int
    dropped: int


TransportEvent = LinkEvent | Attached | Detached | LinkReplaced


def own_versions() -> tuple[int, int]:
    """(min_protocol_version, protocol_version) of this glassbridge's link engine."""
    global _OWN_VERSIONS
    if _OWN_VERSIONS is None:
        probe = Link(profile="packet", role=Role.SOC, max_frame=128)
        _OWN_VERSIONS = (probe.min_protocol_version, probe.protocol_version)
    return _OWN_VERSIONS


def check_compatible(info: gatt.ServiceInfoData) -> None:
    """PeerIncompatible unless the companion's version range overlaps ours (SPEC.md section 9)."""
    ours_min, ours_max = own_versions()
    if info.min_protocol_version <= ours_max and info.protocol_version >= ours_min and info.protocol_version:
        return
    raise incompatible_phone(info.min_protocol_version, info.protocol_version, ours_min, ours_max, info.app_version)


async def acquire_mtu(client: Any) -> int:
    """The connection's real ATT MTU (see the module docstring for why this is not `client.mtu_size`)."""
    backend = getattr(client, "_backend", None)
    acquire = getattr(backend, "_acquire_mtu", None)
    if acquire is not None:
        try:
            await acquire()
            mtu = int(client.mtu_size)
            if mtu > 23:
                return mtu
        except Exception as exc:  # noqa: BLE001 - fall back to the public property below
            log.debug("AcquireWrite for the MTU failed (%s); trying the MTU property", exc)
    char = client.services.get_characteristic(gatt.UPLINK_UUID)
    if char is not None:
        return int(char.max_write_without_response_size) + 3
    return int(client.mtu_size)


async def acquire_write_socket(char: Any) -> tuple[socket.socket, int] | None:
    """BlueZ's AcquireWrite on `char` (a bleak BlueZ characteristic): (non-blocking socket, ATT MTU), or None
    when this BlueZ or characteristic does not offer it (then frames go through WriteValue)."""
    obj = getattr(char, "obj", None)
    path = obj[0] if isinstance(obj, tuple) and obj else None
    if not isinstance(path, str):
        return None
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    try:
        bus = await MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True).connect()
    except (OSError, ValueError) as exc:
        log.debug("no D-Bus for AcquireWrite: %s", exc)
        return None
    try:
        reply = await bus.call(Message(destination="org.bluez", path=path, member="AcquireWrite",
                                       interface="org.bluez.GattCharacteristic1", signature="a{sv}", body=[{}]))
        if reply is None or reply.message_type == MessageType.ERROR or not reply.unix_fds:
            log.debug("AcquireWrite refused (%s): writing through WriteValue",
                      getattr(reply, "error_name", "no reply"))
            for fd in getattr(reply, "unix_fds", []) or []:
                with contextlib.suppress(OSError):
                    os.close(fd)
            return None
        sock = socket.socket(fileno=reply.unix_fds[0])
        sock.setblocking(False)
        return sock, int(reply.body[1])
    finally:
        bus.disconnect()


class BleLink:
    """The link engine over whatever bleak connection is attached. Events go to `on_event` (called in the loop).

    `send()` waits while the engine's transmit queue is full (backpressure: the queue is bounded by
    LINK_SETTINGS["tx_queue_bytes"]) and returns once the engine holds the message; delivery is then the
    engine's job, across drops and reconnections.
    """

    def __init__(self, on_event: Callable[[TransportEvent], None], *, link_options: dict[str, Any] | None = None,
                 write_with_response: bool = False) -> None:
        self._on_event = on_event
        self._link_options = dict(link_options or {})
        self.write_with_response = write_with_response
        self.use_write_socket = not write_with_response
        self._socket: socket.socket | None = None
        self.link: Link | None = None
        self.client: Any = None
        self.mtu = 0
        self.info: gatt.ServiceInfoData | None = None
        self.connected = False
        self._generation = 0
        self._uplink: Any = None
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._link_ready = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        # Counters the engine cannot keep: notifications that arrived with no Link or after a detach.
        self.notifications_ignored = 0
        self.writes_failed = 0
        self.links_replaced = 0

    # ---- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="glassbridge-phone-link")

    async def close(self) -> None:
        self._closed = True
        self._close_socket()
        self._wake.set()
        self._room.set()
        self._link_ready.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def attach(self, client: Any, address: str) -> gatt.ServiceInfoData:
        """Makes `client` (a connected, secured BleakClient) the link's connection; SPEC.md 16.4's order.

        Raises PeerIncompatible (versions), PhoneError (MTU too small, info unreadable); bleak errors pass
        through for the caller's reconnect policy.
        """
        uplink = client.services.get_characteristic(gatt.UPLINK_UUID)
        if uplink is None:
            raise PhoneError(f"{address} hosts no uplink characteristic {gatt.UPLINK_UUID}: not a glassbridge "
                             "companion, or an incomplete one")
        acquired = await acquire_write_socket(uplink) if self.use_write_socket else None
        mtu = acquired[1] if acquired is not None else await acquire_mtu(client)
        try:
            try:
                limit = gatt.frame_limit(mtu)
            except ValueError as exc:
                raise PhoneError(f"the connection to {address} has ATT_MTU {mtu}: {exc}") from exc
            return await self._attach(client, address, uplink, mtu, limit, acquired)
        except BaseException:
            if acquired is not None and acquired[0] is not self._socket:
                acquired[0].close()
            raise

    async def _attach(self, client: Any, address: str, uplink: Any, mtu: int, limit: int,
                      acquired: tuple[socket.socket, int] | None) -> gatt.ServiceInfoData:
        raw = await client.read_gatt_char(gatt.INFO_UUID)
        try:
            info = gatt.decode_service_info(bytes(raw))
        except MessageDecodeError as exc:
            raise PhoneError(f"{address} is not a glassbridge companion: {exc}") from exc
        check_compatible(info)
        self._prepare_link(limit)
        self._generation += 1
        generation = self._generation

        def on_notify(_char: Any, data: bytearray) -> None:
            self._on_notification(generation, data)

        await client.start_notify(gatt.DOWNLINK_UUID, on_notify)
        self._close_socket()
        self._socket = acquired[0] if acquired is not None else None
        self.client, self._uplink, self.mtu, self.info = client, uplink, mtu, info
        self.connected = True
        self._on_event(Attached(address, mtu, info))
        self._wake.set()
        return info

    def detach(self, reason: str) -> None:
        """The connection is gone: stop writing (idempotent)."""
        if not self.connected and self.client is None:
            return
        self.connected = False
        self.client = None
        self._uplink = None
        self._close_socket()
        self._generation += 1
        self._on_event(Detached(reason))
        self._wake.set()

    def _prepare_link(self, limit: int) -> None:
        """Creates the Link on the first connection; replaces it when this connection's frames are smaller."""
        options: dict[str, Any] = {**gatt.LINK_SETTINGS, **self._link_options}
        old = self.link
        if old is not None:
            negotiated = old.config["max_frame"]
            peer = old.peer
            if peer is not None:
                negotiated = min(negotiated, peer.max_frame)
            if limit >= negotiated:
                return
            new = Link(profile="packet", role=Role.SOC, max_frame=limit, **options)
            log.info("new connection allows %d-byte frames, the link session negotiated %d: starting a new "
                     "session (transfers resume from the phone's offset)", limit, negotiated)
            dropped = old.tx_pending
            self.link = new
            self.links_replaced += 1
            self._on_event(LinkReplaced(old.session, new.session, dropped))
        else:
            self.link = Link(profile="packet", role=Role.SOC, max_frame=limit, **options)
        self._link_ready.set()
        self._room.set()

    # ---- data path ------------------------------------------------------------------------------------

    def _on_notification(self, generation: int, data: bytearray) -> None:
        link = self.link
        if generation != self._generation or link is None:
            self.notifications_ignored += 1  # a late frame of an old connection (SPEC 16.4: never mixed in)
            return
        # Malformed or oversized frames are counted by the engine (framing_errors) and dropped; never raise here.
        link.receive(bytes(data), now_ms())
        self._wake.set()

    async def send(self, channel: int, data: bytes) -> None:
        """Queues one message in the engine, waiting for room (backpressure). LinkIncompatible -> PeerIncompatible."""
        while True:
            if self._closed:
                raise LinkLost("the phone link was closed", peer="phone")
            link = self.link
            if link is None:
                self._link_ready.clear()
                await self._link_ready.wait()
                continue
            try:
                link.send(channel, data, now_ms())
            except LinkQueueFull:
                self._room.clear()
                await self._room.wait()
                continue
            except LinkIncompatible as exc:
                info = self.info
                if info is not None:
                    ours = own_versions()
                    raise incompatible_phone(info.min_protocol_version, info.protocol_version, *ours,
                                             info.app_version) from exc
                raise PhoneError(str(exc)) from exc
            self._wake.set()
            return

    @property
    def state(self) -> LinkState | None:
        return None if self.link is None else self.link.state

    def stats(self) -> dict[str, Any]:
        """The engine's counters plus the transport's own."""
        out: dict[str, Any] = asdict(self.link.stats) if self.link is not None else {}
        out.update(notifications_ignored=self.notifications_ignored, writes_failed=self.writes_failed,
                   links_replaced=self.links_replaced, write_path=self.write_path)
        return out

    def _close_socket(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    @property
    def write_path(self) -> str:
        """"socket" (AcquireWrite), "dbus" (WriteValue) or "none" (not connected)."""
        return "none" if not self.connected else ("socket" if self._socket is not None else "dbus")

    async def _write(self, frame: bytes) -> bool:
        client, uplink, sock = self.client, self._uplink, self._socket
        if client is None or uplink is None:
            return False
        if sock is not None:
            try:
                await asyncio.get_running_loop().sock_sendall(sock, frame)
                return True
            except OSError as exc:  # the connection went away under the socket: the engine retransmits
                self.writes_failed += 1
                log.debug("uplink socket write failed (%s)", exc)
                return False
        try:
            await client.write_gatt_char(uplink, frame, response=self.write_with_response)
            return True
        except Exception as exc:  # noqa: BLE001 - bleak/D-Bus errors: the engine retransmits the frame
            self.writes_failed += 1
            log.debug("uplink write failed (%s); the link retransmits", exc)
            return False

    async def _run(self) -> None:
        while not self._closed:
            link = self.link
            if link is None or not self.connected:
                self._wake.clear()
                await self._wake.wait()
                continue
            generation = self._generation
            now = now_ms()
            while self.connected and generation == self._generation:
                frame = link.poll_tx(now)
                if frame is None:
                    break
                if not await self._write(frame):
                    break
                now = now_ms()
                self._deliver(link)
            self._deliver(link)
            if self.link is not link:
                continue
            # At least 1 ms: a deadline that is already due after poll_tx returned None must not spin the loop.
            wait = max(1, link.next_deadline(now_ms()) - now_ms()) / 1000.0
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    def _deliver(self, link: Link) -> None:
        for event in link.poll_events():
            try:
                self._on_event(event)
            except Exception:  # a bug in a handler must not stop the link
                log.exception("phone link event handler failed on %s", type(event).__name__)
        self._room.set()
