"""The C frame layer and link engine against protocol/vectors/ and independent Python references.

- the vector files equal a fresh run of protocol/tools/make_frame_vectors.py (which uses no code under test);
- CRC-32C, COBS and frames from the C library (glassbridge._testing_native) equal the vectors and the references in
  tests/reference (bitwise CRC, the paper's COBS, `struct`);
- the C engine's Hello equals Python's protobuf serialisation of the same fields, and decodes with protobuf;
- the link transcripts replay byte for byte through glassbridge.protocol.link.Link;
- hypothesis: random data through both COBS implementations, random frame fields through both encoders.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassbridge import _testing_native
from glassbridge.protocol.link import Link, Role
from glassbridge.protocol.messages import pb
from protocol.tools import vector_file
from tests.conformance import transcripts
from tests.reference import cobs_ref, crc32c_ref

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "protocol" / "vectors"
UART, PACKET = 0, 1


def records(name: str) -> list[dict[str, str]]:
    """protocol/vectors/README.md: one record per line, `key=value` tokens, `#` comments."""
    return vector_file.records(VECTORS / name)


def test_vectors_are_up_to_date() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "protocol/tools/make_frame_vectors.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("rec", records("crc32c.txt"), ids=lambda r: r["name"])
def test_crc32c(rec: dict[str, str]) -> None:
    data, want = bytes.fromhex(rec["data"]), int(rec["crc"], 16)
    assert crc32c_ref.crc32c(data) == want
    assert _testing_native.crc32c(data) == want
    half = len(data) // 2
    assert _testing_native.crc32c(data[half:], _testing_native.crc32c(data[:half])) == want


def test_crc32c_check_value() -> None:
    assert _testing_native.crc32c(b"123456789") == 0xE3069283


@pytest.mark.parametrize("rec", records("cobs.txt"), ids=lambda r: r["name"])
def test_cobs(rec: dict[str, str]) -> None:
    data, enc = bytes.fromhex(rec["data"]), bytes.fromhex(rec["encoded"])
    assert cobs_ref.encode(data) == enc
    assert _testing_native.cobs_encode(data) == enc
    assert _testing_native.cobs_decode(enc) == data
    assert 0 not in enc


@pytest.mark.parametrize("bad", [b"", b"\x00", b"\x03\x01", b"\x03\x00\x01", b"\x02\x01\x00"])
def test_cobs_refusals(bad: bytes) -> None:
    with pytest.raises(ValueError, match="COBS"):
        _testing_native.cobs_decode(bad)
    with pytest.raises(cobs_ref.CobsError):
        cobs_ref.decode(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1200))
def test_cobs_round_trip_against_reference(data: bytes) -> None:
    enc = _testing_native.cobs_encode(data)
    assert enc == cobs_ref.encode(data)
    assert _testing_native.cobs_decode(enc) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_cobs_decode_agrees_with_reference_on_any_bytes(data: bytes) -> None:
    try:
        want: bytes | None = cobs_ref.decode(data)
    except cobs_ref.CobsError:
        want = None
    try:
        got: bytes | None = _testing_native.cobs_decode(data)
    except ValueError:
        got = None
    assert got == want


def pack_frame(profile: int, flags: int, channel: int, seq: int, ack: int, sack: int, payload: bytes) -> bytes:
    """SPEC.md "Frame format" with struct: the reference for the C encoder."""
    common = struct.pack("<BBHHI", flags, channel, seq, ack, sack)
    if profile == PACKET:
        return common + payload
    body = b"\x01" + common + struct.pack("<H", len(payload)) + payload
    return body + struct.pack("<I", crc32c_ref.crc32c(body))


@pytest.mark.parametrize("rec", records("frames.txt"), ids=lambda r: r["name"])
def test_frames(rec: dict[str, str]) -> None:
    profile = UART if rec["profile"] == "uart" else PACKET
    flags, channel, seq, ack, sack = (int(rec[k]) for k in ("flags", "channel", "seq", "ack", "sack"))
    fields = (flags, channel, seq, ack, sack)
    payload, raw, wire = bytes.fromhex(rec["payload"]), bytes.fromhex(rec["raw"]), bytes.fromhex(rec["wire"])
    assert pack_frame(profile, flags, channel, seq, ack, sack, payload) == raw
    assert _testing_native.frame_encode(profile, *fields, payload) == raw
    assert _testing_native.frame_parse(profile, raw) == (*fields, payload)
    if profile == UART:
        assert wire == cobs_ref.encode(raw) + b"\x00"
        with pytest.raises(ValueError, match="CRC"):
            _testing_native.frame_parse(UART, raw[:-1] + bytes([raw[-1] ^ 1]))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([UART, PACKET]), st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFF),
       st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF), st.binary(max_size=300))
def test_frame_encode_against_struct(profile: int, flags: int, channel: int, seq: int, ack: int, sack: int,
                                     payload: bytes) -> None:
    raw = _testing_native.frame_encode(profile, flags, channel, seq, ack, sack, payload)
    assert raw == pack_frame(profile, flags, channel, seq, ack, sack, payload)
    assert _testing_native.frame_parse(profile, raw) == (flags, channel, seq, ack, sack, payload)


@pytest.mark.parametrize("rec", records("hello.txt"), ids=lambda r: r["name"])
def test_hello_vectors_are_protobuf(rec: dict[str, str]) -> None:
    h = pb.Hello()
    h.ParseFromString(bytes.fromhex(rec["payload"]))
    for key in ("protocol_version", "min_protocol_version", "session", "peer_session", "boot_counter", "max_frame",
                "window", "capabilities", "role", "max_message"):
        assert getattr(h, key) == int(rec[key]), key
    assert h.firmware_version == rec["firmware_version"]
    assert h.reject == bool(int(rec["reject"]))


def first_hello(link: Link) -> pb.Hello:
    frame = link.poll_tx(0)
    assert frame is not None
    raw = _testing_native.cobs_decode(frame[:-1]) if link.profile == "uart" else frame
    flags, channel, *_, payload = _testing_native.frame_parse(0 if link.profile == "uart" else 1, raw)
    assert flags == 0x0C and channel == 0  # HELLO | PING: "answer me"
    h = pb.Hello()
    h.ParseFromString(payload)
    return h


def test_engine_hello_equals_protobuf() -> None:
    rec = next(r for r in records("hello.txt") if r["name"] == "soc_first")
    link = Link(session=int(rec["session"]), role=Role(int(rec["role"])), max_frame=int(rec["max_frame"]),
                window=int(rec["window"]), max_message=int(rec["max_message"]),
                firmware_version=rec["firmware_version"])
    h = first_hello(link)
    assert h.SerializeToString(deterministic=True) == bytes.fromhex(rec["payload"])


def test_engine_hello_widest_fits_min_frame() -> None:
    link = Link(session=0xFFFFFFFF, role=Role.PHONE, boot_counter=0xFFFFFFFF, capabilities=0xFFFFFFFF,
                firmware_version="x" * 31, max_frame=128, window=32, max_message=65535,
                tx_queue_bytes=65540)
    h = first_hello(link)
    assert h.firmware_version == "x" * 31 and h.capabilities == 0xFFFFFFFF and h.max_frame == 128


@pytest.mark.parametrize("name", ["transcript_uart.txt", "transcript_packet.txt"])
def test_transcript(name: str) -> None:
    steps = records(name)
    link = Link(profile=steps[0]["profile"], **transcripts.link_options(steps[0]))  # type: ignore[arg-type]
    assert transcripts.replay(link, name, steps) > 0


@settings(max_examples=150, deadline=None)
@given(
    session=st.integers(1, 0xFFFFFFFF),
    boot_counter=st.integers(0, 0xFFFFFFFF),
    capabilities=st.integers(0, 0xFFFFFFFF),
    max_frame=st.integers(128, 4096),
    window=st.integers(1, 32),
    max_message=st.integers(1, 65535),
    role=st.integers(0, 3),
    firmware_version=st.text(max_size=10).filter(lambda s: len(s.encode()) <= 31 and "\x00" not in s),
    unknown_field=st.binary(max_size=20),
)
def test_engine_reads_any_protobuf_hello(session: int, boot_counter: int, capabilities: int, max_frame: int,
                                         window: int, max_message: int, role: int, firmware_version: str,
                                         unknown_field: bytes) -> None:
    """A Hello serialised by protobuf (plus a field from a future version) reaches the C decoder intact."""
    h = pb.Hello(protocol_version=1, min_protocol_version=1, session=session, boot_counter=boot_counter,
                 capabilities=capabilities, max_frame=max_frame, window=window, max_message=max_message,
                 role=role, firmware_version=firmware_version)
    # Field 100, length-delimited: an older receiver must skip it.
    payload = h.SerializeToString() + bytes([0xA2, 0x06, len(unknown_field)]) + unknown_field
    link = Link(session=session ^ 0x5A5A5A5A or 1)
    link.receive(cobs_ref.encode(pack_frame(UART, 0x0C, 0, 0, 0, 0, payload)) + b"\x00", 0)
    peer = link.peer
    assert peer is not None and link.stats.framing_errors == 0
    assert (peer.session, peer.boot_counter, peer.capabilities, peer.max_frame, peer.window, peer.max_message,
            int(peer.role), peer.firmware_version) == (session, boot_counter, capabilities, max_frame, window,
                                                      max_message, role, firmware_version)
