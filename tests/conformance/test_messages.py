"""The firmware's C message codec against Python's protobuf (the independent reference).

- every vector of protocol/vectors/messages.txt through the C codec (glassbridge._testing_native.message_roundtrip:
  C decode then C encode), and the vectors file equal to a fresh run of make_message_vectors.py;
- hypothesis: random valid Messages built with protobuf (within the `limit:`s) come back from the C codec
  byte for byte; values over a limit are refused by C and by glassbridge.protocol.messages;
- hypothesis on decoding: random bytes and random field soups never crash the C decoder; whatever protobuf
  refuses C refuses too, and whatever C accepts protobuf accepts and re-serialises to the same bytes;
- glassbridge.protocol.messages holds the same contract as C (protocol/CODEC.md, "Which codec is the contract"):
  every vector of both types through decode_as, and decode_as against C on the field soups.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glassbridge.protocol import messages
from glassbridge.protocol.errors import MessageDecodeError, MessageLimitError
from glassbridge.protocol.messages import pb

native = pytest.importorskip("glassbridge._testing_native",
                             reason="the test-only extension is not built: run `make native`")

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "protocol" / "vectors" / "messages.txt"
sys.path.insert(0, str(REPO / "protocol" / "tools"))
import make_message_vectors  # noqa: E402  (a script of protocol/tools)

U32, U64 = 2**32 - 1, 2**64 - 1
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
F = FieldDescriptor
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- the vectors -----------------------------------------------------------------------------------------


@dataclass
class Vector:
    name: str
    type: str = ""
    input: bytes = b""
    output: bytes | None = None
    error: str | None = None
    python_ok: bool = True
    fields: list[str] = field(default_factory=list)


def read_vectors() -> list[Vector]:
    out: list[Vector] = []
    for line in VECTORS.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, val = line.partition(" ")
        if key == "vector":
            out.append(Vector(val))
        elif key == "type":
            out[-1].type = val
        elif key == "input":
            out[-1].input = bytes.fromhex(val)
        elif key == "output":
            out[-1].output = bytes.fromhex(val)
        elif key == "error":
            out[-1].error = val
        elif key == "python":
            out[-1].python_ok = val == "ok"
        elif key == "field":
            out[-1].fields.append(val)
    return out


ALL = read_vectors()
ROUNDTRIP_TYPES = ("Message", "Hello")  # what _testing_native.message_roundtrip takes; test_messages.c runs them all
PHONE_FIELDS = range(64, 128)  # Message body members of the phone link only (SPEC.md 16.5)


def test_vectors_file_is_up_to_date() -> None:
    assert VECTORS.read_text() == make_message_vectors.render(), (
        "protocol/vectors/messages.txt differs from a fresh run: `python protocol/tools/make_message_vectors.py`"
    )


def mcu_message_types() -> set[str]:
    """The messages the MCU's C codec carries: reachable from Hello and Message, except through Message's phone-link
    fields 64-127 (SPEC.md 16.5), worked out from Python's descriptors rather than from gen_c.py."""
    seen: set[str] = set()

    def visit(d: Descriptor) -> None:
        if d.name in seen:
            return
        seen.add(d.name)
        for f in d.fields:
            if f.message_type is not None and not (d.name == "Message" and 64 <= f.number <= 127):
                visit(f.message_type)

    visit(pb.Hello.DESCRIPTOR)
    visit(pb.Message.DESCRIPTOR)
    return seen


def test_vectors_cover_every_message_type() -> None:
    types = {v.type for v in ALL if v.error is None and v.fields}
    assert types == mcu_message_types() - {"StatusRequest", "DisplayClear"}
    assert "AssistantRequest" not in types and "AudioFrame" in types
    assert {v.error for v in ALL if v.error} == {"TRUNCATED", "TOO_LARGE", "WIRE_TYPE", "VARINT", "FIELD", "UTF8"}


@pytest.mark.parametrize("v", [v for v in ALL if v.type in ROUNDTRIP_TYPES], ids=lambda v: v.name)
def test_vector_through_c(v: Vector) -> None:
    if v.error is None:
        assert native.message_roundtrip(v.input, v.type) == v.output
    else:
        with pytest.raises(ValueError, match=re.escape(f"({v.error})")):
            native.message_roundtrip(v.input, v.type)


