"""The ttrpc frame: a 10-byte big-endian header, then ``length`` data bytes."""

from __future__ import annotations

import enum
import struct
from typing import Final

__all__ = ["HEADER", "HEADER_SIZE", "MAX_MESSAGE", "MAX_STREAM_ID", "READ_SIZE", "MessageType"]

HEADER: Final = struct.Struct(">IIBB")
"""length (data only), stream id, message type, flags."""

HEADER_SIZE: Final = HEADER.size

MAX_MESSAGE: Final = 4 << 20
"""Largest data length Go ttrpc accepts (exactly 4 MiB is fine)."""

MAX_STREAM_ID: Final = 0xFFFFFFFF

READ_SIZE: Final = 128 * 1024
"""Per-connection receive buffer the asyncio layer reads into."""


class MessageType(enum.IntEnum):
    """The frame types of the header's third field."""

    REQUEST = 1
    RESPONSE = 2
    DATA = 3  # ttrpc 1.2 streaming; 1.1.1 ignores it and so do we.
