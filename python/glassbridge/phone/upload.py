"""Uploads to the phone that resume (SPEC.md sections 10 and 16.5): photo and audio transfers.

The sender's rules, as this module applies them:

1. `TransferBegin{id, kind, size, sha256, name}`; the phone answers `TransferStatus{RECEIVING, offset}`: 0 for a
   new transfer, or what it already holds of this id and sha256 (a resume).
2. `TransferData` from that offset, consecutive, each sized to fill whole link fragments: the encoded Message is
   k x (frame - 10) bytes (`transfer_data_size`), so no short fragment pads every message; the phone answers
   every `ack_every`-th and the last with its offset.
3. `VERIFIED` ends it; `FAILED` raises TransferFailed with the phone's error; `OFFSET_MISMATCH` resumes from the
   phone's offset.
4. Within a link session nothing is lost (the link retransmits across drops): the upload just waits. After a
   link restart (the phone's PeerReset, or our own new session on a connection with smaller frames) or when
   unsure (no status while the link is up), it asks `TransferQuery` and resumes from `TransferStatus.offset`, or
   starts again with `TransferBegin` when the phone answers UNKNOWN. It never assumes more progress than the
   last offset the phone confirmed.
5. It always ends: when the phone's confirmed offset has not grown for `stall_timeout` seconds (a phone that
   answers but never takes the data, a link that never frees room for the next message, resyncs that lead
   nowhere) it raises PhoneTimeout naming what was confirmed and what went wrong last.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from glassbridge.phone.errors import ConnectionLost, PhoneError, PhoneTimeout, TransferFailed
from glassbridge.protocol.link import Channel
from glassbridge.protocol.messages import enum_value, pb

__all__ = ["TRANSFER_DATA_LIMIT", "Upload", "UploadHost", "UploadReport", "transfer_data_size"]

log = logging.getLogger(__name__)

#: TransferData.data's `limit:` in glassbridge.proto.
TRANSFER_DATA_LIMIT = 16384
#: A packet-profile frame's header (SPEC.md 2.3): the payload of a frame is max_frame - 10.
FRAME_HEADER = 10
#: Message field 68 (transfer_data), wire type 2: its tag is varint(68 << 3 | 2) = 2 bytes.
_TAG_TRANSFER_DATA = 2
#: Seconds an upload may go without the phone confirming more of it before it fails (PhoneTimeout).
DEFAULT_STALL_TIMEOUT = 60.0


def _varint_len(value: int) -> int:
    n = 1
    while value >= 0x80:
        value >>= 7
        n += 1
    return n


def encoded_size(transfer_id: int, offset: int, n: int) -> int:
    """Bytes of Message{transfer_data: TransferData{transfer_id, offset, data of n bytes}} as protobuf writes it
    (proto3 omits zero fields: offset 0 costs nothing)."""
    inner = 0
    if transfer_id:
        inner += 1 + _varint_len(transfer_id)
    if offset:
        inner += 1 + _varint_len(offset)
    if n:
        inner += 1 + _varint_len(n) + n
    return _TAG_TRANSFER_DATA + _varint_len(inner) + inner


def transfer_data_size(payload: int, transfer_id: int, offset: int, remaining: int, max_message: int) -> int:
    """How many data bytes the next TransferData carries: the most whose encoded Message is a whole number of
    fragments (k x `payload`) within `max_message` and TRANSFER_DATA_LIMIT; all of `remaining` when that fits
    in fewer bytes (the last message). If no size lands exactly on a fragment boundary (a varint length
    boundary), the largest that stays under it."""
    if payload <= 0:
        raise ValueError(f"fragment payload must be positive, got {payload}")
    overhead_max = encoded_size(transfer_id, offset, TRANSFER_DATA_LIMIT) - TRANSFER_DATA_LIMIT
    k = min(max_message, TRANSFER_DATA_LIMIT + overhead_max) // payload
    if k < 1:
        raise ValueError(f"max_message {max_message} is smaller than one fragment ({payload} bytes)")
    if encoded_size(transfer_id, offset, remaining) <= k * payload and remaining <= TRANSFER_DATA_LIMIT:
        return remaining
    while k >= 1:
        target = k * payload
        n = min(TRANSFER_DATA_LIMIT, max(0, target - (encoded_size(transfer_id, offset, 1) - 1)))
        while n > 0 and encoded_size(transfer_id, offset, n) > target:
            n -= 1
        if n > 0:
            return min(n, remaining)
        k -= 1
    raise ValueError(f"a {payload}-byte fragment cannot hold a TransferData with any data")


class UploadHost(Protocol):
    """What an Upload needs from the client (Phone implements it; unit tests use a fake)."""

    request_timeout: float
    link_patience: float

    def down_for(self) -> float | None: ...  # seconds the link has been down, None while up

    def register_request(self, queue: asyncio.Queue[Any]) -> int: ...  # a request_id whose answers go to queue

    def unregister_request(self, request_id: int) -> None: ...

    async def send_message(self, msg: pb.Message, channel: int = ...) -> None: ...

    def frame_payload(self) -> int: ...

    def max_message(self) -> int: ...

    async def wait_until_up(self, timeout: float) -> None: ...


@dataclass
class UploadReport:
    transfer_id: int
    size: int
    sha256: str
    seconds: float
    restarts: int = 0  # times the upload asked the phone where it stood and resumed
    resumed_from: list[int] = field(default_factory=list)
    bytes_sent: int = 0  # data bytes queued, resends included
    messages: int = 0


class Resync(Exception):
    """Internal: the link session changed or the upload is unsure; ask the phone where it stands."""


class Upload:
    """One transfer's sender side. `queue` receives, for this transfer: pb.Message answers (to our requests),
    bare pb.TransferStatus (chunk acknowledgements), and markers/PhoneErrors telling of a link restart."""

    def __init__(self, host: UploadHost, transfer_id: int, kind: str, data: bytes, name: str,
                 queue: asyncio.Queue[Any], progress: Callable[[int, int], None] | None = None, *,
                 fresh: bool = False, all_sent: asyncio.Event | None = None,
                 stall_timeout: float = DEFAULT_STALL_TIMEOUT) -> None:
        """`fresh`: the transfer_id was just made, so the phone can only answer TransferBegin with offset 0 (or
        refuse): the data follows the Begin at once instead of one round trip later (the link keeps order; a
        refusal still fails the upload). `all_sent` is set once every byte has been queued on the link (not yet
        verified), so a request that refers to the transfer can be queued right behind it. `stall_timeout`:
        seconds without the phone confirming more before PhoneTimeout (a finite number above 0)."""
        if isinstance(stall_timeout, bool) or not isinstance(stall_timeout, (int, float)) or \
                not math.isfinite(stall_timeout) or stall_timeout <= 0:
            raise ValueError(f"stall_timeout must be a finite number of seconds above 0, got {stall_timeout!r}")
        kind_value = enum_value(pb.TransferKind, kind, "TRANSFER_KIND_")
        if len(data) >= 1 << 32:
            raise ValueError(f"{len(data)} bytes do not fit a transfer (TransferBegin.size is 32 bits)")
        self.host = host
        self.data = bytes(data)
        self.queue = queue
        self.progress = progress
        self.digest = hashlib.sha256(self.data).digest()
        self.begin = pb.TransferBegin(transfer_id=transfer_id, kind=kind_value, size=len(self.data),
                                      sha256=self.digest, name=name)
        self.report = UploadReport(transfer_id, len(self.data), self.digest.hex(), 0.0)
        self.confirmed = 0
        self._restarted_at: int | None = None
        self.name = name or str(transfer_id)
        self.fresh = fresh
        self.all_sent = all_sent
        self.stall_timeout = float(stall_timeout)
        self._best = -1  # the largest offset the phone confirmed, and when it grew
        self._progress_at = time.monotonic()
        self._last_trouble = "nothing answered yet"

    @property
    def tid(self) -> int:
        return int(self.begin.transfer_id)

    async def run(self) -> UploadReport:
        started = time.monotonic()
        status: Any = None
        begun = False
        begin_rid: int | None = None
        try:
            while True:
                try:
                    if not begun and self.fresh:
                        # Pipelined: the Begin's TransferStatus (offset 0, or a refusal) reaches our queue and is
                        # taken while the data goes out or while the verdict is awaited.
                        begin_rid = self.host.register_request(self.queue)
                        msg = pb.Message(transfer_begin=self.begin, request_id=begin_rid)
                        await self._send(msg)
                        begun = True
                    elif not begun:  # inside the try: the link may restart before the phone answers the Begin
                        status = await self._ask("TransferBegin", pb.Message(transfer_begin=self.begin))
                        begun = True
                    if await self._step(status):
                        break
                    status = None
                except Resync as why:
                    log.info("transfer %d: %s; asking the phone where it stands", self.tid, why)
                    self._last_trouble = str(why)
                    self._check_stall()
                    status = await self._resync()
                    begun = True  # the phone's answer to TransferQuery says whether it knows the transfer
        finally:
            if begin_rid is not None:
                self.host.unregister_request(begin_rid)
        self.report.seconds = time.monotonic() - started
        return self.report

    async def _step(self, status: Any) -> bool:
        """One pass: apply `status` (if any), send from the confirmed offset, await the verdict. True when
        VERIFIED; False to go round again; raises Resync when the phone must be asked where the transfer stands."""
        while True:
            if status is not None:
                if status.state == pb.TRANSFER_STATE_UNKNOWN:
                    status = await self._ask("TransferBegin (again)", pb.Message(transfer_begin=self.begin))
                    continue
                if self._apply(status):
                    return True
            await self._send_from(self.confirmed)
            if self.all_sent is not None:
                self.all_sent.set()
            return await self._wait_verdict()

    # ---- progress -------------------------------------------------------------------------------------

    def _confirmed(self, offset: int) -> None:
        if offset > self._best:
            self._best = offset
            self._progress_at = time.monotonic()

    def _left(self) -> float:
        """Seconds until the upload counts as stalled."""
        return self.stall_timeout - (time.monotonic() - self._progress_at)

    def _check_stall(self) -> None:
        if self._left() > 0:
            return
        raise PhoneTimeout(
            f"progress on transfer {self.name} ({len(self.data)} bytes)", self.stall_timeout,
            f"the phone confirmed {max(self._best, 0)} bytes, none more for {time.monotonic() - self._progress_at:.1f} "
            f"s; last trouble: {self._last_trouble}")

    async def _send(self, msg: pb.Message) -> None:
        """host.send_message, waiting for room on the link only until the upload counts as stalled."""
        try:
            await asyncio.wait_for(self.host.send_message(msg, Channel.BULK), max(0.01, self._left()))
        except asyncio.TimeoutError:
            self._last_trouble = "the link took no message (no room in its queue: nothing acknowledged)"
            self._check_stall()
            raise Resync(self._last_trouble) from None

    # ---- statuses -------------------------------------------------------------------------------------

    def _apply(self, status: Any) -> bool:
        """Takes a TransferStatus into account; True when VERIFIED. Raises TransferFailed, Resync."""
        if status.state == pb.TRANSFER_STATE_FAILED:
            raise TransferFailed(f"the phone refused transfer {self.name} ({len(self.data)} bytes): "
                                 f"{_code(status.error)}")
        if status.state == pb.TRANSFER_STATE_VERIFIED:
            self.confirmed = len(self.data)
            self._confirmed(self.confirmed)
            if self.progress is not None:
                self.progress(self.confirmed, len(self.data))
            return True
        if status.state == pb.TRANSFER_STATE_UNKNOWN:
            raise Resync("the phone does not know the transfer")
        offset = int(status.offset)
        if offset > len(self.data):
            raise TransferFailed(f"the phone reports offset {offset} for transfer {self.name} of {len(self.data)} "
                                 "bytes: a companion bug")
        if status.error == pb.ERROR_CODE_OFFSET_MISMATCH:
            self._last_trouble = f"the phone expects offset {offset} (OFFSET_MISMATCH)"
            self._check_stall()
            if offset == self._restarted_at:
                return False  # another refusal of a message queued before we restarted at this offset
            self.confirmed = offset
            self._confirmed(offset)
            self._restarted_at = offset
            raise _Restart(offset)
        if status.error:
            raise TransferFailed(f"transfer {self.name}: the phone answered {_code(status.error)}")
        self.confirmed = offset  # the phone's word, never more
        self._confirmed(offset)
        if self.progress is not None:
            self.progress(offset, len(self.data))
        return False

    def _take(self, item: Any) -> Any:
        """A queue item as a TransferStatus (or None); raises Resync/PhoneError for markers and errors."""
        if isinstance(item, PhoneError):
            raise Resync(str(item))
        if isinstance(item, pb.Message):
            body = item.WhichOneof("body")
            if body == "transfer_status":
                return item.transfer_status
            if body == "result":
                if item.result.code == pb.ERROR_CODE_OK:
                    return None
                raise TransferFailed(f"transfer {self.name}: the phone answered {_code(item.result.code)}"
                                     + (f" ({item.result.message})" if item.result.message else ""))
            return None
        if isinstance(item, pb.TransferStatus):
            return item
        raise Resync("the link session changed")

    async def _next_status(self, what: str) -> Any:
        """The next TransferStatus, waiting request_timeout while the link is up and up to link_patience while
        it is down. Resync when unsure (no answer while up)."""
        host = self.host
        deadline = time.monotonic() + host.request_timeout
        while True:
            self._check_stall()
            left = deadline - time.monotonic()
            if left > 0:
                try:
                    item = await asyncio.wait_for(self.queue.get(), min(left, max(0.01, self._left())))
                except asyncio.TimeoutError:
                    continue
                status = self._take(item)
                if status is not None:
                    return status
                continue
            down = host.down_for()
            if down is not None and down < host.link_patience:
                deadline = time.monotonic() + 0.2
                continue
            if down is not None:
                raise ConnectionLost(f"transfer {self.name}: the phone link has been down for {down:.1f} s while "
                                     f"waiting for {what}")
            raise Resync(f"no {what} for {host.request_timeout:g} s while the link is up")

    async def _ask(self, what: str, msg: pb.Message) -> Any:
        """Sends a request whose TransferStatus answer goes to our queue; returns the first status after it."""
        rid = self.host.register_request(self.queue)
        msg.request_id = rid
        try:
            await self._send(msg)
            return await self._next_status(f"TransferStatus answering {what}")
        finally:
            self.host.unregister_request(rid)

    async def _resync(self) -> Any:
        host = self.host
        for _ in range(8):
            self._check_stall()
            await host.wait_until_up(host.link_patience)
            while not self.queue.empty():
                self.queue.get_nowait()
            self._restarted_at = None
            try:
                status = await self._ask("TransferQuery", pb.Message(
                    transfer_query=pb.TransferQuery(transfer_id=self.tid)))
            except Resync as why:
                self._last_trouble = str(why)
                continue
            self.report.restarts += 1
            self.report.resumed_from.append(int(status.offset))
            return status
        raise PhoneTimeout(f"an answer to TransferQuery for transfer {self.name}", host.request_timeout * 8,
                           "the link kept restarting")

    # ---- data ---------------------------------------------------------------------------------------------

    async def _send_from(self, offset: int) -> None:
        """Queues TransferData from `offset` to the end, handling statuses that arrive meanwhile."""
        host = self.host
        size = len(self.data)
        while offset < size:
            n = transfer_data_size(host.frame_payload(), self.tid, offset, size - offset, host.max_message())
            chunk = pb.TransferData(transfer_id=self.tid, offset=offset, data=self.data[offset:offset + n])
            await self._send(pb.Message(transfer_data=chunk))
            self.report.bytes_sent += n
            self.report.messages += 1
            offset += n
            while not self.queue.empty():
                try:
                    status = self._take(self.queue.get_nowait())
                    if status is not None and self._apply(status):
                        return
                except _Restart as restart:
                    offset = restart.offset

    async def _wait_verdict(self) -> bool:
        """After the last TransferData: True when VERIFIED, False to send again from the confirmed offset."""
        while True:
            try:
                if self._apply(await self._next_status(f"the phone's verdict on transfer {self.name}")):
                    return True
            except _Restart:
                return False


class _Restart(Resync):
    """Internal: the phone refused a TransferData (OFFSET_MISMATCH): send again from `offset`."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"the phone expects offset {offset}")
        self.offset = offset


def _code(value: int) -> str:
    try:
        return str(pb.ErrorCode.Name(value)).removeprefix("ERROR_CODE_").lower()
    except ValueError:
        return f"error {value}"
