"""The transport side both connection protocols share: what they need of a
transport, the read buffer they take turns with, and batched writes.

Any stream transport with these methods works: asyncio's own and uvloop's
(whose classes do not derive from ``asyncio.Transport``).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Final, Protocol, runtime_checkable

from ._frame import READ_SIZE

__all__ = ["BATCH_LIMIT", "FrameProtocol", "StreamTransport", "read_buffer", "stream_transport"]

BATCH_LIMIT: Final = 64 * 1024
"""Bytes of held frames after which a batch is written out early."""


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


class FrameProtocol(asyncio.BufferedProtocol):
    """A connection that reads into the shared buffer and writes frames.

    A frame is written at once unless a batch is open; then frames are held
    and go out in one write when the batch is flushed (at the end of the loop
    turn that opened it, or early once ``BATCH_LIMIT`` bytes are held, so the
    transport can push back on a large run at once).
    """

    __slots__ = ("transport", "lost", "batching", "out", "_out_size", "loop")

    def __init__(self) -> None:
        self.transport: StreamTransport | None = None
        self.lost: bool = False
        """The connection is gone (connection_lost ran, or it was refused)."""
        self.batching: bool = False
        self.out: list[bytes] = []
        self._out_size = 0
        self.loop: asyncio.AbstractEventLoop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = stream_transport(transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return read_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(read_buffer()[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        raise NotImplementedError

    def write(self, frame: bytes) -> None:
        """Write a frame now, or hold it in the open batch."""
        if self.lost or self.transport is None:
            return
        if self.batching:
            self.out.append(frame)
            self._out_size += len(frame)
            if self._out_size >= BATCH_LIMIT:
                self.flush()
        else:
            self.transport.write(frame)

    def open_batch(self) -> bool:
        """Hold writes from now on; False if a batch is open already. The
        caller schedules ``flush`` (after whatever should join the batch)."""
        if self.batching:
            return False
        self.batching = True
        return True

    def batch(self) -> None:
        """Hold writes until the end of this loop turn (a run of stream messages)."""
        if not self.batching:
            self.batching = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write what the batch holds in one write and close the batch."""
        self.batching = False
        self._out_size = 0
        out = self.out
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            if not self.lost and self.transport is not None:
                self.transport.write(data)
