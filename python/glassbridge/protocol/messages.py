"""The glassbridge wire messages in Python: protobuf's generated classes plus the rules the MCU enforces.

Every payload on the link's channels 1-3 is one ``glassbridge.v1.Message`` (protocol/glassbridge.proto). The
classes are protoc's (``pb.Message``, ``pb.DisplayCard``, ...); this module adds what proto3 itself lacks:
the byte limits of string and bytes fields (the MCU has fixed buffers), checked before anything is sent, so a
too-long card title fails here with the field's name rather than as a refusal from the glasses.

    from glassbridge.protocol.messages import pb, encode, decode, body_name
    data = encode(pb.Message(request_id=7, card=pb.DisplayCard(card_id=1, title="Hi")))
    msg = decode(data)
    body_name(msg)          # "card"

Encoding is deterministic and byte-identical to the firmware's C codec (protocol/CODEC.md): fields in number
order, defaults omitted. Decoding is that codec's contract (CODEC.md, "Which codec is the contract"): protobuf's
parser, plus `wire_problem`, which refuses the inputs protobuf takes but the contract does not (a known field with
the wrong wire type, a group, a uint32/sint32 varint over 32 bits, a varint over 64 bits, a string or bytes value
over its limit or a string holding a NUL, in any occurrence of the field). No I/O here.
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as _ProtoMessage

from glassbridge.protocol import glassbridge_pb2 as pb
from glassbridge.protocol.errors import MessageDecodeError, MessageLimitError
from glassbridge.protocol.glassbridge_limits import LIMITS

__all__ = ["LIMITS", "body", "body_name", "check_limits", "decode", "decode_as", "encode", "enum_name", "enum_value",
           "limit_of", "pb", "wire_problem"]

_M = TypeVar("_M", bound=_ProtoMessage)


def limit_of(field: FieldDescriptor) -> int | None:
    """The `limit:` (bytes) of a string or bytes field, None for other fields."""
    return LIMITS.get(field.full_name)


def check_limits(msg: _ProtoMessage, *, path: str | None = None) -> None:
    """Raise MessageLimitError naming the first string/bytes field (at any depth) the MCU cannot hold.

    That is a value longer than its limit (strings count UTF-8 bytes, as the wire does) or a string holding a
    NUL character. Only fields that are set are visited.
    """
    where = path or msg.DESCRIPTOR.name
    for field, value in msg.ListFields():
        name = f"{where}.{field.name}"
        if field.is_repeated:  # phone-link messages only (gen_c.py refuses them)
            limit = limit_of(field)
            if limit is not None and len(value) > limit:
                raise MessageLimitError(name, len(value), limit, f"has {len(value)} entries, more than its limit "
                                        f"of {limit}")
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                for i, item in enumerate(value):
                    check_limits(item, path=f"{name}[{i}]")
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            check_limits(value, path=name)
        elif field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
            limit = limit_of(field)
            if limit is None:  # gen_c.py refuses such a .proto: this means stale generated files
                raise MessageLimitError(name, len(value), 0)
            size = len(value.encode("utf-8")) if isinstance(value, str) else len(value)
            if size > limit:
                raise MessageLimitError(name, size, limit)
            if isinstance(value, str) and "\x00" in value:
                raise MessageLimitError(name, size, limit, "contains a NUL character, which the MCU's C strings "
                                        "cannot hold: remove it")


def encode(msg: pb.Message) -> bytes:
    """The wire bytes of a Message (deterministic), after check_limits."""
    check_limits(msg)
    data: bytes = msg.SerializeToString(deterministic=True)
    return data


F = FieldDescriptor
_WIRE_TYPE = {  # the wire type each field type is written with (https://protobuf.dev/programming-guides/encoding/)
    **dict.fromkeys((F.TYPE_INT32, F.TYPE_INT64, F.TYPE_UINT32, F.TYPE_UINT64, F.TYPE_SINT32, F.TYPE_SINT64,
                     F.TYPE_BOOL, F.TYPE_ENUM), 0),
    **dict.fromkeys((F.TYPE_FIXED64, F.TYPE_SFIXED64, F.TYPE_DOUBLE), 1),
    **dict.fromkeys((F.TYPE_STRING, F.TYPE_BYTES, F.TYPE_MESSAGE), 2),
    **dict.fromkeys((F.TYPE_FIXED32, F.TYPE_SFIXED32, F.TYPE_FLOAT), 5),
}
_U32 = 2**32 - 1
_FIELD_MAX = 2**29 - 1


class _Refused(Exception):
    pass


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """(value, next offset) of the varint at `at`: at most 10 bytes and 64 bits (protobuf ignores bits above)."""
    value = 0
    for i in range(10):
        if at + i >= len(data):
            raise _Refused("the input ends inside a varint")
        b = data[at + i]
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            if value >> 64:
                raise _Refused("a 10-byte varint carries bits above 2^64")
            return value, at + i + 1
    raise _Refused("a varint is longer than 10 bytes")


# Per message type: field number -> (name, wire type, uint32/sint32?, packable?, sub-message, byte limit, string?).
_Row = tuple[str, int, bool, bool, Descriptor | None, int | None, bool]
# Keyed by the descriptor itself, not its name: two pools may hold a type of the same name with other fields (the
# conformance tests' MCU schema is Message without its phone-link members), and one must not read the other's table.
_TABLES: dict[Descriptor, dict[int, _Row]] = {}


def _table(desc: Descriptor) -> dict[int, _Row]:
    table = _TABLES.get(desc)
    if table is None:
        table = {}
        for fd in desc.fields:
            want = _WIRE_TYPE[fd.type]
            limit = None if fd.is_repeated else limit_of(fd)  # a repeated field's limit counts entries: check_limits
            table[fd.number] = (fd.name, want, fd.type in (F.TYPE_UINT32, F.TYPE_SINT32), fd.is_repeated and want != 2,
                                fd.message_type, limit, fd.type == F.TYPE_STRING)
        _TABLES[desc] = table
    return table


def _walk(desc: Descriptor, data: bytes, where: str) -> None:
    table = _table(desc)
    at, end = 0, len(data)
    while at < end:
        key = data[at]  # most tags and values are one byte: no call for those
        if key < 0x80:
            at += 1
        else:
            key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if number == 0 or number > _FIELD_MAX:
            raise _Refused(f"{where}: field number {number} is invalid")
        if wire not in (0, 1, 2, 5):
            raise _Refused(f"{where}: field {number} has wire type {wire} (groups and types 6, 7 are refused)")
        payload = b""
        value = 0
        if wire == 0:
            if at < end and data[at] < 0x80:
                value = data[at]
                at += 1
            else:
                value, at = _varint(data, at)
        elif wire == 2:
            if at < end and data[at] < 0x80:
                length = data[at]
                at += 1
            else:
                length, at = _varint(data, at)
            payload = data[at:at + length]
            at += length
        else:
            at += 8 if wire == 1 else 4
        if at > end:
            raise _Refused(f"{where}: the input ends inside field {number}")
        row = table.get(number)
        if row is None:
            continue  # unknown (a newer peer's): skipped, whatever its wire type among 0, 1, 2, 5
        name, want, narrow, packable, sub, limit, is_string = row
        packed = packable and wire == 2
        if wire != want and not packed:
            raise _Refused(f"{where}.{name} (field {number}) has wire type {wire}, not {want}: a field is never "
                           "retyped")
        if packed:  # a packed repeated scalar (accepted as proto3 parsers must): check its varints' widths
            pos = 0
            while want == 0 and pos < len(payload):
                value, pos = _varint(payload, pos)
                if narrow and value > _U32:
                    raise _Refused(f"{where}.{name} is {value}, over 32 bits")
        elif wire == 0:
            if narrow and value > _U32:  # protobuf would keep the low 32 bits
                raise _Refused(f"{where}.{name} is {value}, over 32 bits")
        elif sub is not None:
            _walk(sub, payload, f"{where}.{name}")
        elif wire == 2:
            if limit is not None and len(payload) > limit:
                raise _Refused(f"{where}.{name} is {len(payload)} bytes, over its limit of {limit}")
            if is_string and b"\x00" in payload:
                raise _Refused(f"{where}.{name} contains a NUL character, which the MCU's C strings cannot hold")


def wire_problem(msg_type: type[_ProtoMessage], data: bytes) -> str | None:
    """Why the glassbridge codec refuses `data` as one `msg_type` (``pb.Hello``...), or None when it has nothing
    against it.

    These are the checks protobuf's own parser leaves out (protocol/CODEC.md, "Which codec is the contract"): a
    known field with the wrong wire type (protobuf keeps it as an unknown field, so the field reads as its
    default), a group (wire types 3 and 4), a uint32 or sint32 varint above 2^32-1 (protobuf truncates it), a
    varint with bits above 2^64, and, in every occurrence of a field (also one a later occurrence or oneof member
    replaces), a string or bytes value over its `limit:` or a string holding a NUL. Unknown fields are skipped.
    Truncation, invalid UTF-8 and field number 0 are protobuf's own refusals, reported here too.
    """
    try:
        desc: Descriptor = msg_type.DESCRIPTOR  # type: ignore[assignment]  # upb's Descriptor is the same class
        _walk(desc, bytes(data), desc.name)
    except _Refused as exc:
        return str(exc)
    return None


def decode_as(msg_type: type[_M], data: bytes) -> _M:
    """Parse `data` as one `msg_type` (``pb.Message``, ``pb.Hello``...) under the glassbridge codec's contract.

    MessageDecodeError says why when protobuf refuses the bytes, when wire_problem does, or when a field is over its
    limit (check_limits: also a repeated field's entry count). Unknown fields (from a newer peer) are kept by
    protobuf and ignored by the accessors.
    """
    msg = msg_type()
    type_name = msg.DESCRIPTOR.full_name
    head = bytes(data[:16]).hex(" ") + (" ..." if len(data) > 16 else "")
    try:
        msg.ParseFromString(bytes(data))
    except DecodeError as exc:
        raise MessageDecodeError(
            f"{len(data)} bytes are not a valid {type_name} ({exc}); they start {head}"
        ) from exc
    problem = wire_problem(msg_type, data)
    if problem is not None:
        raise MessageDecodeError(f"received {msg.DESCRIPTOR.name} refused: {problem}; it starts {head}")
    try:
        check_limits(msg)
    except MessageLimitError as exc:
        raise MessageDecodeError(f"received {msg.DESCRIPTOR.name} refused: {exc}") from exc
    return msg


def decode(data: bytes) -> pb.Message:
    """Parse one Message; MessageDecodeError says why the bytes are not one (see decode_as)."""
    return decode_as(pb.Message, data)


def body_name(msg: pb.Message) -> str | None:
    """The name of the Message's body member that is set (``"card"``, ``"status"``...), or None."""
    name: str | None = msg.WhichOneof("body")
    return name


def body(msg: pb.Message) -> _ProtoMessage | None:
    """The body sub-message that is set (e.g. the DisplayCard), or None when the body is empty."""
    name = body_name(msg)
    return None if name is None else getattr(msg, name)


def enum_name(enum: Any, value: int, prefix: str) -> str:
    """A protobuf enum value as a short name: ``enum_name(pb.ButtonAction, 2, "BUTTON_ACTION_")`` -> "double_tap".

    A value this build does not know (a newer peer's) becomes "unknown(7)" instead of an error: enums are open.
    """
    try:
        return str(enum.Name(value)).removeprefix(prefix).lower()
    except ValueError:
        return f"unknown({value})"


def enum_value(enum: Any, name: str, prefix: str) -> str:
    """The inverse of enum_name for a caller's word: ``enum_value(pb.AudioCodec, "opus", "AUDIO_CODEC_")`` ->
    "AUDIO_CODEC_OPUS", the value's full name, which protobuf takes for an enum field. An unknown word raises
    ValueError listing the known ones ("unknown audio codec 'mp3': use one of pcm16, opus")."""
    full = prefix + name.upper()
    try:
        enum.Value(full)
    except ValueError:
        names = [v.name.removeprefix(prefix).lower() for v in enum.DESCRIPTOR.values if v.number]
        what = prefix.rstrip("_").lower().replace("_", " ")
        raise ValueError(f"unknown {what} {name!r}: use one of {', '.join(names)}") from None
    return full
