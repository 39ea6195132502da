#!/usr/bin/env python3
"""Writes the seed inputs of fuzz_packet (protocol/c/fuzz/corpus_packet/): short peer scripts in its input
language (see fuzz_packet.c), so the fuzzer starts from runs that deliver messages both ways, lose frames, time
out, restart the peer and cross the 32-bit clock wrap, plus the packet transcript's datagrams in "lying" mode.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CORPUS = Path(__file__).resolve().parent / "corpus_packet"  # the Makefile reads corpus_<target without fuzz_>

sys.path.insert(0, str(ROOT / "protocol" / "tools"))
from vector_file import records  # noqa: E402 - after the path that makes it importable

# Operations (fuzz_packet.c: op byte % 9, then its argument byte).
FRAGMENT, RUN, RAW, WAIT, SEND, ACK, LOSE, RESTART, HELLO = range(9)
LYING, WRAP = 0x80, 0x40


def config(flags: int = 0, window: int = 15, frame_step: int = 3, message_step: int = 20) -> bytes:
    """First 4 bytes: mode flags (+ queue size), window - 1, max_frame = 128 + 56 x step,
    max_message = 32 + 32 x step."""
    return bytes([flags, window, frame_step, message_step])


def ops(*pairs: tuple[int, int]) -> bytes:
    return b"".join(bytes(p) for p in pairs)


def send(channel: int, size_byte: int) -> bytes:
    return bytes([SEND, channel, size_byte])


def exchange() -> bytes:
    """The peer sends runs of fragments, the application sends, acknowledgements and time go by."""
    return (
        ops((RUN, 0xF6), (ACK, 0), (WAIT, 3))
        + send(1, 100)
        + send(3, 250)
        + ops((WAIT, 4), (ACK, 0), (RUN, 0x2F), (WAIT, 5), (FRAGMENT, 5), (ACK, 1), (WAIT, 3), (ACK, 0))
    )


def seeds() -> dict[str, bytes]:
    s: dict[str, bytes] = {}
    s["exchange"] = config() + exchange() * 3
    s["small_window_small_frames"] = config(window=0, frame_step=0, message_step=2) + exchange() * 3
    s["lossy"] = config() + send(2, 200) + ops((LOSE, 2), (WAIT, 5), (RUN, 0x34), (WAIT, 6), (ACK, 0)) + exchange()
    s["link_down_and_back"] = config() + send(1, 90) + ops((WAIT, 7), (HELLO, 1), (ACK, 0)) + exchange()
    s["peer_restart"] = config() + exchange() + send(1, 50) + ops((RESTART, 0)) + exchange()
    s["clock_wrap"] = config(WRAP) + exchange() + ops((WAIT, 6), (WAIT, 6)) + exchange()
    steps = records(ROOT / "protocol" / "vectors" / "transcript_packet.txt")
    ins = [bytes.fromhex(r["in"]) for r in steps if "in" in r]
    s["lying_transcript"] = config(LYING, window=7, frame_step=2) + b"".join(
        bytes([RAW, len(d)]) + d + ops((WAIT, 3)) for d in ins if len(d) < 256
    )
    return s


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for name, data in seeds().items():
        (CORPUS / f"{name}-{hashlib.sha1(data).hexdigest()[:8]}").write_bytes(data)


if __name__ == "__main__":
    main()
