"""Uploads to the phone (glassbridge.protocol.transfer's Upload with TransferData): TransferData sizing (against
protobuf's own encoding) and resume after link restarts (against the companion's TransferStore, an independent
receiver written from SPEC.md 10/16.5)."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import deque
from typing import Any

import pytest

from glassbridge_companion.transfers import TransferStore
from glassbridge.protocol.errors import PeerRestarted, TransferFailed, TransferStalled
from glassbridge.protocol.transfer import TRANSFER_DATA_LIMIT, TransferDataChunks, Upload, transfer_data_size
from glassbridge.protocol.gatt import LINK_SETTINGS, frame_limit
from glassbridge.protocol.messages import decode, encode, pb

MAX_MESSAGE = LINK_SETTINGS["max_message"]


@pytest.mark.parametrize("mtu", [131, 185, 247, 517])
def test_transfer_data_fills_whole_fragments(mtu: int) -> None:
    payload = frame_limit(mtu) - 10
    rng = random.Random(mtu)
    for _ in range(300):
        tid = rng.choice([1, 127, 128, 2**31 - 1, rng.randrange(1, 2**31)])
        offset = rng.choice([0, 1, 127, 16384, rng.randrange(0, 2**32)])
        n = transfer_data_size(payload, tid, offset, 10**9, MAX_MESSAGE)
        size = len(encode(pb.Message(transfer_data=pb.TransferData(transfer_id=tid, offset=offset, data=b"x" * n))))
        assert 0 < n <= TRANSFER_DATA_LIMIT and size <= MAX_MESSAGE
        # Whole fragments, or (at a varint boundary where no size lands exactly) less than one byte short of
        # one more data byte: the largest message under the boundary.
        k = -(-size // payload)
        bigger = len(pb.Message(transfer_data=pb.TransferData(  # protobuf's size, past our limit checks
            transfer_id=tid, offset=offset, data=b"x" * (n + 1))).SerializeToString())
        assert size == k * payload or bigger > k * payload, (tid, offset, n, size, payload)
        # And no bigger number of whole fragments would have fitted the limits.
        assert (k + 1) * payload > MAX_MESSAGE or n == TRANSFER_DATA_LIMIT or \
            (k + 1) * payload - (size - n) > TRANSFER_DATA_LIMIT
    # The last message carries what is left.
    assert transfer_data_size(payload, 5, 1000, 7, MAX_MESSAGE) == 7


class FakeLinkHost:
    """The client an Upload talks to (the phone's LinkClient), over a pretend link: messages are really encoded and decoded, reach the
    companion's TransferStore after `depth` more messages were sent (or when the sender goes idle), and a
    'peer reset' after message number N drops whatever was still in flight, as SPEC.md 8 says."""

    peer = "phone"
    request_timeout = 1.0
    link_patience = 2.0

    def __init__(self, store: TransferStore, *, payload: int, depth: int = 4, resets_at: tuple[int, ...] = ()):
        self.store = store
        self.payload = payload
        self.depth = depth
        self.resets_at = set(resets_at)
        self.inflight: deque[bytes] = deque()
        self.pending: dict[int, asyncio.Queue[Any]] = {}
        self.transfer_queue: asyncio.Queue[Any] | None = None
        self.sent = 0
        self.lost_messages = 0
        self.fragments: list[int] = []
        self._ids = iter(range(1, 10**6))
        self._pump: asyncio.Task[None] | None = None

    def down_for(self) -> float | None:
        return None

    def register_request(self, queue: asyncio.Queue[Any]) -> int:
        rid = next(self._ids)
        self.pending[rid] = queue
        return rid

    def unregister_request(self, request_id: int) -> None:
        self.pending.pop(request_id, None)

    def frame_payload(self) -> int:
        return self.payload

    def max_message(self) -> int:
        return MAX_MESSAGE

    async def wait_up(self, timeout: float) -> None:
        return None

    def stats(self) -> dict[str, Any]:
        return {}

    def chunks(self) -> TransferDataChunks:
        return TransferDataChunks(self.frame_payload, self.max_message)

    async def send(self, msg: pb.Message, channel: int = 1) -> None:
        data = encode(msg)
        assert len(data) <= MAX_MESSAGE
        self.fragments.append(len(data))
        self.inflight.append(data)
        self.sent += 1
        if self.sent in self.resets_at:
            self.lost_messages += len(self.inflight)
            self.inflight.clear()
            for queue in [*self.pending.values(), self.transfer_queue]:
                assert queue is not None
                queue.put_nowait(PeerRestarted("peer reset (test)", peer="phone"))
        while len(self.inflight) > self.depth:
            self._deliver(self.inflight.popleft())
        if self._pump is None:
            self._pump = asyncio.create_task(self._idle_pump())
        await asyncio.sleep(0)

    async def _idle_pump(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            while self.inflight:
                self._deliver(self.inflight.popleft())

    def _deliver(self, data: bytes) -> None:
        msg = decode(data)
        body = msg.WhichOneof("body")
        owner = "glasses"
        if body == "transfer_begin":
            status = self.store.begin(owner, msg.transfer_begin, 0.0)
        elif body == "transfer_query":
            status = self.store.query(owner, msg.transfer_query, 0.0)
        else:
            assert body == "transfer_data"
            maybe = self.store.data(owner, msg.transfer_data, 0.0)
            if maybe is None:
                return
            status = maybe
        if msg.request_id in self.pending:
            self.pending[msg.request_id].put_nowait(pb.Message(request_id=msg.request_id, transfer_status=status))
        else:
            assert self.transfer_queue is not None
            self.transfer_queue.put_nowait(status)


def _upload(host: FakeLinkHost, data: bytes, kind: str = "photo", tid: int = 77, fresh: bool = False) -> Any:
    async def body() -> Any:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        host.transfer_queue = queue
        sent = asyncio.Event()
        try:
            report = await asyncio.wait_for(
                Upload(host, tid, kind, data, "p.jpg", queue, host.chunks(), fresh=fresh, all_sent=sent).run(), 20)
            assert sent.is_set()
            return report
        finally:
            if host._pump is not None:
                host._pump.cancel()

    return asyncio.run(body())


@pytest.mark.parametrize("fresh", [False, True], ids=["begin-then-data", "pipelined-begin"])
def test_clean_upload_verifies_with_nothing_resent(fresh: bool) -> None:
    data = random.Random(1).randbytes(200_000)
    store = TransferStore()
    host = FakeLinkHost(store, payload=frame_limit(247) - 10)
    report = _upload(host, data, fresh=fresh)
    t = store.get("glasses", 77)
    assert t is not None and t.summary()["state"] == "verified" and bytes(t.data) == data
    assert t.sha256 == hashlib.sha256(data).digest() and report.sha256 == t.sha256.hex()
    assert t.bytes_received == len(data) and report.bytes_sent == len(data) and report.restarts == 0
    data_messages = host.fragments[1:]
    assert all(n % host.payload == 0 for n in data_messages[:-1])  # every TransferData but the last: whole fragments


@pytest.mark.parametrize("fresh", [False, True], ids=["begin-then-data", "pipelined-begin"])
def test_upload_resumes_after_peer_resets_from_the_confirmed_offset(fresh: bool) -> None:
    data = random.Random(2).randbytes(200_000)
    store = TransferStore()
    host = FakeLinkHost(store, payload=frame_limit(185) - 10, resets_at=(3, 9, 15))
    report = _upload(host, data, fresh=fresh)
    t = store.get("glasses", 77)
    assert t is not None and t.summary()["state"] == "verified" and bytes(t.data) == data
    assert host.lost_messages > 0 and report.restarts == 3
    # Every resume started at what the phone held, never beyond it, and the bytes sent again are bounded by
    # what the resets dropped (depth messages of at most 16 KB each).
    assert report.resumed_from == sorted(report.resumed_from)
    resent = report.bytes_sent - len(data)
    assert 0 < resent <= 3 * host.depth * TRANSFER_DATA_LIMIT
    assert t.bytes_received - len(data) <= resent  # the store saw no more than we resent


@pytest.mark.parametrize("fresh", [False, True], ids=["begin-then-data", "pipelined-begin"])
def test_receiver_that_forgot_gets_the_transfer_again(fresh: bool) -> None:
    data = random.Random(3).randbytes(50_000)
    store = TransferStore()
    host = FakeLinkHost(store, payload=frame_limit(517) - 10, resets_at=(2,))
    original_query = store.query

    def forgetful_query(owner: str, msg: pb.TransferQuery, now: float) -> pb.TransferStatus:
        store._transfers.clear()  # the phone restarted and kept transfers in RAM
        return original_query(owner, msg, now)

    store.query = forgetful_query  # type: ignore[method-assign]
    report = _upload(host, data, fresh=fresh)
    t = store.get("glasses", 77)
    assert t is not None and bytes(t.data) == data and report.resumed_from == [0]


def test_refused_transfer_raises_with_the_phone_reason() -> None:
    for fresh in (False, True):  # a pipelined Begin's refusal fails the upload all the same
        with pytest.raises(TransferFailed, match="not_supported"):
            _upload(FakeLinkHost(TransferStore(), payload=234), b"firmware image", kind="firmware", fresh=fresh)
    with pytest.raises(ValueError, match="unknown transfer kind"):
        _upload(FakeLinkHost(TransferStore(), payload=234), b"x", kind="video")


@pytest.mark.parametrize("fresh", [False, True], ids=["begin-then-data", "pipelined-begin"])
def test_link_restart_before_the_first_answer_resumes_instead_of_escaping(fresh: bool) -> None:
    """The phone link restarts while the first TransferBegin is in flight (the phone came back mid-question):
    the upload asks where the transfer stands and completes, instead of raising the internal Resync."""
    data = random.Random(4).randbytes(30_000)
    store = TransferStore()
    host = FakeLinkHost(store, payload=frame_limit(247) - 10, resets_at=(1,))
    report = _upload(host, data, fresh=fresh)
    t = store.get("glasses", 77)
    assert t is not None and t.summary()["state"] == "verified" and bytes(t.data) == data
    assert host.lost_messages == 1 and report.restarts == 1


class SwallowingHost(FakeLinkHost):
    """A phone that answers every request but never takes a TransferData (a companion bug, or a link that loses
    exactly the data): nothing the upload does makes progress."""

    def _deliver(self, data: bytes) -> None:
        if decode(data).WhichOneof("body") == "transfer_data":
            return
        super()._deliver(data)


class JammedHost(FakeLinkHost):
    """A link whose transmit queue stops taking messages after the first `room` (nothing is acknowledged any more):
    send waits for room for ever."""

    room = 3

    async def send(self, msg: pb.Message, channel: int = 1) -> None:
        if self.sent >= self.room:
            await asyncio.Event().wait()
        await super().send(msg, channel)


@pytest.mark.parametrize("host_class", [SwallowingHost, JammedHost], ids=["data-swallowed", "queue-jammed"])
def test_upload_without_progress_fails_in_bounded_time_with_the_reason(host_class: type[FakeLinkHost]) -> None:
    """No progress for stall_timeout: TransferStalled saying what the phone confirmed and what went wrong, instead of
    asking TransferQuery and resending for ever (or waiting on the link's queue for ever)."""
    import time

    data = random.Random(5).randbytes(100_000)
    host = host_class(TransferStore(), payload=frame_limit(247) - 10)

    async def body() -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        host.transfer_queue = queue
        try:
            await asyncio.wait_for(Upload(host, 77, "photo", data, "p.jpg", queue, host.chunks(),
                                          stall_timeout=2.5).run(), 30)
        finally:
            if host._pump is not None:
                host._pump.cancel()

    started = time.monotonic()
    with pytest.raises(TransferStalled) as info:
        asyncio.run(body())
    elapsed = time.monotonic() - started
    assert 2.5 <= elapsed < 2.5 + 2 * FakeLinkHost.request_timeout + 1, elapsed
    text = str(info.value)
    assert "transfer p.jpg (100000 bytes): no progress for" in text and "phone confirmed 0 of 100000 bytes" in text
    if host_class is JammedHost:
        assert "no room" in text
    else:
        assert "verdict" in text  # what it waited for when it gave up


def test_upload_stall_timeout_must_be_a_finite_positive_number() -> None:
    host = FakeLinkHost(TransferStore(), payload=234)
    for bad in (0, -1.0, float("inf"), float("nan"), True):
        with pytest.raises(ValueError, match="stall_timeout"):
            Upload(host, 1, "photo", b"x", "p", asyncio.Queue(), host.chunks(), stall_timeout=bad)
