"""Transfers that resume (SPEC.md section 10): the sender's side, once, for both links.

The sender's rules, as `Upload` applies them:

1. `TransferBegin{id, kind, size, sha256, name}`; the receiver answers `TransferStatus{RECEIVING, offset}`: 0 for
   a new transfer, or what it already holds of this id and sha256 (a resume). `UNKNOWN` with an error is a
   refusal; `VERIFIED` means it holds the whole transfer already: nothing more is sent.
2. The data from that offset, consecutive, in the messages of the link's `ChunkFormat`: `TransferChunk` of at most
   960 bytes to the MCU (`TransferChunks`), `TransferData` filling whole link fragments to the phone
   (`TransferDataChunks`, SPEC.md 16.5). The receiver answers every `ack_every`-th and the last with its offset.
3. `VERIFIED` ends it; `FAILED` raises TransferFailed with the receiver's error; `OFFSET_MISMATCH` resumes from
   the receiver's offset; `UNKNOWN` with an error other than NO_SUCH_TRANSFER (a refused Begin: TOO_LARGE,
   BAD_REQUEST, BUSY while the MCU receives another transfer) raises TransferFailed at once, never a retry
   loop: the caller decides whether to try again later.
4. Within a link session nothing is lost (the link retransmits across drops): the upload just waits, by the
   client's patience rule. After a link restart (the peer's PeerReset, or a new session of our own) or when unsure
   (no status while the link is up), it asks `TransferQuery` and resumes from `TransferStatus.offset`, or starts
   again with `TransferBegin` when the receiver answers UNKNOWN. It never assumes more progress than the last
   offset the receiver confirmed.
5. It always ends: when the confirmed offset has not grown for `stall_timeout` seconds (a receiver that answers
   but never takes the data, a link that never frees room for the next message, resyncs that lead nowhere) it
   raises TransferStalled naming what was confirmed and what went wrong meanwhile.

Why two data messages, TransferChunk and TransferData, for one meaning: SPEC.md 10 ("Two data messages").
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

from glassbridge.protocol.errors import LinkLost, PeerError, PeerTimeout, TransferFailed, TransferStalled
from glassbridge.protocol.link import Channel
from glassbridge.protocol.messages import LIMITS, enum_name, enum_value, pb

__all__ = [
    "ChunkFormat",
    "DEFAULT_STALL_TIMEOUT",
    "TRANSFER_CHUNK_LIMIT",
    "TRANSFER_DATA_LIMIT",
    "TransferChunks",
    "TransferDataChunks",
    "Upload",
    "UploadHost",
    "UploadReport",
    "transfer_data_size",
]

log = logging.getLogger(__name__)

#: TransferChunk.data's `limit:` in glassbridge.proto (the MCU's buffer: one chunk fits one 1 KB frame).
TRANSFER_CHUNK_LIMIT = LIMITS["glassbridge.v1.TransferChunk.data"]
#: TransferData.data's `limit:` in glassbridge.proto (the phone link).
TRANSFER_DATA_LIMIT = LIMITS["glassbridge.v1.TransferData.data"]
#: Message field 68 (transfer_data), wire type 2: its tag is varint(68 << 3 | 2) = 2 bytes.
_TAG_TRANSFER_DATA = 2
#: Seconds an upload may go without the receiver confirming more of it before it fails (TransferStalled).
DEFAULT_STALL_TIMEOUT = 60.0


# ---- the data messages -------------------------------------------------------------------------------------


class ChunkFormat(Protocol):
    """How a link carries a transfer's data: how many bytes the next message takes, and that message."""

    def size(self, transfer_id: int, offset: int, remaining: int) -> int: ...

    def message(self, transfer_id: int, offset: int, data: bytes) -> pb.Message: ...


class TransferChunks:
    """The MCU link's TransferChunk: at most `limit` bytes each (TRANSFER_CHUNK_LIMIT, the MCU's buffer)."""

    def __init__(self, limit: int = TRANSFER_CHUNK_LIMIT) -> None:
        if not 0 < limit <= TRANSFER_CHUNK_LIMIT:
            raise ValueError(f"a TransferChunk carries 1 to {TRANSFER_CHUNK_LIMIT} bytes, not {limit}")
        self.limit = limit

    def size(self, transfer_id: int, offset: int, remaining: int) -> int:
        return min(self.limit, remaining)

    def message(self, transfer_id: int, offset: int, data: bytes) -> pb.Message:
        return pb.Message(transfer_chunk=pb.TransferChunk(transfer_id=transfer_id, offset=offset, data=data))


