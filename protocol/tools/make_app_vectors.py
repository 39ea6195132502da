#!/usr/bin/env python3
"""Writes protocol/vectors/app_transcripts.txt: conversations of the MCU link's application layer.

Each conversation is what the SoC sends the MCU (`soc`, with channel, time and SoC link session) and what the MCU
answers (`mcu`, in order; `quiet` when nothing), written from the rules of SPEC.md sections 10 and 10.1 (the
table of bodies, channels and request_ids; TransferBegin's order of rules; chunk answers every `ack_every`-th and
at the end; the size limits per kind; BUSY; UNKNOWN_MESSAGE, NOT_SUPPORTED, DECODE_FAILED). The bytes come from
Python's protobuf (SerializeToString(deterministic=True) of messages built field by field) and the digests from
hashlib, never from the code under test. Replayed by firmware/tests/test_app_transcripts.c (the MCU's dispatch)
and tests/conformance/test_app_transcripts.py (glassbridge's codec and transfer sender).

Usage: python protocol/tools/make_app_vectors.py [--check]   (--check: fail if the file would change)
File format: protocol/vectors/README.md, section "Application transcripts".
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from glassbridge.protocol import glassbridge_pb2 as pb  # the generated module only

REPO = Path(__file__).resolve().parents[2]

OUT = Path("protocol/vectors/app_transcripts.txt")

# The rules' constants (SPEC.md 10.1); the firmware's names in firmware/src/app/transfer.h.
ACK_EVERY = 8
CHUNK = 960                  # TransferChunk.data's limit: what glassbridge's sender puts in each chunk
MAX_FIRMWARE = 1024 * 1024
MAX_ASSET = 256 * 1024
IDLE_MS = 30_000
CONTROL, AUDIO, BULK = 1, 2, 3
ALL_CAPABILITIES = 255       # CAPABILITY_BUTTONS .. CAPABILITY_BULK_TRANSFER


def pattern(size: int, seed: int) -> bytes:
    """A conversation's transfer data: byte i = (seed + 7 i + floor(i / 256)) mod 256."""
    return bytes((seed + 7 * i + (i >> 8)) & 0xFF for i in range(size))


def ser(msg: pb.Message) -> str:
    return msg.SerializeToString(deterministic=True).hex()


def status(tid: int, state: int, offset: int = 0, error: int = 0, rid: int = 0) -> pb.Message:
    return pb.Message(request_id=rid, transfer_status=pb.TransferStatus(
        transfer_id=tid, state=state, offset=offset, error=error, ack_every=ACK_EVERY))


def result(code: int, rid: int) -> pb.Message:
    """The MCU's Result: the vector carries no text (Result.message is informational; README.md)."""
    return pb.Message(request_id=rid, result=pb.Result(code=code))


def begin(tid: int, kind: int, data: bytes | int, rid: int, sha: bytes | None = None, name: str = "") -> pb.Message:
    size = data if isinstance(data, int) else len(data)
    digest = sha if sha is not None else hashlib.sha256(b"" if isinstance(data, int) else data).digest()
    return pb.Message(request_id=rid, transfer_begin=pb.TransferBegin(
        transfer_id=tid, kind=kind, size=size, sha256=digest, name=name))


def chunk(tid: int, data: bytes, offset: int, n: int = CHUNK, rid: int = 0) -> pb.Message:
    return pb.Message(request_id=rid, transfer_chunk=pb.TransferChunk(
        transfer_id=tid, offset=offset, data=data[offset:offset + n]))


def query(tid: int, rid: int) -> pb.Message:
    return pb.Message(request_id=rid, transfer_query=pb.TransferQuery(transfer_id=tid))


RECEIVING, VERIFIED, FAILED, UNKNOWN = (pb.TRANSFER_STATE_RECEIVING, pb.TRANSFER_STATE_VERIFIED,
                                        pb.TRANSFER_STATE_FAILED, pb.TRANSFER_STATE_UNKNOWN)
FIRMWARE, ASSET = pb.TRANSFER_KIND_FIRMWARE, pb.TRANSFER_KIND_ASSET


