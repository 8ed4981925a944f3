"""The protobuf varint, shared by the ttrpc wire encoders and the shim's ``delete``.

Dependency-free on purpose: ``delete`` imports it without asyncio, typing or
protobuf, and the ttrpc hot path uses the precomputed one-byte table.
"""

__all__ = ["SMALL", "varint"]

SMALL = [bytes((i,)) for i in range(128)]
"""``varint(i)`` for ``0 <= i < 128``, without building a new object."""


def varint(n: int) -> bytes:
    """Protobuf varint; negative numbers as 64-bit two's complement (10 bytes)."""
    if 0 <= n < 128:
        return SMALL[n]
    if n < 0:
        n &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
