"""The ttrpc frame: a 10-byte big-endian header, then ``length`` data bytes."""

from __future__ import annotations

import enum
import struct
from typing import Final

__all__ = [
    "FLAG_NO_DATA",
    "FLAG_REMOTE_CLOSED",
    "FLAG_REMOTE_OPEN",
    "HEADER",
    "HEADER_SIZE",
    "MAX_MESSAGE",
    "MAX_STREAM_ID",
    "READ_SIZE",
    "MessageType",
]

HEADER: Final = struct.Struct(">IIBB")
"""length (data only), stream id, message type, flags."""

HEADER_SIZE: Final = HEADER.size

MAX_MESSAGE: Final = 4 << 20
"""Largest data length Go ttrpc accepts (exactly 4 MiB is fine)."""

MAX_STREAM_ID: Final = 0xFFFFFFFF

READ_SIZE: Final = 128 * 1024
"""Receive buffer the asyncio layer reads into (one per thread, shared)."""

FLAG_REMOTE_CLOSED: Final = 0x01
"""Request or Data (1.2): the sender sends nothing more on this stream."""
FLAG_REMOTE_OPEN: Final = 0x02
"""Request (1.2): Data frames from the client follow."""
FLAG_NO_DATA: Final = 0x04
"""Data (1.2): the frame carries no message (only its flags count)."""


class MessageType(enum.IntEnum):
    """The frame types of the header's third field."""

    REQUEST = 1
    RESPONSE = 2
    DATA = 3
    """ttrpc 1.2 streaming: one message of a stream; 1.1.1 ignores it."""
