"""COBS as Cheshire and Baker's paper describes it ("Consistent Overhead Byte Stuffing", IEEE/ACM ToN 1999):
the independent reference for the C encoder and decoder.

Encoding: the data, with a zero appended, is cut after every zero and after every run of 254 non-zero bytes;
each piece becomes a code byte (1 + its non-zero bytes) followed by those bytes; the code 0xFF marks a piece
that did not end in a zero. Decoding reverses it and drops the appended zero. The encoding never contains 0x00,
so 0x00 can delimit frames.
"""

from __future__ import annotations


class CobsError(ValueError):
    """Bytes that are not a COBS encoding."""


def encode(data: bytes) -> bytes:
    out = bytearray()
    block = bytearray()
    for byte in data + b"\x00":
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(0xFF)
                out += block
                block.clear()
    # The appended zero always closes a piece, so a final run of exactly 254 is followed by the block 0x01.
    return bytes(out)


def decode(encoded: bytes) -> bytes:
    """Also accepts the common variant that leaves out the final 0x01 block after a 0xFF block."""
    if not encoded:
        raise CobsError("empty input: a COBS encoding has at least one byte")
    out = bytearray()
    i = 0
    while i < len(encoded):
        code = encoded[i]
        if code == 0:
            raise CobsError(f"0x00 code byte at offset {i}")
        block = encoded[i + 1 : i + code]
        if len(block) != code - 1:
            raise CobsError(f"code {code} at offset {i} runs past the end ({len(encoded)} bytes)")
        if 0 in block:
            raise CobsError(f"0x00 inside the block at offset {i}")
        out += block
        i += code
        if code != 0xFF:
            out.append(0)
    # Drop the zero the encoder appended (absent only in the short variant ending with a 0xFF block).
    if encoded_ends_with_short_block(encoded):
        out.pop()
    return bytes(out)


def encoded_ends_with_short_block(encoded: bytes) -> bool:
    """True when the last block has a code below 0xFF (its implied zero is the appended one)."""
    i = last = 0
    while i < len(encoded):
        last = encoded[i]
        i += max(last, 1)
    return last != 0xFF
