"""What the asyncio layer needs of a transport, and the read buffer it lends.

Any stream transport with these methods works: asyncio's own and uvloop's
(whose classes do not derive from ``asyncio.Transport``).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, runtime_checkable

from ._frame import READ_SIZE

__all__ = ["StreamTransport", "read_buffer", "stream_transport"]


@runtime_checkable
class StreamTransport(Protocol):
    """The stream transport methods the ttrpc protocols call."""

    def write(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
    def is_closing(self) -> bool: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def get_extra_info(self, name: str, default: Any = None, /) -> Any: ...


def stream_transport(transport: object) -> StreamTransport:
    """``transport`` as a StreamTransport; TypeError names what it lacks."""
    if isinstance(transport, StreamTransport):
        return transport
    raise TypeError(f"ttrpc: {type(transport).__name__} is not a stream transport")


class _Local(threading.local):
    buffer: memoryview | None = None


_local = _Local()


def read_buffer() -> memoryview:
    """The receive buffer shared by every connection of this thread.

    A BufferedProtocol's ``get_buffer`` -> ``recv_into`` -> ``buffer_updated``
    runs as one synchronous step and the sans-IO core copies what it keeps,
    so connections on one loop can take turns with one buffer instead of
    each holding ``READ_SIZE`` bytes while idle.
    """
    buf = _local.buffer
    if buf is None:
        buf = _local.buffer = memoryview(bytearray(READ_SIZE))
    return buf
