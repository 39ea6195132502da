"""The Mcu client's own logic against a scripted MCU (no firmware, no UART): every answer to a transfer ends it,
the version-mismatch error states both sides' versions as their Hellos did, the capture fail-safe reaches the
application, times and rates that would wait for ever are refused, and the errors (glassbridge.protocol.errors)
name the MCU.

The scripted MCU is a function from each request the client sends (decoded with protobuf) to the messages it
answers, encoded with protobuf and handed back as the link would deliver them; expected values are written out
here from SPEC.md 10 and glassbridge.proto, not derived from the client.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest

from glassbridge.mcu.client import Mcu
from glassbridge.mcu.errors import CaptureStoppedError
from glassbridge.mcu.events import CaptureFailsafe
from glassbridge.protocol.errors import (
    LinkLost,
    PeerError,
    PeerIncompatible,
    PeerRestarted,
    TransferFailed,
    TransferStalled,
)
from glassbridge.protocol.link import Link, LinkDown, LinkUp, MessageReceived, PeerInfo, PeerReset, Role, VersionMismatch
from glassbridge.protocol.messages import decode, encode, pb

Answer = list[tuple[int, Any]]


def peer(protocol: int = 1, minimum: int = 1, **extra: Any) -> PeerInfo:
    fields: dict[str, Any] = dict(protocol_version=protocol, min_protocol_version=minimum, session=0x5EED0001,
                                  boot_counter=3, max_frame=1024, window=16, max_message=1536, capabilities=0xFF,
                                  role=Role.MCU, firmware_version="fw-test")
    fields.update(extra)
    return PeerInfo(**fields)


class ScriptedTransport:
    """What Mcu needs of a SerialTransport, with an MCU made of `answer(message) -> [(channel, Message)]`."""

    def __init__(self, answer: Callable[[Any], Answer]) -> None:
        self.link = Link(role=Role.SOC)  # an engine that never runs: our versions and (zero) counters
        self.port = "scripted"
        self.baudrate = 921600
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self.answer = answer
        self.sent: list[Any] = []

    def deliver(self, channel: int, msg: Any) -> None:
        self.events.put_nowait(MessageReceived(channel, encode(msg)))

    async def send(self, channel: int, data: bytes) -> None:
        msg = decode(data)
        self.sent.append(msg)
        for ch, reply in self.answer(msg):
            self.deliver(ch, reply)
        await asyncio.sleep(0)

    async def close(self) -> None:
        return None


def status(tid: int, state: int, offset: int, error: int = 0, rid: int = 0) -> Any:
    return pb.Message(request_id=rid, transfer_status=pb.TransferStatus(
        transfer_id=tid, state=state, offset=offset, error=error, ack_every=8))


async def connected(answer: Callable[[Any], Answer], **options: Any) -> tuple[Mcu, ScriptedTransport]:
    transport = ScriptedTransport(answer)
    mcu = Mcu(transport, **options)  # type: ignore[arg-type]
    transport.events.put_nowait(LinkUp(peer()))
    await mcu.wait_connected(1.0)
    return mcu, transport


def run(coro: Any, timeout: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def chunks_of(transport: ScriptedTransport) -> list[Any]:
    return [m.transfer_chunk for m in transport.sent if m.WhichOneof("body") == "transfer_chunk"]


# ---- transfers: every answer ends them ------------------------------------------------------------------------


def test_transfer_the_mcu_already_verified_returns_at_once() -> None:
    """The same transfer_id and SHA-256 again (SPEC.md 10.1: the MCU answers with what it holds): VERIFIED, offset
    = size. The client returns at once without sending a chunk (it used to wait for a verdict that never came,
    then ask, then wait again, for ever)."""
    data = bytes(range(256)) * 40

    def mcu(msg: Any) -> Answer:
        if msg.WhichOneof("body") == "transfer_begin":
            b = msg.transfer_begin
            assert b.size == len(data) and b.sha256 == hashlib.sha256(data).digest()
            return [(3, status(b.transfer_id, pb.TRANSFER_STATE_VERIFIED, len(data), rid=msg.request_id))]
        raise AssertionError(f"nothing else expected, got {msg.WhichOneof('body')}")

    async def body() -> Any:
        mcu_client, transport = await connected(mcu)
        started = time.monotonic()
        seen: list[tuple[int, int]] = []
        report = await mcu_client.transfer(data, transfer_id=41, progress=lambda o, t: seen.append((o, t)))
        elapsed = time.monotonic() - started
        await mcu_client.close()
        return report, elapsed, transport, seen

    report, elapsed, transport, seen = run(body())
    assert elapsed < 1.0 and report.transfer_id == 41 and report.size == len(data) and report.restarts == 0
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert chunks_of(transport) == [] and seen == [(len(data), len(data))]


def test_an_offset_beyond_the_size_is_an_error() -> None:
    def mcu(msg: Any) -> Answer:
        b = msg.transfer_begin
        return [(3, status(b.transfer_id, pb.TRANSFER_STATE_RECEIVING, b.size + 960, rid=msg.request_id))]

    async def body() -> None:
        mcu_client, _ = await connected(mcu)
        try:
            await mcu_client.transfer(b"x" * 5000, transfer_id=42)
        finally:
            await mcu_client.close()

    with pytest.raises(TransferFailed, match="offset 5960 .* beyond its size"):
        run(body(), timeout=5)


def test_a_begin_refused_as_too_large_is_an_error_not_a_loop() -> None:
    """The firmware answers a Begin it cannot take with state UNKNOWN and error TOO_LARGE (transfer.c)."""

    def mcu(msg: Any) -> Answer:
        if msg.WhichOneof("body") != "transfer_begin":
            raise AssertionError("the client must stop at the refusal")
        return [(3, status(msg.transfer_begin.transfer_id, pb.TRANSFER_STATE_UNKNOWN, 0, pb.ERROR_CODE_TOO_LARGE,
                           rid=msg.request_id))]

    async def body() -> None:
        mcu_client, _ = await connected(mcu)
        try:
            await mcu_client.transfer(b"x" * 100, transfer_id=43)
        finally:
            await mcu_client.close()

    with pytest.raises(TransferFailed, match="refused transfer 43 .*too_large"):
        run(body(), timeout=5)


def test_answers_without_progress_end_in_an_error_after_the_stall_timeout() -> None:
    """An MCU that keeps its offset at 0 (refuses every chunk with OFFSET_MISMATCH 0, answers every query with 0):
    the client resumes a few times, then gives up once stall_timeout passed without progress."""
    size = 20 * 960

    def mcu(msg: Any) -> Answer:
        body = msg.WhichOneof("body")
        if body == "transfer_begin":
            return [(3, status(msg.transfer_begin.transfer_id, pb.TRANSFER_STATE_RECEIVING, 0, rid=msg.request_id))]
        if body == "transfer_query":
            return [(3, status(msg.transfer_query.transfer_id, pb.TRANSFER_STATE_RECEIVING, 0, rid=msg.request_id))]
        chunk = msg.transfer_chunk
        if chunk.offset == 0:
            return []  # "taken", then lost: the next one does not fit
        return [(3, status(chunk.transfer_id, pb.TRANSFER_STATE_RECEIVING, 0, pb.ERROR_CODE_OFFSET_MISMATCH))]

    async def body() -> tuple[float, int]:
        mcu_client, transport = await connected(mcu, stall_timeout=1.5)
        started = time.monotonic()
        try:
            with pytest.raises(TransferStalled) as info:
                await mcu_client.transfer(b"y" * size, transfer_id=44)
        finally:
            await mcu_client.close()
        assert "no progress for" in str(info.value) and "confirmed 0 of 19200 bytes" in str(info.value)
        assert "data frames" in str(info.value) or "no data frame" in str(info.value)  # the line's part
        return time.monotonic() - started, len(chunks_of(transport))

    elapsed, chunks = run(body(), timeout=20)
    assert 1.5 <= elapsed < 1.5 + 3.0 + 1.0, elapsed  # stall_timeout, plus at most one request_timeout round
    assert chunks >= 2


def test_a_transfer_resumes_from_what_the_mcu_confirms_and_verifies() -> None:
    """The happy path of the scripted MCU, so the tests above fail for their reason only: a receiver written from
    SPEC.md 10 (consecutive chunks, a status every 8th and at the end, SHA-256 checked)."""
    data = bytes((i * 7) & 0xFF for i in range(10_000))
    held = bytearray()

    def mcu(msg: Any) -> Answer:
        body = msg.WhichOneof("body")
        if body == "transfer_begin":
            return [(3, status(msg.transfer_begin.transfer_id, pb.TRANSFER_STATE_RECEIVING, 0, rid=msg.request_id))]
        chunk = msg.transfer_chunk
        assert chunk.offset == len(held)
        held.extend(chunk.data)
        n = len(held) // 960
        if len(held) == len(data):
            ok = hashlib.sha256(held).digest() == hashlib.sha256(data).digest()
            return [(3, status(chunk.transfer_id, pb.TRANSFER_STATE_VERIFIED if ok else pb.TRANSFER_STATE_FAILED,
                               len(held)))]
        return [(3, status(chunk.transfer_id, pb.TRANSFER_STATE_RECEIVING, len(held)))] if n % 8 == 0 else []

    async def body() -> Any:
        mcu_client, _ = await connected(mcu)
        try:
            return await mcu_client.transfer(data, transfer_id=45)
        finally:
            await mcu_client.close()

    report = run(body(), timeout=10)
    assert bytes(held) == data and report.restarts == 0


# ---- version mismatch -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("theirs", "ours", "expected"),
    [
        ((9, 9), (1, 1), "speaks link protocol versions 9 to 9; this glassbridge speaks 1 to 1: no version in "
                         "common, glassbridge is older: update the glassbridge package"),
        ((1, 1), (2, 3), "speaks link protocol versions 1 to 1; this glassbridge speaks 2 to 3: no version in "
                         "common, the firmware is older: update the firmware"),
        ((2, 5), (1, 3), "speaks link protocol versions 2 to 5; this glassbridge speaks 1 to 3: the versions "
                         "overlap, but the MCU refused the link"),
    ],
)
def test_version_mismatch_states_each_side_as_its_hello_did(theirs: tuple[int, int], ours: tuple[int, int],
                                                           expected: str) -> None:
    """The MCU's range comes from its Hello (min_protocol_version to protocol_version), ours from our engine's
    configuration; the side to update is the one whose newest version is below the other's oldest. (The old
    message said "accepts 1 and up" of an MCU that speaks only 1, and blamed the package on overlapping ranges.)"""

    async def body() -> str:
        transport = ScriptedTransport(lambda m: [])
        transport.link = Link(role=Role.SOC, protocol_version=ours[1], min_protocol_version=ours[0])
        mcu_client = Mcu(transport)  # type: ignore[arg-type]
        transport.events.put_nowait(VersionMismatch(peer(protocol=theirs[1], minimum=theirs[0])))
        try:
            with pytest.raises(PeerIncompatible) as info:
                await mcu_client.wait_connected(1.0)
            # A compatible peer later (the firmware was updated: a new session): the error is over.
            transport.events.put_nowait(LinkUp(peer(protocol=ours[1], minimum=ours[0])))
            await asyncio.sleep(0.05)
            await mcu_client.wait_connected(1.0)
            return str(info.value)
        finally:
            await mcu_client.close()

    text = run(body(), timeout=5)
    assert text.startswith("the MCU (firmware fw-test) ") and expected in text


# ---- capture fail-safe ------------------------------------------------------------------------------------------


def test_the_capture_failsafe_is_an_event_and_ends_the_microphone_stream() -> None:
    """The MCU's FailsafeEvent (sent when the link is back): a CaptureFailsafe event with its fields, and a running
    microphone() ends with CaptureStoppedError saying why, instead of waiting for audio that will not come."""
    frame = pb.AudioFrame(sample_rate=16000, first_sample=0, pcm=b"\x01\x00" * 320, stream_id=7)

    def mcu(msg: Any) -> Answer:
        if msg.WhichOneof("body") == "mic_control":
            started = [(2, pb.Message(mic_audio=frame))] if msg.mic_control.stream else []
            return [(1, pb.Message(request_id=msg.request_id, result=pb.Result())), *started]
        return []

    async def body() -> tuple[list[Any], list[Any]]:
        mcu_client, transport = await connected(mcu)
        events = mcu_client.events()

        async def until_failsafe() -> list[Any]:
            got = []
            async for event in events:
                got.append(event)
                if isinstance(event, CaptureFailsafe):
                    break
            return got

        listener = asyncio.create_task(until_failsafe())
        await asyncio.sleep(0)
        chunks: list[Any] = []
        with pytest.raises(CaptureStoppedError, match="link to the SoC was lost for 12.3 s"):
            async for chunk in mcu_client.microphone():
                chunks.append(chunk)
                transport.deliver(1, pb.Message(failsafe=pb.FailsafeEvent(
                    link_lost_ms=12_345, camera_was_on=True, mic_was_streaming=True, at_ms=99_000, down_ms=20_000)))
        got = await asyncio.wait_for(listener, 2)
        await events.aclose()
        await mcu_client.close()
        return got, chunks

    got, chunks = run(body(), timeout=10)
    assert got[-1] == CaptureFailsafe(link_lost_ms=12_345, camera_was_on=True, mic_was_streaming=True,
                                      at_ms=99_000, down_ms=20_000)
    assert [c.pcm for c in chunks] == [frame.pcm]


# ---- arguments that would wait for ever ------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["request_timeout", "link_patience", "stall_timeout"])
@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), "3"])
def test_times_that_are_not_finite_and_positive_are_refused(option: str, bad: Any) -> None:
    async def body() -> None:
        Mcu(ScriptedTransport(lambda m: []), **{option: bad})  # type: ignore[arg-type]

    with pytest.raises(ValueError, match=option):
        run(body())


@pytest.mark.parametrize(("option", "bad"), [("baudrate", 0), ("baudrate", -9600), ("baudrate", 9600.0),
                                             ("timeout", -1), ("timeout", float("inf")), ("timeout", float("nan")),
                                             ("stall_timeout", 0)])
def test_connect_refuses_a_bad_baud_or_timeout_before_opening_the_port(option: str, bad: Any,
                                                                      tmp_path: Any) -> None:
    missing = str(tmp_path / "no-such-port")  # opening it would be a PortError: the ValueError must come first
    with pytest.raises(ValueError, match=option):
        run(Mcu.connect(missing, **{option: bad}))


# ---- the error family: one for both links, naming the peer -------------------------------------------------------


def test_a_reboot_fails_the_request_in_flight_and_a_silent_link_ends_in_link_lost() -> None:
    """Errors of glassbridge.protocol.errors, with peer "MCU": a reboot (PeerReset) fails the waiting request with
    PeerRestarted (a LinkLost, as the phone's restart is); a link that stays down past link_patience ends the wait
    with LinkLost saying how long it was down."""

    async def body() -> tuple[BaseException, BaseException, float]:
        mcu_client, transport = await connected(lambda m: [], request_timeout=0.2, link_patience=0.3)
        try:
            waiting = asyncio.create_task(mcu_client.status())
            await asyncio.sleep(0.05)
            transport.events.put_nowait(PeerReset(peer(boot_counter=4), 2))
            with pytest.raises(PeerRestarted) as rebooted:
                await waiting
            transport.events.put_nowait(LinkDown())
            await asyncio.sleep(0.01)
            started = time.monotonic()
            with pytest.raises(LinkLost) as lost:
                await mcu_client.status()
            return rebooted.value, lost.value, time.monotonic() - started
        finally:
            await mcu_client.close()

    rebooted, lost, waited = run(body(), timeout=10)
    assert isinstance(rebooted, LinkLost) and isinstance(rebooted, PeerError) and rebooted.peer == "MCU"
    assert "the MCU rebooted (boot counter 4); 2 unacknowledged messages were dropped" in str(rebooted)
    assert isinstance(lost, LinkLost) and not isinstance(lost, PeerRestarted) and lost.peer == "MCU"
    assert "waiting for the answer to Status: the link to the MCU has been down for" in str(lost)
    assert 0.2 <= waited < 2.0, waited
