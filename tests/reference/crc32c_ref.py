"""CRC-32C computed bit by bit from its definition: the independent reference for the C table-driven CRC.

Castagnoli polynomial 0x1EDC6F41, used reflected (0x82F63B78) as iSCSI and ext4 do; initial value and final XOR
0xFFFFFFFF. Check value: crc32c(b"123456789") == 0xE3069283.
"""

from __future__ import annotations

POLY_REFLECTED = 0x82F63B78


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C of data, chained like zlib.crc32: crc32c(b, crc32c(a)) == crc32c(a + b)."""
    c = crc ^ 0xFFFFFFFF
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = (c >> 1) ^ (POLY_REFLECTED if c & 1 else 0)
    return c ^ 0xFFFFFFFF