@pytest.mark.parametrize("v", [v for v in ALL if v.type in ROUNDTRIP_TYPES], ids=lambda v: v.name)
def test_vector_through_python_messages(v: Vector) -> None:
    """messages.decode_as holds the same contract as the C codec (CODEC.md, "Which codec is the contract"): it
    refuses every invalid vector, also those protobuf's parser accepts (`python ok`), and reads the valid ones."""
    cls = getattr(pb, v.type)
    if v.error is not None:
        with pytest.raises(MessageDecodeError):
            messages.decode_as(cls, v.input)
        if v.type == "Message":
            with pytest.raises(MessageDecodeError):
                messages.decode(v.input)
        return
    msg = messages.decode_as(cls, v.input)
    make_message_vectors.c_normalise(msg)
    assert make_message_vectors.field_lines(msg) == v.fields
    assert msg.SerializeToString(deterministic=True) == v.output


@pytest.mark.parametrize("v", [v for v in ALL if v.error is not None and v.python_ok], ids=lambda v: v.name)
def test_deliberate_differences_are_what_stock_protobuf_accepts(v: Vector) -> None:
    """The `python ok` error vectors are exactly the checks a stock-protobuf app adds (CODEC.md's list): protobuf
    itself takes them, and wire_problem (or, for a limit, check_limits) is what refuses them."""
    cls = getattr(pb, v.type)
    cls().ParseFromString(v.input)  # stock protobuf: no DecodeError
    assert messages.wire_problem(cls, v.input) is not None


def test_wire_problem_accepts_packed_and_unpacked_repeated_scalars() -> None:
    """proto3 parsers accept a repeated scalar packed or not; none is in the .proto today, so a schema made here."""
    fdp = descriptor_pb2.FileDescriptorProto(name="packed_probe.proto", package="probe", syntax="proto3")
    m = fdp.message_type.add(name="P")
    m.field.add(name="v", number=1, type=F.TYPE_UINT32, label=F.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("probe.P"))
    unpacked = b"\x08\x01\x08\x02"
    packed = b"\x0a\x02\x01\x02"
    for data in (unpacked, packed):
        msg = cls()
        msg.ParseFromString(data)
        assert list(msg.v) == [1, 2]  # protobuf's own reading: both forms are the same value
        assert messages.wire_problem(cls, data) is None
    assert messages.wire_problem(cls, b"\x0a\x05\x80\x80\x80\x80\x10") is not None  # 2^32 inside the pack
    assert messages.wire_problem(cls, b"\x0d\x01\x00\x00\x00") is not None  # fixed32: not a uint32's wire type


# ---- random valid messages -------------------------------------------------------------------------------


def fit_utf8(text: str, limit: int) -> str:
    while len(text.encode()) > limit:
        text = text[:-1]
    return text


def text_within(limit: int) -> st.SearchStrategy[str]:
    alphabet = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
    return st.text(alphabet, max_size=limit).map(lambda s: fit_utf8(s, limit))


def scalar(fd: FieldDescriptor) -> st.SearchStrategy[Any]:
    if fd.type in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return st.one_of(st.integers(0, U32), st.sampled_from([0, 1, 127, 128, 16383, 16384, U32]))
    if fd.type == F.TYPE_UINT64:
        return st.one_of(st.integers(0, U64), st.sampled_from([0, 1, 2**32, 2**63, U64]))
    if fd.type == F.TYPE_SINT32:
        return st.one_of(st.integers(I32_MIN, I32_MAX), st.sampled_from([-1, 1, -64, 64, I32_MIN, I32_MAX]))
    if fd.type == F.TYPE_BOOL:
        return st.booleans()
    if fd.type == F.TYPE_FLOAT:  # phone-link messages only (gen_c.py refuses floats in the MCU's subset)
        return st.floats(width=32, allow_nan=False)
    if fd.type == F.TYPE_ENUM:  # open enums: known values, unknown ones, negatives
        known = [v.number for v in fd.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(I32_MIN, I32_MAX))
    limit = messages.limit_of(fd)
    assert limit is not None, fd.full_name
    if fd.type == F.TYPE_STRING:
        return text_within(limit)
    return st.binary(max_size=limit)


