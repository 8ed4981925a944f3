"""Raw ttrpc frames for byte-level tests: building them, and one connection's replies collected raw."""

from __future__ import annotations

import asyncio
import struct

__all__ = ["DATA", "HEADER", "REQUEST", "RESPONSE", "exchange", "frame"]

HEADER = struct.Struct(">IIBB")
REQUEST, RESPONSE, DATA = 1, 2, 3


def frame(stream_id: int, data: bytes, mtype: int = REQUEST, flags: int = 0) -> bytes:
    return HEADER.pack(len(data), stream_id, mtype, flags) + data


async def exchange(target: str, cases: list[tuple[str, bytes, int]]) -> dict[str, list[bytes]]:
    """Send each case's bytes in turn on one connection; collect its reply frames raw."""
    reader, writer = await asyncio.open_unix_connection("\0" + target[1:] if target.startswith("@") else target)
    got: dict[str, list[bytes]] = {}
    try:
        for name, data, replies in cases:
            writer.write(data)
            await writer.drain()
            frames = []
            for _ in range(replies):
                head = await asyncio.wait_for(reader.readexactly(HEADER.size), 10)
                length = HEADER.unpack(head)[0]
                frames.append(head + await asyncio.wait_for(reader.readexactly(length), 10))
            got[name] = frames
    finally:
        writer.close()
    return got