@dataclass
class Conversation:
    name: str
    about: str
    capabilities: int = ALL_CAPABILITIES
    upload: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    socs: int = 0

    def soc(self, msg: pb.Message | bytes, ch: int, t: int, why: str, session: int = 1) -> None:
        raw = msg.hex() if isinstance(msg, bytes) else ser(msg)
        self.lines.append(f"soc={raw} ch={ch} t={t} session={session} # {why}")
        self.socs += 1

    def mcu(self, msg: pb.Message, ch: int, why: str = "", compare: str = "") -> None:
        extra = f" compare={compare}" if compare else ""
        self.lines.append(f"mcu={ser(msg)} ch={ch}{extra}" + (f" # {why}" if why else ""))

    def quiet(self, why: str = "") -> None:
        self.lines.append("quiet" + (f" # {why}" if why else ""))

    def mark_upload(self, kind: str, data_size: int, seed: int, tid: int, outcome: str, name: str = "") -> None:
        """glassbridge's sender (Upload, TransferChunks) sends exactly the soc records from the next one on."""
        self.upload = {"upload": str(self.socs), "kind": kind, "size": str(data_size), "seed": str(seed),
                       "transfer_id": str(tid), "outcome": outcome}
        if name:
            self.upload["name"] = name

    def text(self) -> str:
        head = f"conversation={self.name} capabilities={self.capabilities}"
        head += "".join(f" {k}={v}" for k, v in self.upload.items())
        return "\n".join([f"# {self.about}", head, *self.lines]) + "\n"


def status_request() -> Conversation:
    c = Conversation("status_request", "StatusRequest on channel 1 and on channel 3: Status on the request's "
                     "channel with its request_id (the body is the device's state: compared as a body only)")
    c.soc(pb.Message(request_id=1, status_request=pb.StatusRequest()), CONTROL, 0, "StatusRequest, request_id 1")
    c.mcu(pb.Message(request_id=1, status=pb.Status()), CONTROL, "Status, request_id 1", compare="body")
    c.soc(pb.Message(request_id=2, status_request=pb.StatusRequest()), BULK, 10, "the same on channel 3")
    c.mcu(pb.Message(request_id=2, status=pb.Status()), BULK, "answered on channel 3", compare="body")
    c.soc(pb.Message(status_request=pb.StatusRequest()), CONTROL, 20, "request_id 0: still a request, answered")
    c.mcu(pb.Message(status=pb.Status()), CONTROL, "request_id 0 echoed", compare="body")
    return c


def transfer_complete() -> Conversation:
    data = pattern(9000, 1)
    c = Conversation("transfer_complete", "a 9000-byte FIRMWARE transfer: Begin answered with offset 0, the 8th "
                     "chunk and the last one answered, VERIFIED at the end")
    c.mark_upload("firmware", len(data), 1, 100, "verified", name="fw.bin")
    c.soc(begin(100, FIRMWARE, data, 1, name="fw.bin"), BULK, 0, "TransferBegin, request_id 1")
    c.mcu(status(100, RECEIVING, 0, rid=1), BULK, "RECEIVING at 0, request_id echoed")
    for i, off in enumerate(range(0, len(data), CHUNK)):
        c.soc(chunk(100, data, off), BULK, 10 + i, f"chunk {i + 1} at {off}")
        n = min(CHUNK, len(data) - off)
        if off + n == len(data):
            c.mcu(status(100, VERIFIED, len(data)), BULK, "the last chunk: VERIFIED, request_id 0 (the chunk's)")
        elif (i + 1) % ACK_EVERY == 0:
            c.mcu(status(100, RECEIVING, off + n), BULK, f"the {ACK_EVERY}th chunk since Begin: offset {off + n}")
        else:
            c.quiet()
    return c


