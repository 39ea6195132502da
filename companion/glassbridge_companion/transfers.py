"""Transfers received by the companion (SPEC.md 10 and 16.5): photos and audio that resume across link restarts.

The glasses announce `TransferBegin{id, kind, size, sha256}` and stream `TransferData{id, offset, data}`; this
store keeps each transfer's bytes, answers with `TransferStatus`, checks the SHA-256 at the end, and keeps
everything (per glasses identity) for `retention_s` (default 15 min, SPEC asks >= 10) after the last activity,
across disconnections and new link sessions, so a `TransferQuery` after a glasses restart finds what arrived.

Memory is bounded: one transfer holds at most `max_size` bytes (TOO_LARGE otherwise) and the store at most
`max_total` (the oldest finished transfers are dropped first, then BUSY). No I/O; the caller supplies the time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from glassbridge.protocol.messages import pb

__all__ = ["Transfer", "TransferStore", "KIND_NAMES"]

KIND_NAMES: dict[int, str] = {pb.TRANSFER_KIND_PHOTO: "photo", pb.TRANSFER_KIND_AUDIO: "audio",
                              pb.TRANSFER_KIND_AUDIO_OPUS: "audio_opus"}
_STATE_NAMES: dict[int, str] = {
    pb.TRANSFER_STATE_RECEIVING: "receiving",
    pb.TRANSFER_STATE_VERIFIED: "verified",
    pb.TRANSFER_STATE_FAILED: "failed",
}
#: TransferStatus after every ACK_EVERY-th TransferData (and the last): with 16 KB messages, one per 64 KB.
ACK_EVERY = 4


@dataclass
class Transfer:
    owner: str  # the glasses' identity address
    transfer_id: int
    kind: pb.TransferKind
    size: int
    sha256: bytes
    name: str
    data: bytearray = field(default_factory=bytearray)
    state: pb.TransferState = pb.TRANSFER_STATE_RECEIVING
    error: pb.ErrorCode = pb.ERROR_CODE_OK
    bytes_received: int = 0  # every TransferData byte that arrived, duplicates and refused ones included
    chunks_since_status: int = 0
    last_activity: float = 0.0

    @property
    def offset(self) -> int:
        return len(self.data)

    def summary(self) -> dict[str, object]:
        return {
            "id": self.transfer_id,
            "owner": self.owner,
            "kind": KIND_NAMES.get(self.kind, str(self.kind)),
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256.hex(),
            "state": _STATE_NAMES.get(self.state, str(self.state)),
            "offset": self.offset,
            "bytes_received": self.bytes_received,
        }


class TransferStore:
    def __init__(self, *, retention_s: float = 900.0, max_size: int = 16 << 20, max_total: int = 64 << 20) -> None:
        self.retention_s = retention_s
        self.max_size = max_size
        self.max_total = max_total
        self._transfers: dict[tuple[str, int], Transfer] = {}

    # ---- queries ------------------------------------------------------------------------------------------

    def get(self, owner: str, transfer_id: int) -> Transfer | None:
        return self._transfers.get((owner, transfer_id))

    def all(self) -> list[Transfer]:
        return list(self._transfers.values())

    def _status(self, t: Transfer, error: pb.ErrorCode = pb.ERROR_CODE_OK) -> pb.TransferStatus:
        return pb.TransferStatus(transfer_id=t.transfer_id, state=t.state, offset=t.offset,
                                 error=error or t.error, ack_every=ACK_EVERY)

    # ---- protocol -----------------------------------------------------------------------------------------

    def begin(self, owner: str, msg: pb.TransferBegin, now: float) -> pb.TransferStatus:
        """TransferBegin: a new transfer (offset 0), or the same id + SHA-256 again: resume from what is kept."""
        self.expire(now)
        refuse = pb.TransferStatus(transfer_id=msg.transfer_id, state=pb.TRANSFER_STATE_FAILED, ack_every=ACK_EVERY)
        if msg.kind not in KIND_NAMES:
            refuse.error = pb.ERROR_CODE_NOT_SUPPORTED  # firmware images and assets go to the MCU, not the phone
            return refuse
        if len(msg.sha256) != 32 or msg.transfer_id == 0:
            refuse.error = pb.ERROR_CODE_BAD_REQUEST
            return refuse
        if msg.size > self.max_size:
            refuse.error = pb.ERROR_CODE_TOO_LARGE
            return refuse
        key = (owner, msg.transfer_id)
        old = self._transfers.get(key)
        if old is not None and old.sha256 == msg.sha256 and old.size == msg.size and old.kind == msg.kind \
                and old.state != pb.TRANSFER_STATE_FAILED:
            old.last_activity = now
            return self._status(old)
        self._transfers.pop(key, None)
        if not self._make_room(msg.size):
            refuse.error = pb.ERROR_CODE_BUSY
            return refuse
        t = Transfer(owner, msg.transfer_id, msg.kind, msg.size, bytes(msg.sha256), msg.name, last_activity=now)
        self._transfers[key] = t
        if t.size == 0:
            self._finish(t)
        return self._status(t)

    def data(self, owner: str, msg: pb.TransferData, now: float) -> pb.TransferStatus | None:
        """TransferData: appended when at the kept offset; a status when one is due (or on any refusal)."""
        t = self._transfers.get((owner, msg.transfer_id))
        if t is None:
            return pb.TransferStatus(transfer_id=msg.transfer_id, state=pb.TRANSFER_STATE_UNKNOWN,
                                     error=pb.ERROR_CODE_NO_SUCH_TRANSFER, ack_every=ACK_EVERY)
        t.bytes_received += len(msg.data)
        t.last_activity = now
        if t.state != pb.TRANSFER_STATE_RECEIVING:
            return self._status(t)  # already verified (a resent tail) or failed: say where it stands
        if msg.offset != t.offset:
            t.chunks_since_status = 0
            return self._status(t, pb.ERROR_CODE_OFFSET_MISMATCH)
        if t.offset + len(msg.data) > t.size:
            t.state, t.error = pb.TRANSFER_STATE_FAILED, pb.ERROR_CODE_TOO_LARGE
            return self._status(t)
        t.data += msg.data
        t.chunks_since_status += 1
        if t.offset == t.size:
            self._finish(t)
            return self._status(t)
        if t.chunks_since_status >= ACK_EVERY:
            t.chunks_since_status = 0
            return self._status(t)
        return None

    def query(self, owner: str, msg: pb.TransferQuery, now: float) -> pb.TransferStatus:
        self.expire(now)
        t = self._transfers.get((owner, msg.transfer_id))
        if t is None:
            return pb.TransferStatus(transfer_id=msg.transfer_id, state=pb.TRANSFER_STATE_UNKNOWN, ack_every=ACK_EVERY)
        t.last_activity = now
        t.chunks_since_status = 0
        return self._status(t)

    # ---- housekeeping ---------------------------------------------------------------------------------------

    def _finish(self, t: Transfer) -> None:
        t.chunks_since_status = 0
        if hashlib.sha256(t.data).digest() == t.sha256:
            t.state, t.error = pb.TRANSFER_STATE_VERIFIED, pb.ERROR_CODE_OK
        else:
            t.state, t.error = pb.TRANSFER_STATE_FAILED, pb.ERROR_CODE_HASH_MISMATCH
            t.data = bytearray()  # a new TransferBegin starts it again; nothing wrong is kept

    def expire(self, now: float) -> None:
        for key, t in list(self._transfers.items()):
            if now - t.last_activity > self.retention_s:
                del self._transfers[key]

    def _make_room(self, size: int) -> bool:
        """Reserve room for `size` more bytes: drop finished transfers, oldest first, until it fits."""
        def used() -> int:
            return sum(t.size for t in self._transfers.values())

        finished = sorted((t for t in self._transfers.values() if t.state != pb.TRANSFER_STATE_RECEIVING),
                          key=lambda t: t.last_activity)
        while used() + size > self.max_total and finished:
            victim = finished.pop(0)
            del self._transfers[(victim.owner, victim.transfer_id)]
        return used() + size <= self.max_total
