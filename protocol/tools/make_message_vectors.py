#!/usr/bin/env python3
"""Write protocol/vectors/messages.txt: message vectors whose bytes come from Python's protobuf.

Every message type of glassbridge.proto appears with non-default fields, plus edge values (widest varints,
sint32 extremes, strings and bytes at their exact `limit:`, multi-byte UTF-8, empty oneof members, unknown
fields, unknown and negative enum values), inputs that decode but re-encode differently (unknown fields
dropped, duplicates merged, non-canonical varints), and invalid inputs with the error the C codec must give.
Every error category has vectors of both Message and Hello; the invalid ones protobuf accepts (`python ok`) are the
checks an implementation on stock protobuf adds itself (protocol/CODEC.md, "Which codec is the contract").

The reference is protobuf itself: `input` is what SerializeToString produced (or raw bytes built here for the
malformed cases), `output` is what protobuf gives after parsing `input` and normalising it the way a C struct
must (unknown fields discarded, an all-default non-oneof sub-message dropped: C has no presence bit),
`python` says whether protobuf's parser accepts `input`, and the `field` lines are the parsed message.
The format is described in protocol/vectors/README.md ("Message vectors").

Also writes the fuzzer's seeds (protocol/c/fuzz/corpus_messages/*.bin, see fuzz_messages.c).

Usage: ``python protocol/tools/make_message_vectors.py [--out FILE]`` (default: protocol/vectors/messages.txt).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from glassbridge.protocol import glassbridge_pb2 as pb

REPO = Path(__file__).resolve().parents[2]
OUT = Path("protocol/vectors/messages.txt")

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
I32_MIN, I32_MAX = -(2**31), 2**31 - 1


# ---- raw wire pieces for the malformed and non-canonical inputs (written from the encoding spec) ----------


def varint(v: int) -> bytes:
    v &= U64_MAX  # negative int32/enum values are sign-extended to 64 bits
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    return varint(field << 3 | wire_type)


def ld(field: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return tag(field, 2) + varint(len(payload)) + payload


def vi(field: int, value: int) -> bytes:
    """A varint field."""
    return tag(field, 0) + varint(value)


def at_limit(text: str, limit: int) -> str:
    """text cut (at a character boundary) and padded with '.' to exactly `limit` UTF-8 bytes."""
    while len(text.encode()) > limit:
        text = text[:-1]
    return text + "." * (limit - len(text.encode()))


# ---- the messages ---------------------------------------------------------------------------------------


def full_bodies() -> dict[str, ProtoMessage]:
    """One instance of every body type with every field non-default, edge values included."""
    return {
        "result": pb.Result(code=pb.ERROR_CODE_TOO_LARGE, message=at_limit("é" * 40, 63)),  # 31 x 2 bytes + "."
        "status_request": pb.StatusRequest(),
        "status": pb.Status(
            firmware_version=at_limit("glassbridge-fw 1.0.0-rc.1+abcdef", 31),
            board=at_limit("netduinoplus2-rev-b", 23),
            boot_counter=U32_MAX,
            uptime_ms=123456789,
            battery=pb.Battery(percent=100, millivolts=4200, charging=True, level=pb.BATTERY_LEVEL_OK),
            buttons_down=0b11,
            imu=pb.Imu(accel_x_mg=I32_MIN, accel_y_mg=I32_MAX, accel_z_mg=-1, gyro_x_mdps=1, gyro_y_mdps=-1000,
                       gyro_z_mdps=64),
            camera_powered=True,
            capture_led=True,
            mic_streaming=True,
            card_id=42,
            capabilities=0xFF,
            uart_rx_overruns=3,
            link=pb.LinkCounters(frames_rx=U32_MAX, frames_tx=1, retransmits=127, crc_errors=128, framing_errors=16383,
                                 out_of_window=16384, rx_oversize=2, duplicates=3, link_downs=4, peer_resets=5,
                                 rewinds=6, frag_size=1007),
            failsafe_trips=1,
            ignored_messages=U32_MAX,
            wake_listening=True,
            wake_detections=2,
            wake_invokes=U32_MAX,
            wake_late_steps=1,
        ),
        "button": pb.ButtonEvent(button=pb.BUTTON_ID_CAPTURE, action=pb.BUTTON_ACTION_LONG_PRESS, at_ms=U32_MAX),
        "gesture": pb.GestureEvent(gesture=pb.GESTURE_SHAKE, at_ms=1000, confidence_pct=97),
        "battery": pb.BatteryEvent(
            battery=pb.Battery(percent=4, millivolts=3300, charging=False, level=pb.BATTERY_LEVEL_CRITICAL),
            at_ms=60000,
        ),
        "camera_power": pb.CameraPower(on=True),
        "camera_state": pb.CameraState(powered=True, capture_led=True),
        "mic_control": pb.MicControl(stream=True, frame_ms=40),
        "mic_audio": pb.AudioFrame(sample_rate=16000, first_sample=U64_MAX, gap_before=True,
                                   pcm=bytes((i * 37 + 11) & 0xFF for i in range(1280)), stream_id=9),
        "speaker_audio": pb.AudioFrame(sample_rate=16000, first_sample=320, pcm=b"\x00\x80\xff\x7f", stream_id=1),
        "card": pb.DisplayCard(
            card_id=U32_MAX,
            kind=pb.CARD_KIND_NAVIGATION,
            icon=pb.ICON_ARROW_LEFT,
            title=at_limit("Turn left onto Rue de l'Église 🚲 now", 47),  # 2- and 4-byte UTF-8
            text=at_limit("In 200 m, turn left. Then continue for 1.2 km → Gare. " * 4, 191),
            ttl_ms=30000,
        ),
        "display_clear": pb.DisplayClear(),
        "transfer_begin": pb.TransferBegin(transfer_id=7, kind=pb.TRANSFER_KIND_FIRMWARE, size=262144,
                                           sha256=bytes(range(0xE0, 0x100)), name="firmware-1.0.1.bin"),
        "transfer_chunk": pb.TransferChunk(transfer_id=7, offset=261184, data=bytes(range(256)) * 3 + b"\xaa" * 192),
        "transfer_query": pb.TransferQuery(transfer_id=U32_MAX),
        "transfer_status": pb.TransferStatus(transfer_id=7, state=pb.TRANSFER_STATE_FAILED, offset=1024,
                                             error=pb.ERROR_CODE_HASH_MISMATCH, ack_every=8),
        "failsafe": pb.FailsafeEvent(link_lost_ms=10000, camera_was_on=True, mic_was_streaming=True, at_ms=U32_MAX,
                                     down_ms=12345),
        "wake_word_control": pb.WakeWordControl(listen=True, cutoff_permille=999, window=32, refractory_ms=60000,
                                                lookback_ms=2000, frame_ms=40),
        "wake_word_event": pb.WakeWordEvent(stream_id=U32_MAX, lookback_sample=0, detected_sample=24000,
                                            probability_permille=973, at_ms=123456, heard_sample=U64_MAX),
    }


def full_hello() -> pb.Hello:
    return pb.Hello(protocol_version=1, min_protocol_version=1, session=0xFFFFFFFF, peer_session=0x00000001,
                    boot_counter=17, max_frame=1024, window=16, capabilities=0xFF, role=pb.ROLE_MCU,
                    firmware_version=at_limit("glassbridge-fw/mps2-an386 v1.0.0", 31), reject=True,
                    max_message=4096, link_timeout_ms=6000)


def open_enum_hello(role: int) -> bytes:
    """A Hello whose role is a number the enum does not list (open enums: the stubs only know the names)."""
    hello = pb.Hello(session=5 if role > 0 else 0)
    hello.role = role  # type: ignore[assignment]
    data: bytes = hello.SerializeToString(deterministic=True)
    return data


@dataclass
class Vector:
    name: str
    about: str
    type: str
    input: bytes
    error: str | None = None  # the C codec's gb_pb_status without GB_PB_ERR_, None for a valid input


def valid_vectors() -> list[Vector]:
    out: list[Vector] = []
    bodies = full_bodies()
    for i, (name, body) in enumerate(bodies.items(), start=1):
        whole = pb.Message(request_id=i * 1000 + 1)
        getattr(whole, name).CopyFrom(body)
        out.append(Vector(f"message_{name}", f"Message with a full {type(body).__name__} body", "Message",
                          whole.SerializeToString(deterministic=True)))
    # Every message type on its own (the firmware may encode sub-messages directly).
    seen: set[str] = set()
    for body in bodies.values():
        tname = type(body).__name__
        if tname not in seen:
            seen.add(tname)
            out.append(Vector(f"type_{tname}", f"{tname} on its own, every field set", tname,
                              body.SerializeToString(deterministic=True)))
    status = bodies["status"]
    assert isinstance(status, pb.Status)
    for sub in (status.battery, status.imu, status.link):
        tname = type(sub).__name__
        out.append(Vector(f"type_{tname}", f"{tname} on its own, every field set", tname,
                          sub.SerializeToString(deterministic=True)))
    out.append(Vector("hello_full", "Hello with every field set, firmware_version at its limit", "Hello",
                      full_hello().SerializeToString(deterministic=True)))
    out.append(Vector("hello_empty", "Hello with every field default: no bytes at all", "Hello", b""))
    out.append(Vector("hello_unknown_role", "open enum: a Role value this version does not know is kept", "Hello",
                      open_enum_hello(77)))
    out.append(Vector("hello_negative_role", "open enum: a negative value is a 10-byte varint", "Hello",
                      open_enum_hello(-1)))

    def msg(**kw: object) -> bytes:
        data: bytes = pb.Message(**kw).SerializeToString(deterministic=True)  # type: ignore[arg-type]
        return data

    out += [
        Vector("message_empty", "Message with nothing set: zero bytes, which_body 0", "Message", b""),
        Vector("message_request_id_only", "request_id at 2^32-1 (5-byte varint), no body", "Message",
               msg(request_id=U32_MAX)),
        Vector("message_empty_card", "a oneof member set but empty is still written (tag and length 0)", "Message",
               msg(card=pb.DisplayCard())),
        Vector("message_enum_unknown", "open enums: unknown kind 1000, negative icon -5", "Message",
               msg(card=pb.DisplayCard(card_id=1, kind=1000, icon=-5))),  # type: ignore[arg-type]
        Vector("message_enum_int32_extremes", "enum fields at INT32_MIN and INT32_MAX", "Message",
               msg(transfer_status=pb.TransferStatus(state=I32_MIN, error=I32_MAX))),  # type: ignore[arg-type]
        Vector("message_sint32_zero_and_one", "sint32 -1 is 1 byte, 1 is 1 byte (zigzag)", "Message",
               msg(status=pb.Status(imu=pb.Imu(accel_x_mg=-1, accel_y_mg=1)))),
        Vector("message_card_ascii", "a plain ASCII card (strings shown quoted in the field list)", "Message",
               msg(request_id=3, card=pb.DisplayCard(card_id=2, kind=pb.CARD_KIND_TEXT, title="Hello",
                                                     text="World", ttl_ms=5000))),
    ]
    # Inputs that decode but are not in canonical form: the output is what protobuf re-serialises.
    card = ld(13, vi(1, 5) + ld(4, b"Hi"))
    out += [
        Vector("unknown_fields_top", "unknown fields of all four wire types around a body: skipped", "Message",
               vi(1, 9) + vi(99, 123456) + ld(100, b"future") + tag(101, 5) + b"\x01\x02\x03\x04"
               + tag(102, 1) + bytes(8) + card + vi(2047, 1) + vi(536870911, 5)),
        Vector("unknown_fields_nested", "an unknown field inside the body: skipped", "Message",
               ld(13, vi(1, 5) + vi(50, 1) + ld(4, b"Hi") + ld(60, b"\x00\xff"))),
        Vector("duplicate_scalar", "request_id twice: the last one wins", "Message", vi(1, 5) + vi(1, 6)),
        Vector("duplicate_string", "title twice: the last one wins", "Message",
               ld(13, ld(4, b"first title") + ld(4, b"2nd"))),
        Vector("duplicate_member_merged", "the same oneof member twice: merged as protobuf merges", "Message",
               ld(13, vi(1, 5) + ld(4, b"Hi")) + ld(13, ld(5, b"there") + vi(1, 6))),
        Vector("oneof_switch", "card then button: the last member wins, the card is gone", "Message",
               card + ld(5, vi(2, 1))),
        Vector("oneof_switch_back", "card, button, card: only the last card remains (not merged)", "Message",
               ld(13, vi(1, 5) + ld(5, b"old")) + ld(5, vi(2, 1)) + ld(13, ld(4, b"new"))),
        Vector("nested_message_merged", "Status.battery twice: merged field by field", "Message",
               ld(4, ld(5, vi(1, 50) + vi(2, 3700)) + ld(5, vi(1, 51) + vi(3, 1)))),
        Vector("reverse_order", "fields in descending number order: re-encoded ascending", "Message",
               ld(13, vi(6, 100) + ld(5, b"text") + ld(4, b"title") + vi(1, 1)) + vi(1, 77)),
        Vector("overlong_varint", "request_id 1 as a 3-byte varint: re-encoded in 1 byte", "Message",
               tag(1, 0) + b"\x81\x80\x00"),
        Vector("bool_two", "a bool sent as 2 reads as true and is re-encoded as 1", "Message",
               ld(8, tag(1, 0) + b"\x02")),
        Vector("explicit_defaults", "fields written with default values (0, empty): omitted on re-encoding",
               "Message", vi(1, 0) + ld(13, vi(1, 0) + ld(4, b"") + ld(5, b""))),
        Vector("empty_submessage_present", "Status.battery present but empty: C has no presence bit, dropped",
               "Message", ld(4, ld(5, b"") + vi(3, 7))),
        Vector("enum_wider_than_32_bits", "an enum varint above 2^32 keeps its low 32 bits, as protobuf", "Message",
               ld(2, vi(1, 2**32 + 5))),
        Vector("utf8_four_byte", "strings with 2-, 3- and 4-byte UTF-8 sequences", "Message",
               ld(2, ld(2, "é€😀".encode()))),
    ]
    # The same non-canonical inputs as a Hello (the link's own parser must take them too: SPEC.md 4.3).
    session = tag(3, 5) + (5).to_bytes(4, "little")
    out += [
        Vector("hello_unknown_fields", "unknown fields of all four wire types in a Hello: skipped", "Hello",
               vi(1, 1) + vi(99, 123456) + ld(100, b"future") + session + tag(101, 5) + b"\x01\x02\x03\x04"
               + tag(102, 1) + bytes(8) + vi(536870911, 5)),
        Vector("hello_duplicate_scalar", "Hello.session twice: the last one wins", "Hello",
               tag(3, 5) + (4).to_bytes(4, "little") + session),
        Vector("hello_duplicate_string", "Hello.firmware_version twice: the last one wins", "Hello",
               session + ld(10, b"first version") + ld(10, b"2nd")),
        Vector("hello_overlong_varint", "Hello.max_frame 256 as a 4-byte varint: re-encoded in 2 bytes", "Hello",
               session + tag(6, 0) + b"\x80\x82\x80\x00"),
        Vector("hello_bool_two", "Hello.reject sent as 2 reads as true and is re-encoded as 1", "Hello",
               session + tag(11, 0) + b"\x02"),
        Vector("hello_role_wider_than_32_bits", "an enum varint above 2^32 keeps its low 32 bits, as protobuf",
               "Hello", session + vi(9, 2**32 + 2)),
        Vector("hello_session_zero", "session 0 is valid to the codec; the link discards such a Hello (SPEC.md 4.3, "
               "a link rule, not a codec error)", "Hello", vi(1, 1) + vi(2, 1) + vi(6, 256)),
    ]
    return out


def invalid_vectors() -> list[Vector]:
    def card_title(n: int) -> bytes:
        return ld(13, ld(4, b"t" * n))

    session = tag(3, 5) + (5).to_bytes(4, "little")  # Hello.session = 5, so that only the flaw is wrong

    return [
        Vector("truncated_tag", "a varint tag cut short", "Message", b"\x88", "TRUNCATED"),
        Vector("tag_overlong", "request_id's tag (08) written in 6 bytes: a tag is at most 5", "Message",
               b"\x88\x80\x80\x80\x80\x00\x01", "VARINT"),
        Vector("hello_tag_overlong", "Hello.protocol_version's tag written in 6 bytes", "Hello",
               session + b"\x88\x80\x80\x80\x80\x00\x01", "VARINT"),
        Vector("truncated_varint", "request_id's value cut inside its varint", "Message", b"\x08\xff\xff",
               "TRUNCATED"),
        Vector("truncated_value", "a tag with no value", "Message", b"\x08", "TRUNCATED"),
        Vector("truncated_length", "a length-delimited field longer than the input", "Message",
               b"\x6a\x0a\x08\x01", "TRUNCATED"),
        Vector("truncated_nested", "the body's own field overruns the body", "Message", ld(13, b"\x22\x05ab"),
               "TRUNCATED"),
        Vector("truncated_fixed32", "Hello.session with 3 of its 4 bytes", "Hello", tag(3, 5) + b"\x01\x02\x03",
               "TRUNCATED"),
        Vector("string_over_limit", "DisplayCard.title of 48 bytes (limit 47)", "Message", card_title(48),
               "TOO_LARGE"),
        Vector("string_over_limit_utf8", "Result.message of 32 'é' = 64 bytes (limit 63)", "Message",
               ld(2, ld(2, "é".encode() * 32)), "TOO_LARGE"),
        Vector("bytes_over_limit", "AudioFrame.pcm of 1281 bytes (limit 1280)", "Message",
               ld(11, ld(4, bytes(1281))), "TOO_LARGE"),
        Vector("sha256_over_limit", "TransferBegin.sha256 of 33 bytes (limit 32)", "Message",
               ld(15, ld(4, bytes(33))), "TOO_LARGE"),
        Vector("hello_version_over_limit", "Hello.firmware_version of 32 bytes (limit 31)", "Hello",
               ld(10, b"v" * 32), "TOO_LARGE"),
        Vector("wire_type_7", "wire type 7 does not exist", "Message", tag(1, 7) + b"\x00", "WIRE_TYPE"),
        Vector("wire_type_6", "wire type 6 does not exist", "Message", tag(20, 6) + b"\x00", "WIRE_TYPE"),
        Vector("group_unknown_field", "a (deprecated) group: proto3 never writes one; refused", "Message",
               tag(30, 3) + vi(1, 1) + tag(30, 4), "WIRE_TYPE"),
        Vector("known_field_wrong_type", "request_id sent as fixed32: refused (protobuf keeps it as unknown)",
               "Message", tag(1, 5) + b"\x01\x00\x00\x00", "WIRE_TYPE"),
        Vector("message_field_as_varint", "the card body sent as a varint", "Message", vi(13, 1), "WIRE_TYPE"),
        Vector("string_as_varint", "DisplayCard.title sent as a varint", "Message", ld(13, vi(4, 1)), "WIRE_TYPE"),
        Vector("varint_11_bytes", "a varint longer than 10 bytes", "Message", tag(1, 0) + b"\xff" * 10 + b"\x01",
               "VARINT"),
        Vector("varint_10th_byte_high", "a 10-byte varint whose last byte carries bits above 2^64", "Message",
               ld(7, tag(2, 0) + b"\xff" * 9 + b"\x7f"), "VARINT"),
        Vector("uint64_10th_byte_high", "AudioFrame.first_sample (uint64) as a 10-byte varint with bits above 2^64",
               "Message", ld(11, tag(2, 0) + b"\xff" * 9 + b"\x7f"), "VARINT"),
        Vector("uint32_above_2_32", "request_id = 2^32: refused (protobuf would truncate to 0)", "Message",
               vi(1, 2**32), "VARINT"),
        Vector("sint32_above_2_32", "Imu.accel_x_mg with a varint above 2^32", "Message",
               ld(4, ld(7, vi(1, 2**33 + 1))), "VARINT"),
        Vector("field_number_zero", "field number 0 is invalid", "Message", b"\x00\x01", "FIELD"),
        Vector("field_number_too_big", "field number 2^29 is above the maximum", "Message", vi(2**29, 1), "FIELD"),
        Vector("utf8_invalid", "a string with a lone continuation byte", "Message", ld(2, ld(2, b"ab\x80c")),
               "UTF8"),
        Vector("utf8_truncated", "a string ending inside a 3-byte sequence", "Message",
               ld(13, ld(5, b"ok\xe2\x82")), "UTF8"),
        Vector("utf8_overlong", "an overlong encoding of '/'", "Message", ld(13, ld(4, b"\xc0\xaf")), "UTF8"),
        Vector("utf8_surrogate", "a UTF-16 surrogate encoded in UTF-8", "Message", ld(13, ld(4, b"\xed\xa0\x80")),
               "UTF8"),
        Vector("utf8_above_max", "a code point above U+10FFFF", "Message", ld(13, ld(4, b"\xf4\x90\x80\x80")),
               "UTF8"),
        Vector("string_with_nul", "a NUL inside a string: valid protobuf, but a C string cannot hold it", "Message",
               ld(2, ld(2, b"a\x00b")), "UTF8"),
        Vector("uint32_as_fixed64", "request_id sent as fixed64: refused (protobuf keeps it as unknown)", "Message",
               tag(1, 1) + bytes([1]) + bytes(7), "WIRE_TYPE"),
        # Every occurrence counts, not only the one protobuf keeps (last wins; a later oneof member replaces).
        Vector("duplicate_string_first_over_limit", "title of 48 bytes (limit 47), then a short title", "Message",
               ld(13, ld(4, b"t" * 48) + ld(4, b"ok")), "TOO_LARGE"),
        Vector("duplicate_string_first_with_nul", "a title holding a NUL, then a clean title", "Message",
               ld(13, ld(4, b"a\x00b") + ld(4, b"ok")), "UTF8"),
        Vector("duplicate_uint32_first_above_2_32", "request_id = 2^32, then request_id = 1", "Message",
               vi(1, 2**32) + vi(1, 1), "VARINT"),
        Vector("oneof_switch_first_over_limit", "a card whose title is over its limit, replaced by a button",
               "Message", card_title(48) + ld(5, vi(2, 1)), "TOO_LARGE"),
        # The same refusals in a Hello (SPEC.md 4.3: a Hello that does not parse is discarded, a framing error).
        Vector("hello_session_as_varint", "Hello.session (fixed32) sent as a varint: refused (protobuf keeps it as "
               "unknown, so session reads 0)", "Hello", vi(3, 5), "WIRE_TYPE"),
        Vector("hello_version_as_fixed32", "Hello.protocol_version (uint32) sent as fixed32", "Hello",
               tag(1, 5) + b"\x01\x00\x00\x00" + session, "WIRE_TYPE"),
        Vector("hello_version_string_as_varint", "Hello.firmware_version sent as a varint", "Hello",
               session + vi(10, 1), "WIRE_TYPE"),
        Vector("hello_group", "a group in a Hello: refused (protobuf skips it as unknown)", "Hello",
               session + tag(30, 3) + vi(1, 1) + tag(30, 4), "WIRE_TYPE"),
        Vector("hello_wire_type_6", "wire type 6 does not exist", "Hello", session + tag(20, 6) + b"\x00",
               "WIRE_TYPE"),
        Vector("hello_max_frame_above_2_32", "Hello.max_frame = 2^32 + 256: refused (protobuf truncates it to 256)",
               "Hello", session + vi(6, 2**32 + 256), "VARINT"),
        Vector("hello_varint_10th_byte_high", "Hello.max_frame as a 10-byte varint with bits above 2^64", "Hello",
               session + tag(6, 0) + b"\xff" * 9 + b"\x7f", "VARINT"),
        Vector("hello_unknown_varint_10th_byte_high", "an unknown field's 10-byte varint with bits above 2^64",
               "Hello", session + tag(99, 0) + b"\xff" * 9 + b"\x7f", "VARINT"),
        Vector("hello_varint_11_bytes", "a varint longer than 10 bytes", "Hello",
               session + tag(6, 0) + b"\xff" * 10 + b"\x01", "VARINT"),
        Vector("hello_duplicate_first_above_2_32", "Hello.window = 2^32, then window = 16", "Hello",
               session + vi(7, 2**32) + vi(7, 16), "VARINT"),
        Vector("hello_version_with_nul", "Hello.firmware_version holding a NUL", "Hello",
               session + ld(10, b"fw\x001.0"), "UTF8"),
        Vector("hello_version_utf8_invalid", "Hello.firmware_version with a lone continuation byte", "Hello",
               session + ld(10, b"fw\x80"), "UTF8"),
        Vector("hello_duplicate_version_first_over_limit", "firmware_version of 32 bytes (limit 31), then a short "
               "one", "Hello", session + ld(10, b"v" * 32) + ld(10, b"ok"), "TOO_LARGE"),
        Vector("hello_field_number_zero", "field number 0 in a Hello", "Hello", session + b"\x00\x01", "FIELD"),
        Vector("hello_truncated_length", "Hello.firmware_version longer than the input", "Hello",
               session + b"\x52\x05ab", "TRUNCATED"),
        Vector("hello_truncated_varint", "Hello.max_frame cut inside its varint", "Hello", session + b"\x30\x80",
               "TRUNCATED"),
    ]


# ---- rendering ------------------------------------------------------------------------------------------


def _plain(raw: bytes) -> bool:
    return all(0x20 <= b <= 0x7E and b not in b'"\\' for b in raw)


def field_lines(msg: ProtoMessage, prefix: str = "") -> list[str]:
    """The set fields as "path=value" (the format of protocol/vectors/README.md and the C test's dump)."""
    lines: list[str] = []
    for fd, value in msg.ListFields():
        path = prefix + fd.name
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            if fd.containing_oneof is not None:
                lines.append(f"{prefix}{fd.containing_oneof.name}={fd.name}")
            lines += field_lines(value, path + ".")
        elif fd.type == FieldDescriptor.TYPE_BOOL:
            lines.append(f"{path}=true")
        elif fd.type == FieldDescriptor.TYPE_STRING:
            raw = value.encode("utf-8")
            lines.append(f'{path}="{value}"' if _plain(raw) else f"{path}=hex:{raw.hex()}")
        elif fd.type == FieldDescriptor.TYPE_BYTES:
            lines.append(f"{path}=hex:{value.hex()}")
        else:
            lines.append(f"{path}={int(value)}")
    return lines


def c_normalise(msg: ProtoMessage) -> None:
    """What a decode into a C struct keeps: no unknown fields, no all-default non-oneof sub-message."""
    msg.DiscardUnknownFields()
    for fd, value in msg.ListFields():
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            c_normalise(value)
            if fd.containing_oneof is None and value.ByteSize() == 0:
                msg.ClearField(fd.name)


def python_parse(type_name: str, data: bytes) -> ProtoMessage | None:
    msg: ProtoMessage = getattr(pb, type_name)()
    try:
        msg.ParseFromString(data)
    except DecodeError:
        return None
    return msg


def render_vector(v: Vector) -> list[str]:
    parsed = python_parse(v.type, v.input)
    lines = [f"vector {v.name}", f"about {v.about}", f"type {v.type}", f"input {v.input.hex()}"]
    lines.append(f"python {'ok' if parsed is not None else 'error'}")
    if v.error is None:
        if parsed is None:
            raise SystemExit(f"vector {v.name}: protobuf refuses an input listed as valid")
        c_normalise(parsed)
        lines.append(f"output {parsed.SerializeToString(deterministic=True).hex()}")
        lines += [f"field {line}" for line in field_lines(parsed)]
    else:
        lines.append(f"error {v.error}")
    lines.append("end")
    return lines


def render() -> str:
    head = [
        "# glassbridge message vectors: generated by protocol/tools/make_message_vectors.py; do not edit",
        "# (run `make proto`). Bytes from Python's protobuf; format in protocol/vectors/README.md.",
    ]
    body: list[str] = []
    names: set[str] = set()
    for v in valid_vectors() + invalid_vectors():
        if v.name in names:
            raise SystemExit(f"duplicate vector name {v.name}")
        names.add(v.name)
        body += [""] + render_vector(v)
    return "\n".join(head + body) + "\n"


CORPUS = Path("protocol/c/fuzz/corpus_messages")


def corpus() -> dict[str, bytes]:
    """Fuzzer seeds: every vector's input behind one byte selecting its type, as fuzz_messages.c reads it
    (the index of the message among those the C codec has, in glassbridge.proto's order: gb_dump_types[])."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import gen_c  # a sibling script; imported here so the vectors alone need no protoc

    order = [m.name for m in gen_c.mcu_subset(gen_c.parse(gen_c.load_descriptor(gen_c.PROTO))[1])]
    return {v.name: bytes([order.index(v.type)]) + v.input for v in valid_vectors() + invalid_vectors()}


def write_corpus(root: Path) -> None:
    folder = root / CORPUS
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.bin"):
        old.unlink()
    for name, data in corpus().items():
        (folder / f"{name}.bin").write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / OUT)
    parser.add_argument("--corpus-root", type=Path, default=REPO, help=f"write fuzzer seeds to ROOT/{CORPUS}")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render())
    write_corpus(args.corpus_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())