def transfer_resume_query() -> Conversation:
    data = pattern(3000, 2)
    c = Conversation("transfer_resume_query", "an ASSET transfer resumed after a link loss: TransferQuery gives the "
                     "kept offset, the SoC continues from it")
    c.soc(begin(101, ASSET, data, 1), BULK, 0, "TransferBegin")
    c.mcu(status(101, RECEIVING, 0, rid=1), BULK)
    c.soc(chunk(101, data, 0), BULK, 1, "chunk at 0")
    c.quiet()
    c.soc(chunk(101, data, 960), BULK, 2, "chunk at 960")
    c.quiet()
    c.soc(query(101, 2), BULK, 5000, "after a link loss: where does 101 stand?")
    c.mcu(status(101, RECEIVING, 1920, rid=2), BULK, "kept 1920 bytes")
    c.soc(query(999, 3), BULK, 5001, "a transfer the MCU does not hold")
    c.mcu(status(999, UNKNOWN, 0, rid=3), BULK, "UNKNOWN without an error: begin again")
    c.soc(chunk(101, data, 1920), BULK, 5002, "chunk at 1920")
    c.quiet()
    c.soc(chunk(101, data, 2880), BULK, 5003, "the last 120 bytes")
    c.mcu(status(101, VERIFIED, 3000), BULK, "VERIFIED")
    return c


def transfer_resume_begin() -> Conversation:
    data = pattern(3000, 3)
    c = Conversation("transfer_resume_begin", "glassbridge restarts (a new SoC link session) mid-transfer and sends "
                     "the same TransferBegin: RECEIVING at the kept offset, the rest follows")
    c.soc(begin(102, FIRMWARE, data, 1), BULK, 0, "TransferBegin")
    c.mcu(status(102, RECEIVING, 0, rid=1), BULK)
    for i, off in enumerate((0, 960, 1920)):
        c.soc(chunk(102, data, off), BULK, 1 + i, f"chunk at {off}")
        c.quiet()
    c.mark_upload("firmware", len(data), 3, 102, "verified")
    c.soc(begin(102, FIRMWARE, data, 1), BULK, 9000, "the same Begin from a new SoC session", session=2)
    c.mcu(status(102, RECEIVING, 2880, rid=1), BULK, "resume at 2880")
    c.soc(chunk(102, data, 2880), BULK, 9001, "the rest", session=2)
    c.mcu(status(102, VERIFIED, 3000), BULK, "VERIFIED")
    return c


def transfer_verified_again() -> Conversation:
    data = pattern(100, 4)
    c = Conversation("transfer_verified_again", "a TransferBegin for a transfer already VERIFIED (same id, kind, "
                     "size, sha256): VERIFIED with offset = size, nothing to send")
    c.soc(begin(103, ASSET, data, 1), BULK, 0, "TransferBegin")
    c.mcu(status(103, RECEIVING, 0, rid=1), BULK)
    c.soc(chunk(103, data, 0), BULK, 1, "all 100 bytes")
    c.mcu(status(103, VERIFIED, 100), BULK, "VERIFIED")
    c.soc(chunk(103, data, 0), BULK, 2, "a late chunk of the finished transfer")
    c.mcu(status(103, VERIFIED, 100), BULK, "its final state again")
    c.mark_upload("asset", len(data), 4, 103, "verified")
    c.soc(begin(103, ASSET, data, 2), BULK, 3, "the same Begin again")
    c.mcu(status(103, VERIFIED, 100, rid=2), BULK, "VERIFIED at once, offset = size")
    c.soc(begin(104, ASSET, data, 3), BULK, 4, "another transfer: the verified one is not RECEIVING, no BUSY")
    c.mcu(status(104, RECEIVING, 0, rid=3), BULK)
    return c


