"""PostgreSQL advisory lock ids: a signed 64-bit key per (key space, value), the space in the
high 32 bits and the value in the low ones (CRC-32 each). A collision only makes two holders
wait for each other; it never lets two holders of one key in at once."""

from __future__ import annotations

import zlib


def advisory_key(space: str, value: str) -> int:
    """The signed 64-bit advisory lock id of ``value`` in key space ``space``."""
    n = (zlib.crc32(space.encode()) << 32) | zlib.crc32(value.encode())
    return n - (1 << 64) if n >= 1 << 63 else n
