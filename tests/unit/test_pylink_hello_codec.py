"""PyLink, the project's stock-protobuf app, against every Hello vector of protocol/vectors/messages.txt.

PyLink parses Hellos with Python's protobuf plus its own checks (hello_wire_problem and _on_hello), as a Kotlin
or Swift companion would (protocol/CODEC.md, "Which codec is the contract"). SPEC.md 4.3: a Hello that does not
parse (every `error` vector, including those protobuf itself accepts, `python ok`), has session 0, or whose
firmware_version is over 31 bytes is discarded and counted as a framing error; every other one is read. The C
engine (glassbridge.protocol.link.Link, packet profile) gets the same datagrams: both ends must agree on which
Hellos exist. The expectations come from the vector file alone (made by protobuf and written from the encoding
spec, see make_message_vectors.py), never from either engine.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from glassbridge_companion.link import PyLink, hello_wire_problem
from glassbridge.protocol.glassbridge_pb2 import Hello
from glassbridge.protocol.link import Link, LinkState

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors" / "messages.txt"
OWN = 0x1234ABCD
HELLO, PING = 0x04, 0x08


@dataclass
class HelloVector:
    name: str
    input: bytes = b""
    error: str | None = None
    python_ok: bool = True
    fields: dict[str, str] = field(default_factory=dict)


def hello_vectors() -> list[HelloVector]:
    out: list[HelloVector] = []
    kind = ""
    for line in VECTORS.read_text().splitlines():
        key, _, val = line.partition(" ")
        if key == "vector":
            out.append(HelloVector(val))
        elif key == "type":
            kind = val
        elif key == "input":
            out[-1].input = bytes.fromhex(val)
        elif key == "error":
            out[-1].error = val
        elif key == "python":
            out[-1].python_ok = val == "ok"
        elif key == "field":
            name, _, value = val.partition("=")
            out[-1].fields[name] = value
        elif key == "end" and kind != "Hello":
            out.pop()
    return out


VECTORS_HELLO = hello_vectors()


def datagram(payload: bytes) -> bytes:
    """A Hello frame of the packet profile (SPEC.md 2.3), PING set: "answer me"."""
    return struct.pack("<BBHHI", HELLO | PING, 0, 0, 0, 0) + payload


def engines() -> list[Any]:
    return [PyLink(session=OWN), Link(profile="packet", session=OWN)]


def test_every_category_has_hello_vectors() -> None:
    errors = {v.error for v in VECTORS_HELLO if v.error}
    assert errors == {"TRUNCATED", "TOO_LARGE", "WIRE_TYPE", "VARINT", "FIELD", "UTF8"}
    assert sum(v.error is not None and v.python_ok for v in VECTORS_HELLO) >= 8  # what stock protobuf takes
    assert any(v.name == "hello_session_zero" and v.error is None for v in VECTORS_HELLO)


@pytest.mark.parametrize("v", [v for v in VECTORS_HELLO if v.error is not None], ids=lambda v: v.name)
def test_invalid_hello_is_a_framing_error(v: HelloVector) -> None:
    if v.python_ok:  # stock protobuf takes it: PyLink's own check is what refuses it
        Hello().ParseFromString(v.input)
    for link in engines():
        link.receive(datagram(v.input), 0)
        stats = link.stats
        assert (stats.framing_errors, stats.frames_rx) == (1, 0), type(link).__name__
        assert link.peer is None and link.state == LinkState.HANDSHAKE
        assert link.poll_events() == []


@pytest.mark.parametrize("v", [v for v in VECTORS_HELLO if v.error is None], ids=lambda v: v.name)
def test_valid_hello_is_read_unless_session_0(v: HelloVector) -> None:
    session = int(v.fields.get("session", "0"))
    assert hello_wire_problem(v.input) is None
    for link in engines():
        link.receive(datagram(v.input), 0)
        if session == 0:  # SPEC.md 4.3: a link rule, not a codec error (the codec reads it)
            assert link.stats.framing_errors == 1 and link.peer is None, type(link).__name__
            continue
        if "reject" in v.fields:  # a reject naming another peer_session is a stale one (SPEC.md 4.4 rule 1)
            assert int(v.fields.get("peer_session", "0")) != OWN
            assert (link.stats.framing_errors, link.stats.frames_rx) == (0, 0), type(link).__name__
            continue
        assert (link.stats.framing_errors, link.stats.frames_rx) == (0, 1), type(link).__name__
        peer = link.peer
        assert peer is not None and peer.session == session
        # The fields the link keeps, as the vector lists them (absent = 0).
        for name in ("protocol_version", "min_protocol_version", "max_frame", "window", "max_message",
                     "boot_counter", "capabilities"):
            assert getattr(peer, name) == int(v.fields.get(name, "0")), (type(link).__name__, name)