def transfer_hash_mismatch() -> Conversation:
    data = pattern(1000, 5)
    wrong = hashlib.sha256(pattern(1000, 6)).digest()
    c = Conversation("transfer_hash_mismatch", "data that does not match the announced SHA-256: FAILED with "
                     "HASH_MISMATCH; the same Begin again starts it over at 0")
    c.soc(begin(105, FIRMWARE, data, 1, sha=wrong), BULK, 0, "TransferBegin with another data's digest")
    c.mcu(status(105, RECEIVING, 0, rid=1), BULK)
    c.soc(chunk(105, data, 0), BULK, 1, "chunk at 0")
    c.quiet()
    c.soc(chunk(105, data, 960), BULK, 2, "the last 40 bytes")
    c.mcu(status(105, FAILED, 1000, pb.ERROR_CODE_HASH_MISMATCH), BULK, "FAILED, HASH_MISMATCH")
    c.soc(query(105, 2), BULK, 3, "TransferQuery")
    c.mcu(status(105, FAILED, 1000, pb.ERROR_CODE_HASH_MISMATCH, rid=2), BULK, "still FAILED")
    c.soc(begin(105, FIRMWARE, data, 3, sha=wrong), BULK, 4, "the same Begin again")
    c.mcu(status(105, RECEIVING, 0, rid=3), BULK, "a FAILED transfer begins again at 0")
    c.soc(chunk(105, data, 0, 1000), BULK, 5, "1000 bytes in one chunk: over TransferChunk's limit of 960")
    c.mcu(result(pb.ERROR_CODE_DECODE_FAILED, 0), BULK, "DECODE_FAILED, request_id 0 (the chunk's)")
    return c


def transfer_offset_mismatch() -> Conversation:
    data = pattern(2500, 7)
    c = Conversation("transfer_offset_mismatch", "chunks not at the kept offset and chunks with more than the size "
                     "has left are refused (OFFSET_MISMATCH, TOO_LARGE) and change nothing: state RECEIVING")
    c.soc(begin(106, FIRMWARE, data, 1), BULK, 0, "TransferBegin")
    c.mcu(status(106, RECEIVING, 0, rid=1), BULK)
    c.soc(chunk(106, data, 0), BULK, 1, "chunk at 0")
    c.quiet()
    c.soc(chunk(106, data, 1920), BULK, 2, "chunk at 1920: the one at 960 is missing")
    c.mcu(status(106, RECEIVING, 960, pb.ERROR_CODE_OFFSET_MISMATCH), BULK, "OFFSET_MISMATCH, kept 960")
    c.soc(chunk(106, data, 0, rid=77), BULK, 3, "chunk at 0 again, with a request_id")
    c.mcu(status(106, RECEIVING, 960, pb.ERROR_CODE_OFFSET_MISMATCH, rid=77), BULK, "its request_id echoed")
    c.soc(chunk(106, data, 960), BULK, 4, "chunk at 960")
    c.quiet()
    longer = data + bytes(100)
    c.soc(chunk(106, longer, 1920, 680), BULK, 5, "680 bytes where 580 are left")
    c.mcu(status(106, RECEIVING, 1920, pb.ERROR_CODE_TOO_LARGE), BULK, "TOO_LARGE, kept 1920")
    c.soc(chunk(107, data, 1920), BULK, 6, "a chunk of a transfer the MCU does not hold")
    c.mcu(status(107, UNKNOWN, 0, pb.ERROR_CODE_NO_SUCH_TRANSFER), BULK, "UNKNOWN, NO_SUCH_TRANSFER")
    c.soc(chunk(106, data, 1920), BULK, 7, "the last 580 bytes")
    c.mcu(status(106, VERIFIED, 2500), BULK, "VERIFIED")
    return c


def transfer_too_large() -> Conversation:
    c = Conversation("transfer_too_large", f"size limits per kind: FIRMWARE {MAX_FIRMWARE} bytes, ASSET {MAX_ASSET} "
                     "bytes; a larger Begin is refused UNKNOWN + TOO_LARGE")
    c.mark_upload("firmware", MAX_FIRMWARE + 1, 8, 110, "error:TOO_LARGE")
    c.soc(begin(110, FIRMWARE, pattern(MAX_FIRMWARE + 1, 8), 1), BULK, 0, "FIRMWARE of 1 MiB + 1")
    c.mcu(status(110, UNKNOWN, 0, pb.ERROR_CODE_TOO_LARGE, rid=1), BULK, "TOO_LARGE")
    c.soc(begin(111, ASSET, MAX_ASSET + 1, 2), BULK, 1, "ASSET of 256 KiB + 1")
    c.mcu(status(111, UNKNOWN, 0, pb.ERROR_CODE_TOO_LARGE, rid=2), BULK, "TOO_LARGE")
    c.soc(begin(112, ASSET, MAX_ASSET, 3), BULK, 2, "ASSET of exactly 256 KiB")
    c.mcu(status(112, RECEIVING, 0, rid=3), BULK, "taken")
    c.soc(begin(113, FIRMWARE, MAX_FIRMWARE, 4), BULK, 3, "FIRMWARE of exactly 1 MiB, from a new SoC session",
          session=2)
    c.mcu(status(113, RECEIVING, 0, rid=4), BULK, "taken (replaces 112: another session)")
    return c