class TransferDataChunks:
    """The phone link's TransferData, each sized to fill whole fragments of the current link session
    (`frame_payload()`: its frame size minus the header) within its `max_message()`: SPEC.md 16.5."""

    def __init__(self, frame_payload: Callable[[], int], max_message: Callable[[], int]) -> None:
        self.frame_payload = frame_payload
        self.max_message = max_message

    def size(self, transfer_id: int, offset: int, remaining: int) -> int:
        return transfer_data_size(self.frame_payload(), transfer_id, offset, remaining, self.max_message())

    def message(self, transfer_id: int, offset: int, data: bytes) -> pb.Message:
        return pb.Message(transfer_data=pb.TransferData(transfer_id=transfer_id, offset=offset, data=data))


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


# ---- the sender -------------------------------------------------------------------------------------------


class UploadHost(Protocol):
    """What an Upload needs of its client (glassbridge.protocol.client.LinkClient; unit tests give a fake)."""

    peer: str
    request_timeout: float
    link_patience: float

    def down_for(self) -> float | None: ...  # seconds the link has been down, None while up

    def register_request(self, queue: asyncio.Queue[Any]) -> int: ...  # a request_id whose answers go to queue

    def unregister_request(self, request_id: int) -> None: ...

    async def send(self, msg: pb.Message, channel: int = ...) -> None: ...

    async def wait_up(self, timeout: float) -> None: ...

    def stats(self) -> dict[str, Any]: ...  # the link's counters, for what the stall error says the line did


@dataclass
class UploadReport:
    transfer_id: int
    size: int
    sha256: str
    seconds: float
    restarts: int = 0  # times the upload asked the receiver where it stood and resumed
    resumed_from: list[int] = field(default_factory=list)  # the offsets it resumed from
    bytes_sent: int = 0  # data bytes queued, resends included
    messages: int = 0


class Resync(Exception):
    """Internal: the link session changed or the upload is unsure; ask the receiver where it stands."""


