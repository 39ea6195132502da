"""PyLink (the pure-Python packet-profile link) against protocol/vectors/.

- every packet-profile frame of frames.txt: PyLink's header layout (glassbridge_companion.link.HEADER) packs and
  parses it, and a PyLink that is UP accepts each one as valid (no framing error);
- every Hello of hello.txt parses as SPEC.md 4.3 says (through a PyLink receiving it in a frame), and the Hellos
  PyLink builds equal the vectors' protobuf bytes;
- transcript_packet.txt replays byte for byte, as tests/conformance/test_frame_vectors.py replays the C engine.
The vectors were written from SPEC.md by protocol/tools/make_frame_vectors.py, not by either engine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from glassbridge_companion.link import HEADER, PyLink, initial_sequence
from glassbridge.protocol.glassbridge_pb2 import Hello
from glassbridge.protocol.link import LinkState, Role, VersionMismatch
from protocol.tools import vector_file
from tests.conformance import transcripts

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def records(name: str) -> list[dict[str, str]]:
    return vector_file.records(VECTORS / name)


PACKET_FRAMES = [r for r in records("frames.txt") if r["profile"] == "packet"]
HELLOS = records("hello.txt")


def test_there_are_packet_vectors() -> None:
    assert len(PACKET_FRAMES) >= 8 and len(HELLOS) >= 4


@pytest.mark.parametrize("rec", PACKET_FRAMES, ids=lambda r: r["name"])
def test_packet_frame_layout(rec: dict[str, str]) -> None:
    fields = tuple(int(rec[k]) for k in ("flags", "channel", "seq", "ack", "sack"))
    payload, raw, wire = bytes.fromhex(rec["payload"]), bytes.fromhex(rec["raw"]), bytes.fromhex(rec["wire"])
    assert raw == wire  # packet profile: the datagram is the frame
    assert HEADER.pack(*fields) + payload == raw
    assert HEADER.unpack_from(raw) == fields and raw[HEADER.size :] == payload


def up_pair_peer(session: int = 0x1234ABCD, peer: int = 0x5EED0001) -> PyLink:
    """A PyLink brought UP by a scripted peer's Hellos (the transcript's first steps, built with protobuf)."""
    link = PyLink(session=session, max_frame=1024, window=32)
    assert link.poll_tx(0) is not None
    h = Hello(protocol_version=1, min_protocol_version=1, session=peer, peer_session=session, max_frame=1024,
              window=32, max_message=4096)
    link.receive(HEADER.pack(0x04, 0, 0, 0, 0) + h.SerializeToString(), 1)
    assert link.state == LinkState.UP
    return link


@pytest.mark.parametrize("rec", PACKET_FRAMES, ids=lambda r: r["name"])
def test_packet_frame_accepted(rec: dict[str, str]) -> None:
    """Every vector frame is valid input: never a framing error (Hellos of another peer are parsed too)."""
    link = up_pair_peer()
    link.receive(bytes.fromhex(rec["wire"]), 2)
    assert link.stats.framing_errors == 0
    assert link.stats.frames_rx == 2


@pytest.mark.parametrize("rec", HELLOS, ids=lambda r: r["name"])
def test_hello_vector_parses(rec: dict[str, str]) -> None:
    """PyLink records the Hello's fields as its peer (or, for a reject, reports the mismatch)."""
    own = 0x0BADCAFE
    link = PyLink(session=own)
    payload = bytes.fromhex(rec["payload"])
    if rec["reject"] == "1":
        # A reject is heard only when addressed to us (rule 1): readdress it, keep every other byte.
        h = Hello()
        h.ParseFromString(payload)
        h.peer_session = own
        payload = h.SerializeToString()
    link.receive(HEADER.pack(0x0C, 0, 0, 0, 0) + payload, 0)
    assert link.stats.framing_errors == 0
    peer = link.peer
    assert peer is not None
    want = {k: int(rec[k]) for k in ("protocol_version", "min_protocol_version", "session", "boot_counter",
                                      "max_frame", "window", "capabilities", "role", "max_message")}
    got = {k: int(getattr(peer, k)) for k in want}
    assert got == want
    assert peer.firmware_version == rec["firmware_version"]
    compatible = int(rec["min_protocol_version"]) <= 1 <= int(rec["protocol_version"]) and rec["reject"] == "0"
    events = link.poll_events()
    if compatible:
        assert link.state == LinkState.HANDSHAKE and events == []
    else:
        assert link.state == LinkState.INCOMPATIBLE and [type(e) for e in events] == [VersionMismatch]


@pytest.mark.parametrize("rec", [r for r in HELLOS if r["reject"] == "0" and r["protocol_version"] == "1"],
                         ids=lambda r: r["name"])
def test_hello_vector_built(rec: dict[str, str]) -> None:
    """The Hello PyLink sends equals the vector's protobuf bytes for the same fields (peer_session included)."""
    link = PyLink(session=int(rec["session"]), role=Role(int(rec["role"])), boot_counter=int(rec["boot_counter"]),
                  capabilities=int(rec["capabilities"]), firmware_version=rec["firmware_version"],
                  max_frame=int(rec["max_frame"]), window=int(rec["window"]), max_message=int(rec["max_message"]))
    peer_session = int(rec["peer_session"])
    if peer_session:
        # Learn the peer from its Hello, so ours carries peer_session as the vector does.
        h = Hello(protocol_version=1, min_protocol_version=1, session=peer_session, max_frame=128, window=1,
                  max_message=1)
        link.receive(HEADER.pack(0x0C, 0, 0, 0, 0) + h.SerializeToString(), 0)
    frame = link.poll_tx(0)
    assert frame is not None
    assert HEADER.unpack_from(frame) == (0x0C, 0, 0, 0, 0)  # HELLO | PING: not UP, "answer me"
    assert frame[HEADER.size :] == bytes.fromhex(rec["payload"])


def test_isn_example() -> None:
    assert initial_sequence(0x1234ABCD, 0x5EED0001) == 0xE715  # SPEC.md 5.1


def test_transcript_packet() -> None:
    steps = records("transcript_packet.txt")
    assert steps[0]["profile"] == "packet"
    link = PyLink(**transcripts.link_options(steps[0]))
    assert transcripts.replay(link, "transcript_packet.txt", steps) == sum(1 for s in steps if "out" in s) > 0
    assert link.stats.framing_errors == 0