def transfer_bad_request() -> Conversation:
    data = pattern(50, 9)
    c = Conversation("transfer_bad_request", "kinds other than FIRMWARE and ASSET, transfer_id 0 and a sha256 "
                     "that is not 32 bytes: UNKNOWN + BAD_REQUEST")
    c.mark_upload("photo", len(data), 9, 120, "error:BAD_REQUEST")
    c.soc(begin(120, pb.TRANSFER_KIND_PHOTO, data, 1), BULK, 0, "PHOTO: a phone-link kind")
    c.mcu(status(120, UNKNOWN, 0, pb.ERROR_CODE_BAD_REQUEST, rid=1), BULK, "BAD_REQUEST")
    for rid, kind, what in ((2, pb.TRANSFER_KIND_UNSPECIFIED, "UNSPECIFIED"), (3, pb.TRANSFER_KIND_AUDIO, "AUDIO"),
                            (4, pb.TRANSFER_KIND_AUDIO_OPUS, "AUDIO_OPUS"), (5, 999, "kind 999")):
        c.soc(begin(120, kind, data, rid), BULK, rid, what)
        c.mcu(status(120, UNKNOWN, 0, pb.ERROR_CODE_BAD_REQUEST, rid=rid), BULK, "BAD_REQUEST")
    c.soc(begin(0, FIRMWARE, data, 6), BULK, 6, "transfer_id 0")
    c.mcu(status(0, UNKNOWN, 0, pb.ERROR_CODE_BAD_REQUEST, rid=6), BULK, "BAD_REQUEST")
    c.soc(begin(121, FIRMWARE, data, 7, sha=hashlib.sha256(data).digest()[:31]), BULK, 7, "a 31-byte sha256")
    c.mcu(status(121, UNKNOWN, 0, pb.ERROR_CODE_BAD_REQUEST, rid=7), BULK, "BAD_REQUEST")
    return c


def transfer_busy() -> Conversation:
    a, b = pattern(5000, 10), pattern(200, 11)
    c = Conversation("transfer_busy", f"a Begin of another transfer while one of the same SoC session is RECEIVING "
                     f"and moved within {IDLE_MS} ms: UNKNOWN + BUSY; after that time, or from a new session, it "
                     "replaces it")
    c.soc(begin(130, FIRMWARE, a, 1), BULK, 0, "transfer 130")
    c.mcu(status(130, RECEIVING, 0, rid=1), BULK)
    c.soc(chunk(130, a, 0), BULK, 100, "chunk at 0")
    c.quiet()
    c.mark_upload("asset", len(b), 11, 131, "error:BUSY")
    c.soc(begin(131, ASSET, b, 2), BULK, 10_000, "transfer 131 while 130 runs")
    c.mcu(status(131, UNKNOWN, 0, pb.ERROR_CODE_BUSY, rid=2), BULK, "BUSY")
    c.soc(chunk(130, a, 960), BULK, 20_000, "130 moves on at 20 s")
    c.quiet()
    c.soc(begin(131, ASSET, b, 3), BULK, 20_000 + IDLE_MS - 1, "29.999 s after 130's last chunk")
    c.mcu(status(131, UNKNOWN, 0, pb.ERROR_CODE_BUSY, rid=3), BULK, "still BUSY")
    c.soc(query(130, 4), BULK, 20_000 + IDLE_MS - 1, "a query is no progress")
    c.mcu(status(130, RECEIVING, 1920, rid=4), BULK)
    c.soc(begin(131, ASSET, b, 5), BULK, 20_000 + IDLE_MS, "30 s after 130's last chunk")
    c.mcu(status(131, RECEIVING, 0, rid=5), BULK, "131 replaces 130")
    c.soc(query(130, 6), BULK, 20_000 + IDLE_MS, "130 is gone")
    c.mcu(status(130, UNKNOWN, 0, rid=6), BULK)
    c.soc(begin(130, FIRMWARE, a, 7), BULK, 50_001, "130 again while 131 runs, same session")
    c.mcu(status(130, UNKNOWN, 0, pb.ERROR_CODE_BUSY, rid=7), BULK, "BUSY")
    c.soc(begin(130, FIRMWARE, a, 1), BULK, 50_002, "130 from a new SoC session (glassbridge restarted)", session=2)
    c.mcu(status(130, RECEIVING, 0, rid=1), BULK, "a new session replaces 131 at once")
    return c