class _Restart(Resync):
    """Internal: the receiver refused data (OFFSET_MISMATCH): send again from `offset`."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"the receiver expects offset {offset}")
        self.offset = offset


class Upload:
    """One transfer's sender side. `queue` receives, for this transfer: pb.Message answers (to our requests),
    bare pb.TransferStatus (data acknowledgements), and PeerErrors telling of a link restart."""

    def __init__(self, host: UploadHost, transfer_id: int, kind: str, data: bytes, name: str,
                 queue: asyncio.Queue[Any], chunks: ChunkFormat, progress: Callable[[int, int], None] | None = None,
                 *, fresh: bool = False, all_sent: asyncio.Event | None = None,
                 stall_timeout: float = DEFAULT_STALL_TIMEOUT,
                 stall_detail: Callable[[dict[str, Any]], str] | None = None) -> None:
        """`fresh`: the transfer_id was just made, so the receiver can only answer TransferBegin with offset 0 (or
        refuse): the data follows the Begin at once instead of one round trip later (the link keeps order; a
        refusal still fails the upload). `all_sent` is set once every byte has been queued on the link (not yet
        verified), so a request that refers to the transfer can be queued right behind it. `stall_timeout`:
        seconds without the receiver confirming more before TransferStalled (a finite number above 0);
        `stall_detail(stats)` adds to its message what the line did since `stats` (host.stats() at the last
        progress)."""
        if isinstance(stall_timeout, bool) or not isinstance(stall_timeout, (int, float)) or \
                not math.isfinite(stall_timeout) or stall_timeout <= 0:
            raise ValueError(f"stall_timeout must be a finite number of seconds above 0, got {stall_timeout!r}")
        kind_value = enum_value(pb.TransferKind, kind, "TRANSFER_KIND_")
        if len(data) >= 1 << 32:
            raise ValueError(f"{len(data)} bytes do not fit a transfer (TransferBegin.size is 32 bits)")
        self.host = host
        self.peer = host.peer
        self.data = bytes(data)
        self.queue = queue
        self.chunks = chunks
        self.progress = progress
        self.digest = hashlib.sha256(self.data).digest()
        self.begin = pb.TransferBegin(transfer_id=transfer_id, kind=kind_value, size=len(self.data),
                                      sha256=self.digest, name=name)
        self.report = UploadReport(transfer_id, len(self.data), self.digest.hex(), 0.0)
        self.confirmed = 0
        self._restarted_at: int | None = None
        self.name = name or str(transfer_id)
        self.what = f"transfer {self.name} ({len(self.data)} bytes)"
        self.fresh = fresh
        self.all_sent = all_sent
        self.stall_timeout = float(stall_timeout)
        self.stall_detail = stall_detail
        self._best = -1  # the largest offset the receiver confirmed, and when it grew
        self._progress_at = time.monotonic()
        self._progress_stats = host.stats()
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
                    elif not begun:  # inside the try: the link may restart before the receiver answers the Begin
                        status = await self._ask("TransferBegin", pb.Message(transfer_begin=self.begin))
                        begun = True
                    if await self._step(status):
                        break
                    status = None
                except Resync as why:
                    log.info("transfer %d: %s; asking the %s where it stands", self.tid, why, self.peer)
                    self._last_trouble = str(why)
                    self._check_stall()
                    status = await self._resync()
                    begun = True  # the answer to TransferQuery says whether the receiver knows the transfer
        finally:
            if begin_rid is not None:
                self.host.unregister_request(begin_rid)
        self.report.seconds = time.monotonic() - started
        return self.report

    async def _step(self, status: Any) -> bool:
        """One pass: apply `status` (if any: an answer to Begin or Query), send from the confirmed offset, await
        the verdict. True when VERIFIED; False to go round again; raises Resync when the receiver must be asked
        where the transfer stands."""
        while True:
            if status is not None:
                if status.state == pb.TRANSFER_STATE_UNKNOWN:
                    # A Begin refused (TOO_LARGE, BAD_REQUEST, BUSY) ends it; NO_SUCH_TRANSFER (data that reached a
                    # receiver which forgot the transfer) means begin again, as no error does: SPEC.md 10, rule 5.
                    if status.error and status.error != pb.ERROR_CODE_NO_SUCH_TRANSFER:
                        raise self._refused(status.error)
                    status = await self._ask("TransferBegin (again)", pb.Message(transfer_begin=self.begin))
                    continue
                if self._apply(status):
                    return True
            verified = await self._send_from(self.confirmed)
            if self.all_sent is not None:
                self.all_sent.set()
            return verified or await self._wait_verdict()

    # ---- progress -------------------------------------------------------------------------------------

    def _confirmed(self, offset: int) -> None:
        if offset > self._best:
            self._best = offset
            self._progress_at = time.monotonic()
            self._progress_stats = self.host.stats()
        if self.progress is not None:
            self.progress(offset, len(self.data))

    def _left(self) -> float:
        """Seconds until the upload counts as stalled."""
        return self.stall_timeout - (time.monotonic() - self._progress_at)

    def _check_stall(self) -> None:
        if self._left() > 0:
            return
        idle = time.monotonic() - self._progress_at
        detail = "" if self.stall_detail is None else f"; meanwhile {self.stall_detail(self._progress_stats)}"
        raise TransferStalled(
            f"{self.what}: no progress for {idle:.1f} s, the {self.peer} confirmed {max(self._best, 0)} of "
            f"{len(self.data)} bytes; last trouble: {self._last_trouble}{detail}", self.stall_timeout,
            peer=self.peer)

    async def _send(self, msg: pb.Message) -> None:
        """host.send, waiting for room on the link only until the upload counts as stalled."""
        try:
            await asyncio.wait_for(self.host.send(msg, Channel.BULK), max(0.01, self._left()))
        except asyncio.TimeoutError:
            self._last_trouble = "the link took no message (no room in its queue: nothing acknowledged)"
            self._check_stall()
            raise Resync(self._last_trouble) from None

    # ---- statuses -------------------------------------------------------------------------------------

    def _apply(self, status: Any) -> bool:
        """Takes a TransferStatus into account; True when VERIFIED. Raises TransferFailed, Resync."""
        if status.state == pb.TRANSFER_STATE_FAILED:
            raise TransferFailed(f"the {self.peer} refused {self.what}: {_code(status.error)}", peer=self.peer)
        offset = int(status.offset)
        if offset > len(self.data):
            raise TransferFailed(f"the {self.peer} reports offset {offset} for {self.what}, beyond its size: a fault "
                                 f"of the {self.peer}'s receiver", peer=self.peer)
        if status.state == pb.TRANSFER_STATE_VERIFIED:
            self.confirmed = len(self.data)
            self._confirmed(self.confirmed)
            return True
        if status.state == pb.TRANSFER_STATE_UNKNOWN:
            if status.error and status.error != pb.ERROR_CODE_NO_SUCH_TRANSFER:
                raise self._refused(status.error)  # a refused Begin (a pipelined one's answer arrives here)
            raise Resync(f"the {self.peer} does not know the transfer")  # it forgot it (NO_SUCH_TRANSFER: restarted)
        if status.state != pb.TRANSFER_STATE_RECEIVING:
            raise TransferFailed(f"the {self.peer} answered {self.what} with state {status.state}, which this "
                                 "glassbridge does not know", peer=self.peer)
        if status.error == pb.ERROR_CODE_OFFSET_MISMATCH:
            self._last_trouble = f"the {self.peer} expects offset {offset} (OFFSET_MISMATCH)"
            self._check_stall()
            if offset == self._restarted_at:
                return False  # another refusal of a message queued before we restarted at this offset
            self.confirmed = offset
            self._confirmed(offset)
            self._restarted_at = offset
            raise _Restart(offset)
        if status.error:
            raise TransferFailed(f"{self.what}: the {self.peer} answered {_code(status.error)}", peer=self.peer)
        self.confirmed = offset  # the receiver's word, never more
        self._confirmed(offset)
        return False

    def _refused(self, error: int) -> TransferFailed:
        """The error for a TransferBegin the receiver refused (state UNKNOWN with `error`): SPEC.md 10, rule 5."""
        why = _code(error)
        if error == pb.ERROR_CODE_BUSY:
            why += f" (the {self.peer} is receiving another transfer: try again once that one has ended)"
        return TransferFailed(f"the {self.peer} refused {self.what}: {why}", peer=self.peer)

    def _take(self, item: Any) -> Any:
        """A queue item as a TransferStatus (or None); raises Resync for the errors of a link restart."""
        if isinstance(item, PeerError):
            raise Resync(str(item))
        if isinstance(item, pb.Message):
            body = item.WhichOneof("body")
            if body == "transfer_status":
                return item.transfer_status
            if body == "result":
                if item.result.code == pb.ERROR_CODE_OK:
                    return None
                raise TransferFailed(f"{self.what}: the {self.peer} answered {_code(item.result.code)}"
                                     + (f" ({item.result.message})" if item.result.message else ""), peer=self.peer)
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
                raise LinkLost(f"{self.what}: the link to the {self.peer} has been down for {down:.1f} s while "
                               f"waiting for {what}", peer=self.peer)
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
            await host.wait_up(host.link_patience)
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
        raise PeerTimeout(f"answer to TransferQuery for {self.what}", host.request_timeout * 8,
                          "the link kept restarting", peer=self.peer)

    # ---- data ---------------------------------------------------------------------------------------------

    async def _send_from(self, offset: int) -> bool:
        """Queues the data from `offset` to the end, handling statuses that arrive meanwhile; True when one of
        them was the verdict VERIFIED (nothing left to wait for)."""
        size = len(self.data)
        while offset < size:
            n = self.chunks.size(self.tid, offset, size - offset)
            await self._send(self.chunks.message(self.tid, offset, self.data[offset:offset + n]))
            self.report.bytes_sent += n
            self.report.messages += 1
            offset += n
            while not self.queue.empty():
                try:
                    status = self._take(self.queue.get_nowait())
                    if status is not None and self._apply(status):
                        return True
                except _Restart as restart:
                    offset = restart.offset
        return False

    async def _wait_verdict(self) -> bool:
        """After the last data: True when VERIFIED, False to send again from the confirmed offset."""
        while True:
            try:
                if self._apply(await self._next_status(f"the {self.peer}'s verdict on {self.what}")):
                    return True
            except _Restart:
                return False


def _code(value: int) -> str:
    return enum_name(pb.ErrorCode, value, "ERROR_CODE_")
