"""glassbridge (the SoC side) against protocol/vectors/app_transcripts.txt: the MCU link's application layer.

The transcripts are written from SPEC.md 10 and 10.1 with Python's protobuf by protocol/tools/make_app_vectors.py
(the firmware replays the same file: firmware/tests/test_app_transcripts.c). Here:

- glassbridge's own message codec (glassbridge.protocol.messages) decodes every `mcu` line into exactly the fields
  protobuf gives and encodes them back to the same bytes; the `soc` lines the MCU answers with DECODE_FAILED are
  refused by it too (the SoC never sends what the MCU cannot hold);
- the transfer sender (glassbridge.protocol.transfer.Upload), run without a link against the transcript, sends
  exactly the `soc` records the conversation marks as its own and ends as the conversation says (VERIFIED, or the
  receiver's error: TOO_LARGE, BAD_REQUEST, BUSY);
- every TransferStatus the MCU sends in the transcripts, fed to the sender, gives the decision SPEC.md 10 rule 5
  prescribes (resume from the offset, stop on VERIFIED, error on FAILED / a refused Begin / a refused chunk,
  begin again on UNKNOWN without an error).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from glassbridge.protocol.errors import MessageDecodeError, TransferFailed
from glassbridge.protocol.messages import decode, encode, pb
from glassbridge.protocol.transfer import Resync, TransferChunks, Upload, _Restart

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "protocol" / "vectors" / "app_transcripts.txt"
sys.path.insert(0, str(REPO / "protocol" / "tools"))

from vector_file import records  # noqa: E402  (a protocol/tools script)


@dataclass
class Conversation:
    name: str
    head: dict[str, str]
    # (soc record, the MCU's answers: (record, message) in order)
    steps: list[tuple[dict[str, str], list[tuple[dict[str, str], pb.Message]]]] = field(default_factory=list)


def conversations() -> list[Conversation]:
    out: list[Conversation] = []
    for rec in records(VECTORS):
        if "conversation" in rec:
            out.append(Conversation(rec["conversation"], rec))
        elif "soc" in rec:
            out[-1].steps.append((rec, []))
        elif "mcu" in rec:
            out[-1].steps[-1][1].append((rec, pb.Message.FromString(bytes.fromhex(rec["mcu"]))))
        else:
            assert "quiet" in rec, rec
    return out


CONVERSATIONS = conversations()
BY_NAME = {c.name: c for c in CONVERSATIONS}


def pattern(size: int, seed: int) -> bytes:
    """README.md: byte i of a conversation's transfer data is (seed + 7 i + floor(i / 256)) mod 256."""
    return bytes((seed + 7 * i + (i >> 8)) & 0xFF for i in range(size))


def mcu_lines() -> Iterator[tuple[str, dict[str, str]]]:
    for c in CONVERSATIONS:
        for _, answers in c.steps:
            for rec, _ in answers:
                yield c.name, rec


def test_the_file_has_every_conversation_the_readme_lists() -> None:
    assert set(BY_NAME) == {
        "status_request", "transfer_complete", "transfer_resume_query", "transfer_resume_begin",
        "transfer_verified_again", "transfer_hash_mismatch", "transfer_offset_mismatch", "transfer_too_large",
        "transfer_bad_request", "transfer_busy", "unknown_messages", "not_supported", "decode_failed"}
    assert sum(len(c.steps) for c in CONVERSATIONS) >= 80


def test_glassbridge_decodes_every_mcu_answer_as_protobuf_does() -> None:
    n = 0
    for name, rec in mcu_lines():
        raw = bytes.fromhex(rec["mcu"])
        ours = decode(raw)
        theirs = pb.Message.FromString(raw)
        assert ours.ListFields() == theirs.ListFields(), name
        assert ours.WhichOneof("body") == theirs.WhichOneof("body")
        assert encode(ours) == raw, name
        assert rec["ch"] in ("1", "2", "3")
        n += 1
    assert n >= 60


def test_the_soc_codec_refuses_what_the_mcu_cannot_decode() -> None:
    refused = 0
    for c in CONVERSATIONS:
        for soc, answers in c.steps:
            raw = bytes.fromhex(soc["soc"])
            failed = [m for _, m in answers if m.WhichOneof("body") == "result"
                      and m.result.code == pb.ERROR_CODE_DECODE_FAILED]
            if failed:
                with pytest.raises(MessageDecodeError):
                    decode(raw)
                refused += 1
            else:
                decode(raw)
    assert refused == 4


# ---- the sender, driven by the transcript --------------------------------------------------------------------


