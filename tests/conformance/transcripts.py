"""Replaying protocol/vectors/transcript_*.txt against any implementation of the link (SPEC.md 15).

Both the C engine (`glassbridge.protocol.link.Link`) and the companion's pure-Python `PyLink` must reproduce every
frame of a transcript byte for byte at the recorded times, raise the recorded events and hold the recorded number of
pending messages. The file format is protocol/vectors/README.md's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glassbridge.protocol.link import LinkDown, LinkUp, MessageReceived, PeerReset, Role, VersionMismatch
from protocol.tools import vector_file

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def records(name: str) -> list[dict[str, str]]:
    """protocol/vectors/README.md: one record per line, `key=value` tokens, `#` comments."""
    return vector_file.records(VECTORS / name)


def event_name(ev: object) -> str:
    return {MessageReceived: "message", LinkUp: "link_up", LinkDown: "link_down", PeerReset: "peer_reset",
            VersionMismatch: "version_mismatch"}[type(ev)]


def link_options(config: dict[str, str]) -> dict[str, Any]:
    """The Link/PyLink keyword arguments of a transcript's first (config) record."""
    assert "config" in config, config
    return {"session": int(config["session"]), "role": Role(int(config["role"])),
            "max_frame": int(config["max_frame"]), "window": int(config["window"]),
            "max_message": int(config["max_message"]), "tx_queue_bytes": int(config["tx_queue_bytes"]),
            "firmware_version": config["firmware_version"]}


def replay(link: Any, name: str, steps: list[dict[str, str]]) -> int:
    """Drives `link` through the transcript's records after the config; returns how many frames it compared.

    Where the transcript says nothing is due (`quiet`), next_deadline must not claim work is due now either.
    """
    pending: list[object] = []
    checked = 0
    for i, step in enumerate(steps[1:], start=2):
        t = int(step["t"])
        where = f"{name} record {i}: {step}"
        if "in" in step:
            link.receive(bytes.fromhex(step["in"]), t)
        elif "out" in step:
            got = link.poll_tx(t)
            assert got is not None and got.hex() == step["out"], where
            checked += 1
        elif "quiet" in step:
            assert link.poll_tx(t) is None, where
            assert link.next_deadline(t) > t, where
        elif "send" in step:
            link.send(int(step["send"]), bytes.fromhex(step["data"]), t)
        elif "event" in step:
            if not pending:
                pending = list(link.poll_events())
            assert pending, where
            ev = pending.pop(0)
            assert event_name(ev) == step["event"], where
            if isinstance(ev, MessageReceived):
                assert ev.channel == int(step["channel"]) and ev.data == bytes.fromhex(step["data"]), where
            if "peer_session" in step:
                assert isinstance(ev, (LinkUp, PeerReset)) and ev.peer.session == int(step["peer_session"]), where
            if "dropped" in step:
                assert isinstance(ev, PeerReset) and ev.dropped == int(step["dropped"]), where
        if "pending" in step:
            assert link.tx_pending == int(step["pending"]), where
    assert not pending and not link.poll_events()
    return checked