def fields_of(desc: Descriptor) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for desc's class: any subset of the plain fields, at most one member per oneof."""
    plain = {fd.name: value_of(fd) for fd in desc.fields if fd.containing_oneof is None}
    parts: list[st.SearchStrategy[dict[str, Any]]] = [st.fixed_dictionaries({}, optional=plain)]
    for oneof in desc.oneofs:
        # The MCU's C codec leaves out Message's phone-link members (64-127): see test_phone_bodies_are_skipped_by_c.
        members = [fd for fd in oneof.fields if not (desc.name == "Message" and fd.number in PHONE_FIELDS)]
        choices = [st.just({})] + [value_of(fd).map(lambda v, n=fd.name: {n: v}) for fd in members]
        parts.append(st.one_of(choices))

    def merge(dicts: tuple[dict[str, Any], ...]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for d in dicts:
            merged.update(d)
        return merged

    return st.tuples(*parts).map(merge)


def value_of(fd: FieldDescriptor) -> st.SearchStrategy[Any]:
    if fd.is_repeated:  # phone-link messages only; the limit counts entries
        one = value_of_one(fd)
        return st.lists(one, max_size=min(messages.limit_of(fd) or 0, 4))
    return value_of_one(fd)


def value_of_one(fd: FieldDescriptor) -> st.SearchStrategy[Any]:
    if fd.type != F.TYPE_MESSAGE:
        return scalar(fd)
    cls = getattr(pb, fd.message_type.name)
    built = fields_of(fd.message_type).map(lambda kw: cls(**kw))
    if fd.containing_oneof is None:
        # A present but all-default sub-message has no C representation (no presence bit): leave such out.
        built = built.filter(lambda m: m.ByteSize() > 0)
    return built


def message_of(name: str) -> st.SearchStrategy[ProtoMessage]:
    cls = getattr(pb, name)
    return fields_of(cls.DESCRIPTOR).map(lambda kw: cls(**kw))


@SETTINGS
@given(message_of("Message"))
def test_random_messages_roundtrip_byte_identical(msg: pb.Message) -> None:
    data = messages.encode(msg)  # also proves check_limits accepts what is within the limits
    assert native.message_roundtrip(data) == data


PHONE_MEMBERS = [fd for fd in pb.Message.DESCRIPTOR.oneofs_by_name["body"].fields if fd.number in PHONE_FIELDS]


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.one_of([value_of(fd).map(lambda v, n=fd.name: (n, v)) for fd in PHONE_MEMBERS]))
def test_phone_bodies_are_skipped_by_c(request_id: int, member: tuple[str, Any]) -> None:
    """A phone-link body reaching the C codec is an unknown field: skipped, the rest of the Message kept."""
    name, value = member
    data = messages.encode(pb.Message(request_id=request_id, **{name: value}))
    assert native.message_roundtrip(data) == pb.Message(request_id=request_id).SerializeToString()


@SETTINGS
@given(message_of("Hello"))
def test_random_hellos_roundtrip_byte_identical(msg: pb.Hello) -> None:
    data = msg.SerializeToString(deterministic=True)
    assert native.message_roundtrip(data, "Hello") == data


LIMITED = [(d.name, fd) for d in pb.DESCRIPTOR.message_types_by_name.values() for fd in d.fields
           if fd.type in (F.TYPE_STRING, F.TYPE_BYTES)]


def body_holding(type_name: str) -> str | None:
    """The Message body member whose type is type_name, if any."""
    for fd in pb.Message.DESCRIPTOR.oneofs_by_name["body"].fields:
        if fd.message_type.name == type_name:
            return fd.name
    return None