class ScriptedMcu:
    """An UploadHost whose link is the transcript: each message the Upload sends must be the next `soc` record
    (request_id aside: the host numbers requests itself) on its channel; the MCU's answers in the transcript go to
    the Upload's queue as the client routes them (echoing a request_id: the Message; request_id 0: the bare
    TransferStatus)."""

    peer = "MCU"
    request_timeout = 1.0
    link_patience = 1.0

    def __init__(self, steps: list[tuple[dict[str, str], list[tuple[dict[str, str], pb.Message]]]]) -> None:
        self.steps = list(steps)
        self.sent = 0
        self.queues: dict[int, asyncio.Queue[Any]] = {}
        self.next_rid = 1000

    def down_for(self) -> float | None:
        return None

    def register_request(self, queue: asyncio.Queue[Any]) -> int:
        self.next_rid += 1
        self.queues[self.next_rid] = queue
        return self.next_rid

    def unregister_request(self, request_id: int) -> None:
        self.queues.pop(request_id, None)

    async def wait_up(self, timeout: float) -> None:
        return None

    def stats(self) -> dict[str, Any]:
        return {}

    async def send(self, msg: pb.Message, channel: int = 3) -> None:
        assert self.steps, f"the sender sent more than the transcript: {msg.WhichOneof('body')}"
        soc, answers = self.steps.pop(0)
        want = pb.Message.FromString(bytes.fromhex(soc["soc"]))
        rid = msg.request_id
        got = pb.Message()
        got.CopyFrom(msg)
        got.request_id = want.request_id = 0
        assert encode(got) == encode(want), f"record {self.sent}: sent {msg}, transcript {want}"
        assert channel == int(soc["ch"])
        self.sent += 1
        for _, answer in answers:
            if answer.request_id:
                assert answer.request_id == pb.Message.FromString(bytes.fromhex(soc["soc"])).request_id
                routed = pb.Message()
                routed.CopyFrom(answer)
                routed.request_id = rid
                self.queues[rid].put_nowait(routed)
            else:
                assert answer.WhichOneof("body") == "transfer_status"
                self.queues[0].put_nowait(answer.transfer_status)


UPLOADS = [c for c in CONVERSATIONS if "upload" in c.head]


@pytest.mark.parametrize("conv", UPLOADS, ids=[c.name for c in UPLOADS])
def test_the_sender_sends_the_transcript_and_decides_as_it_says(conv: Conversation) -> None:
    h = conv.head
    host = ScriptedMcu(conv.steps[int(h["upload"]):])
    data = pattern(int(h["size"]), int(h["seed"]))

    async def run() -> Any:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        host.queues[0] = queue  # where bare TransferStatus go (the client routes them by transfer_id)
        upload = Upload(host, int(h["transfer_id"]), h["kind"], data, h.get("name", ""), queue, TransferChunks(),
                        stall_timeout=5.0)
        return await upload.run()

    outcome = h["outcome"]
    if outcome == "verified":
        report = asyncio.run(asyncio.wait_for(run(), 10))
        assert report.size == len(data) and report.restarts == 0
    else:
        code = outcome.removeprefix("error:").lower()
        with pytest.raises(TransferFailed, match=f"refused transfer .*: {code}"):
            asyncio.run(asyncio.wait_for(run(), 10))
    assert host.sent >= 1


def test_busy_says_what_to_do() -> None:
    conv = BY_NAME["transfer_busy"]
    h = conv.head
    host = ScriptedMcu(conv.steps[int(h["upload"]):])

    async def run() -> Any:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        host.queues[0] = queue
        return await Upload(host, int(h["transfer_id"]), h["kind"], pattern(int(h["size"]), int(h["seed"])), "",
                            queue, TransferChunks(), stall_timeout=5.0).run()

    with pytest.raises(TransferFailed, match="receiving another transfer") as info:
        asyncio.run(asyncio.wait_for(run(), 10))
    assert host.sent == 1, "BUSY ends the upload: no retry, no data"
    assert "busy" in str(info.value)


def expected_decision(st: pb.TransferStatus) -> tuple[str, int]:
    """SPEC.md 10 rule 5 (and step 2), as a table: what a sender does with a TransferStatus."""
    if st.state == pb.TRANSFER_STATE_VERIFIED:
        return ("done", 0)
    if st.state == pb.TRANSFER_STATE_FAILED:
        return ("error", 0)
    if st.state == pb.TRANSFER_STATE_UNKNOWN:
        if st.error in (pb.ERROR_CODE_OK, pb.ERROR_CODE_NO_SUCH_TRANSFER):
            return ("begin again", 0)
        return ("error", 0)
    if st.error == pb.ERROR_CODE_OFFSET_MISMATCH:
        return ("resume", st.offset)
    if st.error:
        return ("error", 0)
    return ("continue", st.offset)


def test_every_transfer_status_of_the_transcripts_gives_the_documented_decision() -> None:
    seen: set[str] = set()
    for _, rec in mcu_lines():
        msg = pb.Message.FromString(bytes.fromhex(rec["mcu"]))
        if msg.WhichOneof("body") != "transfer_status":
            continue
        st = msg.transfer_status
        host = ScriptedMcu([])
        upload = Upload(host, st.transfer_id or 1, "firmware", bytes(20_000), "", asyncio.Queue(), TransferChunks())
        want = expected_decision(st)
        seen.add(want[0])
        try:
            verified = upload._apply(st)
        except _Restart as restart:
            assert want == ("resume", restart.offset), st
        except Resync:
            assert want[0] == "begin again", st
        except TransferFailed:
            assert want[0] == "error", st
        else:
            assert want == (("done", 0) if verified else ("continue", upload.confirmed)), st
    assert seen == {"done", "error", "begin again", "resume", "continue"}
