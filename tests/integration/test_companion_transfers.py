"""The companion's transfer store (SPEC.md 10 and 16.5) and offline brain, without a radio.

The transfer rules are checked message by message against the SPEC's wording (offsets, statuses, SHA-256 from
hashlib, retention); the brain against pictures and recordings made here with Pillow and the wave module.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import wave

import pytest

from glassbridge_companion.brain import OfflineBrain, Question, describe_audio, describe_photo
from glassbridge_companion.transfers import ACK_EVERY, TransferStore
from glassbridge.protocol.messages import pb

OWNER = "F5:F4:F3:F2:F1:F0"


def begin(store: TransferStore, data: bytes, tid: int = 1, now: float = 0.0, sha: bytes | None = None,
          kind: int = pb.TRANSFER_KIND_PHOTO, owner: str = OWNER) -> pb.TransferStatus:
    return store.begin(owner, pb.TransferBegin(transfer_id=tid, kind=kind, size=len(data),  # type: ignore[arg-type]
                                               sha256=sha or hashlib.sha256(data).digest()), now)


def chunk(store: TransferStore, data: bytes, off: int, n: int, tid: int = 1, now: float = 0.0,
          owner: str = OWNER) -> pb.TransferStatus | None:
    return store.data(owner, pb.TransferData(transfer_id=tid, offset=off, data=data[off:off + n]), now)


def test_statuses_every_ack_every_chunks_and_verified_at_the_end() -> None:
    store, data = TransferStore(), bytes(range(256)) * 40  # 10240 bytes, 10 chunks of 1024
    first = begin(store, data)
    assert (first.state, first.offset, first.ack_every) == (pb.TRANSFER_STATE_RECEIVING, 0, ACK_EVERY)
    statuses = [chunk(store, data, off, 1024) for off in range(0, len(data), 1024)]
    due = [i for i, s in enumerate(statuses) if s is not None]
    assert due == [ACK_EVERY - 1, 2 * ACK_EVERY - 1, 9]  # every ACK_EVERY-th and the last
    last = statuses[-1]
    assert last is not None and (last.state, last.offset) == (pb.TRANSFER_STATE_VERIFIED, len(data))
    (t,) = store.all()
    assert t.summary()["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_chunk_off_the_offset_is_refused_with_the_kept_offset() -> None:
    store, data = TransferStore(), b"x" * 5000
    begin(store, data)
    chunk(store, data, 0, 1000)
    refused = chunk(store, data, 3000, 1000)  # a gap: not at 1000
    assert refused is not None and refused.error == pb.ERROR_CODE_OFFSET_MISMATCH and refused.offset == 1000
    again = chunk(store, data, 0, 1000)  # a duplicate of what is kept
    assert again is not None and again.error == pb.ERROR_CODE_OFFSET_MISMATCH and again.offset == 1000
    assert store.get(OWNER, 1).bytes_received == 3000  # type: ignore[union-attr]  # every byte that arrived


def test_resume_by_begin_or_query_and_unknown_after_retention() -> None:
    store, data = TransferStore(retention_s=600), b"y" * 4096
    begin(store, data, now=0)
    chunk(store, data, 0, 1024, now=1)
    assert begin(store, data, now=2).offset == 1024  # same id + sha256: resume
    q = store.query(OWNER, pb.TransferQuery(transfer_id=1), 3)
    assert (q.state, q.offset) == (pb.TRANSFER_STATE_RECEIVING, 1024)
    other = store.query("E1:E2:E3:E4:E5:E6", pb.TransferQuery(transfer_id=1), 3)
    assert other.state == pb.TRANSFER_STATE_UNKNOWN  # transfers belong to one glasses identity
    assert begin(store, b"z" * 4096, now=4).offset == 0  # same id, new content: start again
    later = store.query(OWNER, pb.TransferQuery(transfer_id=1), 4 + 601)
    assert later.state == pb.TRANSFER_STATE_UNKNOWN  # kept 10 min after the last activity, not forever
    missing = chunk(store, data, 0, 10, tid=9)
    assert missing is not None and missing.state == pb.TRANSFER_STATE_UNKNOWN
    assert missing.error == pb.ERROR_CODE_NO_SUCH_TRANSFER


def test_hash_mismatch_fails_and_keeps_nothing() -> None:
    store, data = TransferStore(), b"q" * 2048
    begin(store, data, sha=hashlib.sha256(b"something else").digest())
    chunk(store, data, 0, 1024)
    end = chunk(store, data, 1024, 1024)
    assert end is not None and (end.state, end.error) == (pb.TRANSFER_STATE_FAILED, pb.ERROR_CODE_HASH_MISMATCH)
    assert begin(store, data).offset == 0  # a new TransferBegin starts over


@pytest.mark.parametrize(("kind", "size", "sha", "error"), [
    (pb.TRANSFER_KIND_FIRMWARE, 10, None, pb.ERROR_CODE_NOT_SUPPORTED),
    (pb.TRANSFER_KIND_PHOTO, 10, b"short", pb.ERROR_CODE_BAD_REQUEST),
    (pb.TRANSFER_KIND_PHOTO, (16 << 20) + 1, None, pb.ERROR_CODE_TOO_LARGE),
])
def test_refused_begins(kind: int, size: int, sha: bytes | None, error: int) -> None:
    store = TransferStore()
    status = store.begin(OWNER, pb.TransferBegin(transfer_id=1, kind=kind, size=size,  # type: ignore[arg-type]
                                                 sha256=sha or bytes(32)), 0)
    assert (status.state, status.error) == (pb.TRANSFER_STATE_FAILED, error) and store.all() == []


def test_memory_is_bounded_by_dropping_finished_transfers_first() -> None:
    store = TransferStore(max_total=10_000)
    done = b"d" * 6000
    begin(store, done, tid=1)
    chunk(store, done, 0, 6000, tid=1)
    assert begin(store, b"n" * 6000, tid=2).state == pb.TRANSFER_STATE_RECEIVING  # transfer 1 made room
    assert [t.transfer_id for t in store.all()] == [2]
    assert begin(store, b"m" * 6000, tid=3).error == pb.ERROR_CODE_BUSY  # 2 is still receiving


# ---- the offline brain ---------------------------------------------------------------------------------------


def jpeg(colour: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def wav(seconds: float, amplitude: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        n = int(16000 * seconds)
        w.writeframes(b"".join(int(amplitude * math.sin(i / 10)).to_bytes(2, "little", signed=True)
                               for i in range(n)))
    return out.getvalue()


@pytest.mark.parametrize(("colour", "name", "light"), [((200, 30, 30), "red", "dim"), ((10, 10, 10), "black", "dark"),
                                                       ((240, 240, 240), "white", "bright")])
def test_photo_description_is_measured(colour: tuple[int, int, int], name: str, light: str) -> None:
    text = describe_photo(jpeg(colour, (64, 48)))
    assert text.startswith("64x48 JPEG") and f"mostly {name}" in text and light in text


def test_audio_and_bad_inputs_are_described_honestly() -> None:
    assert describe_audio(wav(1.5, 8000)).startswith("a 1.5 s recording, sound at -")
    assert "silence" in describe_audio(wav(0.5, 0))
    assert "not a WAV" in describe_audio(b"RIFF....")
    assert "could not be decoded" in describe_photo(b"\xff\xd8 not really a jpeg")


def test_offline_brain_answers_in_two_parts_and_never_claims_understanding() -> None:
    async def collect() -> list[str]:
        q = Question(pb.ASSISTANT_TASK_READ_TEXT, "what does the sign say?", photo=jpeg((30, 60, 190), (32, 32)))
        return [p.text async for p in OfflineBrain().answer(q)]

    first, second = asyncio.run(collect())
    assert first == "I can't find any readable text in the photo."  # read offline (glassbridge_companion.ocr)
    assert '"what does the sign say?"' in second and "mostly blue" in second
    assert second.endswith("(Answered offline on the phone: no cloud assistant is connected.)")


def test_captions_one_per_second_of_audio() -> None:
    brain = OfflineBrain()
    frame = b"\x00\x10" * 320  # 20 ms
    lines = [line for i in range(100) for line in brain.hear(3, 16000, i * 320, frame)]
    assert len(lines) == 2 and all(line.stream_id == 3 and "offline" in line.text for line in lines)