def unknown_messages() -> Conversation:
    c = Conversation("unknown_messages", "bodies the MCU does not handle: Result UNKNOWN_MESSAGE when they carry a "
                     "request_id, nothing otherwise; bodies the MCU sends itself (answers, events) are never answered")
    c.soc(pb.Message(request_id=9, assistant_request=pb.AssistantRequest(text="what is this?")), CONTROL, 0,
          "a phone-link body (field 64) with a request_id")
    c.mcu(result(pb.ERROR_CODE_UNKNOWN_MESSAGE, 9), CONTROL, "UNKNOWN_MESSAGE on the request's channel")
    c.soc(pb.Message(transfer_data=pb.TransferData(transfer_id=5, offset=0, data=b"abc")), BULK, 1,
          "TransferData (field 68), request_id 0")
    c.quiet("not a request: ignored")
    c.soc(pb.Message(request_id=10), CONTROL, 2, "no body at all, request_id 10")
    c.mcu(result(pb.ERROR_CODE_UNKNOWN_MESSAGE, 10), CONTROL)
    # A newer SoC's body: Message field 40 (length-delimited, empty), written by hand: protobuf knows no field 40.
    tag = 40 << 3 | 2  # a 2-byte varint
    newer = pb.Message(request_id=11).SerializeToString(deterministic=True) + bytes([tag & 0x7F | 0x80, tag >> 7, 0])
    c.soc(newer, AUDIO, 3, "request_id 11 and a body at field 40 (a newer version's)")
    c.mcu(result(pb.ERROR_CODE_UNKNOWN_MESSAGE, 11), AUDIO, "on channel 2, the request's")
    c.soc(status(5, RECEIVING, 0, rid=12), BULK, 4, "a TransferStatus sent to the MCU")
    c.quiet("an answer's body: never answered")
    c.soc(pb.Message(result=pb.Result(code=pb.ERROR_CODE_BUSY, message="x")), CONTROL, 5, "a Result")
    c.quiet()
    c.soc(pb.Message(button=pb.ButtonEvent(button=pb.BUTTON_ID_CAPTURE, action=pb.BUTTON_ACTION_LONG_PRESS)), CONTROL,
          6, "a ButtonEvent")
    c.quiet()
    c.soc(pb.Message(request_id=13, status=pb.Status(board="x")), CONTROL, 7, "a Status with a request_id")
    c.quiet()
    c.soc(pb.Message(request_id=14, status_request=pb.StatusRequest()), CONTROL, 8, "then a StatusRequest")
    c.mcu(pb.Message(request_id=14, status=pb.Status(ignored_messages=5)), CONTROL,
          "Status.ignored_messages counts the five left unanswered", compare="ignored")
    return c