@SETTINGS
@given(st.sampled_from(LIMITED), st.integers(1, 40), st.data())
def test_over_limit_refused_everywhere(target: tuple[str, FieldDescriptor], extra: int, data: st.DataObject) -> None:
    type_name, fd = target
    limit = messages.limit_of(fd)
    assert limit is not None
    n = limit + extra
    value: str | bytes = data.draw(st.binary(min_size=n, max_size=n)) if fd.type == F.TYPE_BYTES else "x" * n
    inner = getattr(pb, type_name)(**{fd.name: value})
    member = body_holding(type_name)
    if member is None:  # Hello (or a type only nested elsewhere): checked on its own
        holder: ProtoMessage = inner
        kind = type_name
    else:
        holder = pb.Message(**{member: inner})
        kind = "Message"
    with pytest.raises(MessageLimitError, match=rf"\.{fd.name} is {n} bytes, over its limit of {limit}"):
        messages.check_limits(holder)
    raw = holder.SerializeToString()  # protobuf has no limits: these are the bytes a careless peer would send
    phone_only = member is not None and pb.Message.DESCRIPTOR.fields_by_name[member].number in PHONE_FIELDS
    if phone_only:  # the MCU's codec skips phone-link bodies whatever their size
        assert native.message_roundtrip(raw, kind) == b""
    elif kind in ROUNDTRIP_TYPES:
        with pytest.raises(ValueError, match=r"\(TOO_LARGE\)"):
            native.message_roundtrip(raw, kind)
    if kind == "Message":
        with pytest.raises(MessageDecodeError, match=fd.name):
            messages.decode(raw)


def test_nul_in_string_refused_before_sending() -> None:
    with pytest.raises(MessageLimitError, match="NUL"):
        messages.encode(pb.Message(card=pb.DisplayCard(title="a\x00b")))


# ---- random input to the decoder -------------------------------------------------------------------------


def mcu_schema_class(name: str) -> type[ProtoMessage]:
    """protobuf's class for `name` in the schema the MCU's codec has: Message without its phone-link members, which
    the C decoder skips as unknown fields (so a later phone member does not replace an earlier MCU member)."""
    fdp = descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(fdp)
    for m in fdp.message_type:
        if m.name == "Message":
            keep = [f for f in m.field if f.number not in PHONE_FIELDS]
            del m.field[:]
            m.field.extend(keep)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    cls: type[ProtoMessage] = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"glassbridge.v1.{name}"))
    return cls


MCU_CLASSES = {kind: mcu_schema_class(kind) for kind in ROUNDTRIP_TYPES}


def python_view(data: bytes, kind: str) -> bytes | None:
    """What protobuf makes of data in the MCU's schema, normalised as a C struct keeps it (None: refused)."""
    msg = MCU_CLASSES[kind]()
    try:
        msg.ParseFromString(data)
    except DecodeError:
        return None
    make_message_vectors.c_normalise(msg)
    return msg.SerializeToString(deterministic=True)


def c_view(data: bytes, kind: str) -> bytes | None:
    try:
        return native.message_roundtrip(data, kind)
    except ValueError as exc:
        assert re.search(r"\((TRUNCATED|VARINT|WIRE_TYPE|FIELD|TOO_LARGE|UTF8)\)", str(exc)), exc
        return None


def assert_agree(data: bytes, kind: str) -> None:
    c = c_view(data, kind)
    py = python_view(data, kind)
    if py is None:
        assert c is None, f"C accepts what protobuf refuses: {data.hex()}"
    if c is not None:
        assert c == py, f"C and protobuf read {data.hex()} differently"


@SETTINGS
@given(st.binary(max_size=200), st.sampled_from(ROUNDTRIP_TYPES))
def test_random_bytes_never_crash_and_agree(data: bytes, kind: str) -> None:
    assert_agree(data, kind)


def wire_varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


@st.composite
def field_soup(draw: st.DrawFn, depth: int = 0) -> bytes:
    """A sequence of well-framed fields with plausible numbers and any wire type: much deeper into the decoder
    than random bytes (known fields with right and wrong types, nested bodies, unknown fields, bad UTF-8)."""
    out = bytearray()
    for _ in range(draw(st.integers(0, 6))):
        number = draw(st.one_of(st.integers(1, 20), st.integers(21, 3000)))
        wire = draw(st.sampled_from([0, 0, 1, 2, 2, 2, 5]))
        out += wire_varint(number << 3 | wire)
        if wire == 0:
            out += wire_varint(draw(st.one_of(st.integers(0, 300), st.integers(0, 2**64 - 1))))
        elif wire == 1:
            out += draw(st.binary(min_size=8, max_size=8))
        elif wire == 5:
            out += draw(st.binary(min_size=4, max_size=4))
        else:
            payload = draw(field_soup(depth + 1)) if depth < 2 and draw(st.booleans()) else draw(
                st.one_of(st.binary(max_size=40), st.text(max_size=20).map(str.encode)))
            out += wire_varint(len(payload)) + payload
    return bytes(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field_soup(), st.sampled_from(ROUNDTRIP_TYPES))
