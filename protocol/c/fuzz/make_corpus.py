#!/usr/bin/env python3
"""Writes the seed inputs of fuzz_frame (protocol/c/fuzz/corpus_frame/) from protocol/vectors/.

Each seed is one mode byte (see fuzz_frame.c) followed by data built from the golden frames, so the fuzzer starts
from inputs that reach deep into the engine: valid frames, a whole transcript, datagrams with length prefixes.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "protocol" / "vectors"
CORPUS = Path(__file__).resolve().parent / "corpus_frame"  # the Makefile reads corpus_<target>


sys.path.insert(0, str(ROOT / "protocol" / "tools"))
from vector_file import records as _records  # noqa: E402 - after the path that makes it importable


def records(name: str) -> list[dict[str, str]]:
    return _records(VECTORS / name)


def seeds() -> dict[str, bytes]:
    s: dict[str, bytes] = {}
    frames = records("frames.txt")
    uart = [bytes.fromhex(r["wire"]) for r in frames if r["profile"] == "uart"]
    packet = [bytes.fromhex(r["wire"]) for r in frames if r["profile"] == "packet"]
    s["uart_frames"] = b"\x00" + b"".join(uart)
    s["packet_frames"] = b"\x01" + b"".join(bytes([len(p)]) + p for p in packet if len(p) < 256)
    # Structured mode: the raw UART frame without its CRC, length-prefixed.
    s["uart_structured"] = b"\x02" + b"".join(
        bytes([len(r) - 4]) + r[:-4] for r in (bytes.fromhex(x["raw"]) for x in frames if x["profile"] == "uart")
        if len(r) - 4 < 256
    )
    for profile, mode in (("uart", b"\x00"), ("packet", b"\x01")):
        steps = records(f"transcript_{profile}.txt")
        ins = [bytes.fromhex(r["in"]) for r in steps if "in" in r]
        if profile == "uart":
            s[f"transcript_{profile}"] = mode + b"".join(ins)
        else:
            s[f"transcript_{profile}"] = mode + b"".join(bytes([len(p)]) + p for p in ins if len(p) < 256)
    for r in records("cobs.txt"):
        s[f"cobs_{r['name']}"] = b"\x03" + bytes.fromhex(r["encoded"]) + b"\x00"
    for r in records("hello.txt"):
        s[f"hello_{r['name']}"] = b"\x03" + bytes.fromhex(r["payload"])
    return s


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for name, data in seeds().items():
        (CORPUS / f"{name}-{hashlib.sha1(data).hexdigest()[:8]}").write_bytes(data)


if __name__ == "__main__":
    main()