def not_supported() -> Conversation:
    c = Conversation("not_supported", "known requests for devices the board lacks (capabilities 0): Result "
                     "NOT_SUPPORTED with their request_id; speaker audio (a stream) is dropped unanswered",
                     capabilities=0)
    c.soc(pb.Message(request_id=5, card=pb.DisplayCard(card_id=1, title="hi")), CONTROL, 0, "a DisplayCard")
    c.mcu(result(pb.ERROR_CODE_NOT_SUPPORTED, 5), CONTROL, "NOT_SUPPORTED")
    c.soc(pb.Message(request_id=6, camera_power=pb.CameraPower(on=True)), CONTROL, 1, "CameraPower on")
    c.mcu(result(pb.ERROR_CODE_NOT_SUPPORTED, 6), CONTROL)
    c.soc(pb.Message(request_id=7, mic_control=pb.MicControl(stream=True)), CONTROL, 2, "MicControl")
    c.mcu(result(pb.ERROR_CODE_NOT_SUPPORTED, 7), CONTROL)
    c.soc(pb.Message(request_id=8, display_clear=pb.DisplayClear()), CONTROL, 3, "DisplayClear")
    c.mcu(result(pb.ERROR_CODE_NOT_SUPPORTED, 8), CONTROL)
    c.soc(begin(140, FIRMWARE, pattern(10, 12), 9), BULK, 4, "TransferBegin")
    c.mcu(result(pb.ERROR_CODE_NOT_SUPPORTED, 9), BULK)
    c.soc(query(140, 10), BULK, 5, "TransferQuery")
    c.mcu(result(pb.ERROR_CODE_NOT_SUPPORTED, 10), BULK)
    c.soc(chunk(140, pattern(10, 12), 0), BULK, 6, "TransferChunk, request_id 0")
    c.mcu(result(pb.ERROR_CODE_NOT_SUPPORTED, 0), BULK)
    c.soc(pb.Message(speaker_audio=pb.AudioFrame(sample_rate=16000, pcm=bytes(64))), AUDIO, 7, "speaker audio")
    c.quiet("a stream: not answered")
    c.soc(pb.Message(request_id=11, status_request=pb.StatusRequest()), CONTROL, 8, "Status needs no device")
    c.mcu(pb.Message(request_id=11, status=pb.Status(ignored_messages=1)), CONTROL,
          "the dropped speaker frame counted in ignored_messages", compare="ignored")
    return c


def decode_failed() -> Conversation:
    c = Conversation("decode_failed", "requests that do not decode: Result DECODE_FAILED on their channel with the "
                     "request_id when field 1 decodes, 0 otherwise")
    over = pb.Message(request_id=21, card=pb.DisplayCard(card_id=1, title="t" * 48))
    c.soc(over, CONTROL, 0, "a DisplayCard title of 48 bytes (limit 47), request_id 21")
    c.mcu(result(pb.ERROR_CODE_DECODE_FAILED, 21), CONTROL, "DECODE_FAILED, request_id 21")
    c.soc(bytes([0xFF, 0xFF]), BULK, 1, "garbage: no request_id decodes")
    c.mcu(result(pb.ERROR_CODE_DECODE_FAILED, 0), BULK, "DECODE_FAILED, request_id 0, channel 3")
    truncated = pb.Message(request_id=22).SerializeToString(deterministic=True) + bytes([0x7A, 0x05, 0x08])
    c.soc(truncated, CONTROL, 2, "request_id 22, then a TransferBegin cut short")
    c.mcu(result(pb.ERROR_CODE_DECODE_FAILED, 22), CONTROL)
    c.soc(pb.Message(request_id=23, status_request=pb.StatusRequest()), CONTROL, 3, "the next request is served")
    c.mcu(pb.Message(request_id=23, status=pb.Status()), CONTROL, compare="body")
    return c


CONVERSATIONS = (status_request, transfer_complete, transfer_resume_query, transfer_resume_begin,
                 transfer_verified_again, transfer_hash_mismatch, transfer_offset_mismatch, transfer_too_large,
                 transfer_bad_request, transfer_busy, unknown_messages, not_supported, decode_failed)


def render() -> str:
    head = ("# MCU link application transcripts: generated by protocol/tools/make_app_vectors.py; do not edit.\n"
            "# Bytes from Python's protobuf, rules from SPEC.md 10 and 10.1; format in protocol/vectors/README.md.\n"
            "# Each conversation starts from a freshly booted MCU; soc = what the SoC sends, mcu = the MCU's\n"
            "# answers in order, quiet = no answer.\n")
    return head + "".join("\n" + conv().text() for conv in CONVERSATIONS)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the file would change")
    ap.add_argument("--root", type=Path, default=REPO, help="write under this directory")
    args = ap.parse_args()
    text = render()
    path = args.root / OUT
    if args.check:
        if not path.exists() or path.read_text() != text:
            print(f"stale vectors: {OUT}: run python protocol/tools/make_app_vectors.py", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