def test_field_soup_agrees_with_protobuf(data: bytes, kind: str) -> None:
    assert_agree(data, kind)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field_soup(), st.sampled_from(ROUNDTRIP_TYPES))
def test_field_soup_python_contract_agrees_with_c(data: bytes, kind: str) -> None:
    """Two implementations of one contract: messages.decode_as (protobuf + wire_problem + check_limits, in the MCU's
    schema) accepts exactly what the C codec accepts, and reads it the same."""
    c = c_view(data, kind)
    try:
        msg = messages.decode_as(MCU_CLASSES[kind], data)
    except MessageDecodeError:
        assert c is None, f"C accepts what decode_as refuses: {data.hex()}"
        return
    assert c is not None, f"decode_as accepts what C refuses: {data.hex()}"
    make_message_vectors.c_normalise(msg)
    assert msg.SerializeToString(deterministic=True) == c


def test_the_mcu_schema_and_the_full_one_keep_their_own_tables() -> None:
    """Field 64 (the phone link's assistant_request) with a fixed64 value: the MCU's schema does not know field 64,
    so it is skipped as the C codec skips it; the full schema knows it and refuses the retyped field. The wire
    checks once cached their tables by type name, and whichever schema came first decided for both (found by the
    field soup above, depending on test order)."""
    data = bytes.fromhex("81040000000000000000")
    with pytest.raises(MessageDecodeError, match="field 64"):
        messages.decode(data)
    assert c_view(data, "Message") == b""
    assert messages.decode_as(MCU_CLASSES["Message"], data).WhichOneof("body") is None
    with pytest.raises(MessageDecodeError, match="field 64"):
        messages.decode(data)


# ---- the Python helpers ----------------------------------------------------------------------------------


def test_body_helpers() -> None:
    msg = messages.decode(messages.encode(pb.Message(request_id=4, button=pb.ButtonEvent(at_ms=9))))
    assert messages.body_name(msg) == "button"
    assert messages.body(msg) == pb.ButtonEvent(at_ms=9)
    assert messages.body_name(pb.Message()) is None
    assert messages.body(pb.Message()) is None


def test_decode_error_names_the_problem() -> None:
    with pytest.raises(MessageDecodeError, match=r"3 bytes are not a valid glassbridge.v1.Message .*08 ff ff"):
        messages.decode(b"\x08\xff\xff")


def test_enum_name_is_short_and_open() -> None:
    assert messages.enum_name(pb.ButtonAction, pb.BUTTON_ACTION_DOUBLE_TAP, "BUTTON_ACTION_") == "double_tap"
    assert messages.enum_name(pb.NotificationKind, 99, "NOTIFICATION_KIND_") == "unknown(99)"  # a newer peer's


def test_enum_value_is_the_full_name_protobuf_takes_and_refuses_unknown_words() -> None:
    full = messages.enum_value(pb.AudioCodec, "opus", "AUDIO_CODEC_")
    assert full == "AUDIO_CODEC_OPUS"
    assert pb.AudioPacket(codec=full).codec == pb.AUDIO_CODEC_OPUS  # protobuf's own reading of the name
    # Every value round-trips through enum_name.
    for v in pb.MediaAction.DESCRIPTOR.values:
        word = messages.enum_name(pb.MediaAction, v.number, "MEDIA_ACTION_")
        assert pb.MediaAction.Value(messages.enum_value(pb.MediaAction, word, "MEDIA_ACTION_")) == v.number
    with pytest.raises(ValueError, match=r"unknown audio codec 'mp3': use one of pcm16, opus$"):
        messages.enum_value(pb.AudioCodec, "mp3", "AUDIO_CODEC_")
