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
order, defaults omitted. No I/O here.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as _ProtoMessage

from glassbridge.protocol import glassbridge_pb2 as pb
from glassbridge.protocol.errors import MessageDecodeError, MessageLimitError
from glassbridge.protocol.glassbridge_limits import LIMITS

__all__ = ["LIMITS", "body", "body_name", "check_limits", "decode", "encode", "enum_name", "enum_value", "limit_of",
           "pb"]


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


def decode(data: bytes) -> pb.Message:
    """Parse one Message; MessageDecodeError says why the bytes are not one (including a field over its limit).

    Unknown fields (from a newer peer) are kept by protobuf and ignored by the accessors.
    """
    msg = pb.Message()
    try:
        msg.ParseFromString(bytes(data))
    except DecodeError as exc:
        head = bytes(data[:16]).hex(" ")
        more = " ..." if len(data) > 16 else ""
        raise MessageDecodeError(
            f"{len(data)} bytes are not a valid glassbridge.v1.Message ({exc}); they start {head}{more}"
        ) from exc
    try:
        check_limits(msg)
    except MessageLimitError as exc:
        raise MessageDecodeError(f"received Message refused: {exc}") from exc
    return msg


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
