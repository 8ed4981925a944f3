"""ttrpc 1.2 streams over asyncio: the two ends of a stream and its registration.

ttrpc has no flow control on the wire, so a reader that falls behind cannot
slow its sender down without stalling every other stream on the connection
(Go's client and server do stall them). Here each stream queues what arrives
for it, up to ``STREAM_BUFFER`` bytes (one message always fits, so a single
message of up to 4 MiB is never refused) and up to ``CONNECTION_BUFFER`` bytes
over all streams of a connection; a stream whose reader lets more pile up
fails alone with RESOURCE_EXHAUSTED, and what it had queued is dropped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol

from shimtypes import TTRPCMethodContext

from ._codes import Code
from ._errors import ClosedError, TTRPCError

__all__ = [
    "CONNECTION_BUFFER",
    "STREAM_BUFFER",
    "Budget",
    "ClientStream",
    "ServerStream",
    "StreamClosedError",
    "StreamHandler",
    "StreamMethod",
]

STREAM_BUFFER: Final = 1 << 20
"""Unread bytes one stream may queue (beyond its first message)."""

CONNECTION_BUFFER: Final = 16 << 20
"""Unread stream bytes one connection may queue in total."""

_SEND_BATCH = 32
"""Messages a sender writes before it lets the event loop run (flushes the batch)."""


class StreamClosedError(TTRPCError):
    """This side already closed its sending half, or the stream has ended."""

    def __init__(self, message: str = "ttrpc: stream closed") -> None:
        super().__init__(Code.FAILED_PRECONDITION, message)


class Budget:
    """Unread stream bytes of one connection, shared by its streams."""

    __slots__ = ("used", "limit")

    def __init__(self, limit: int = CONNECTION_BUFFER) -> None:
        self.used: int = 0
        self.limit: int = limit


class _Inbox:
    """What arrived on one stream and is not read yet, with the way it ended."""

    __slots__ = ("stream_id", "_queue", "_size", "_budget", "_closed", "_error", "_waiter", "_sent", "_ended", "on_end")

    def __init__(self, stream_id: int, budget: Budget) -> None:
        self.stream_id: int = stream_id
        self._queue: deque[bytes] = deque()
        self._size = 0
        self._budget = budget
        self._closed = False  # the peer ended it cleanly (recv: None after the queue)
        self._error: BaseException | None = None  # raised by recv after the queue
        self._waiter: asyncio.Future[None] | None = None
        self._sent = 0
        self._ended: asyncio.Future[None] | None = None  # made for a blocked sender
        self.on_end: Callable[[], None] | None = None
        """Called when ``feed`` ends the stream (its last frame, or overflow)."""

    def ended_future(self) -> asyncio.Future[None]:
        """Done once the stream has ended; lets a blocked sender stop waiting."""
        fut = self._ended
        if fut is None:
            fut = self._ended = asyncio.get_running_loop().create_future()
            if self.ended:
                fut.set_result(None)
        return fut

    @property
    def ended(self) -> bool:
        """True once nothing more will arrive (cleanly or not)."""
        return self._closed or self._error is not None

    def feed(self, payload: bytes | None, last: bool) -> bool:
        """Queue a message (None: none) and/or the clean end; False if the
        stream overflowed and failed (the caller stops routing to it)."""
        if self._closed or self._error is not None:
            return False
        if payload is not None:
            n = len(payload)
            size = self._size + n
            budget = self._budget
            used = budget.used + n
            if (size > STREAM_BUFFER or used > budget.limit) and self._queue:
                self.fail(
                    TTRPCError(
                        Code.RESOURCE_EXHAUSTED,
                        f"ttrpc: stream {self.stream_id}: reader too slow, more than "
                        f"{min(STREAM_BUFFER, budget.limit)} bytes queued",
                    )
                )
                if self.on_end is not None:
                    self.on_end()
                return False
            self._queue.append(payload)
            self._size = size
            budget.used = used
        if last:
            self._closed = True
        if self._waiter is not None or self._ended is not None:
            self._wake()
        if last and self.on_end is not None:
            self.on_end()
        return True

    def feed_many(self, payloads: list[bytes]) -> bool:
        """``feed(p, False)`` for each message in turn, in one step while
        they all fit; False if the stream had ended or overflowed."""
        if self._closed or self._error is not None:
            return False
        n = sum(map(len, payloads))
        size = self._size + n
        budget = self._budget
        used = budget.used + n
        if size > STREAM_BUFFER or used > budget.limit:
            for payload in payloads:  # one of them overflows: find which
                if not self.feed(payload, False):
                    return False
            return True
        self._queue.extend(payloads)
        self._size = size
        budget.used = used
        if self._waiter is not None or self._ended is not None:
            self._wake()
        return True

    def fail(self, exc: BaseException) -> None:
        """End the stream with ``exc``: queued messages are dropped."""
        if self._error is not None:
            return
        self._budget.used -= self._size
        self._queue.clear()
        self._size = 0
        self._closed = False
        self._error = exc
        self._wake()

    def finish(self, exc: BaseException) -> None:
        """End the stream with ``exc`` after its queued messages, unless it has ended."""
        if not self._closed and self._error is None:
            self._error = exc
            self._wake()

    def _wake(self) -> None:
        ended = self._ended
        if ended is not None and not ended.done() and self.ended:
            ended.set_result(None)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def recv(self) -> bytes | None:
        """The next message; None once the peer closed its side cleanly."""
        while True:
            queue = self._queue
            if queue:
                payload = queue.popleft()
                n = len(payload)
                self._size -= n
                self._budget.used -= n
                return payload
            if self._closed:
                return None
            if self._error is not None:
                raise self._error
            waiter = self._waiter
            if waiter is None:
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter

    async def wait(self) -> bool:
        """Wait while nothing is queued; True at the clean end (raises the
        error of an unclean one), False once a message is queued."""
        while not self._queue:
            if self._closed:
                return True
            if self._error is not None:
                raise self._error
            waiter = self._waiter
            if waiter is None:
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter
        return False

    async def messages(self) -> AsyncIterator[bytes]:
        """``recv`` until the clean end, without a coroutine per queued message."""
        queue = self._queue
        budget = self._budget
        while True:
            if queue:
                payload = queue.popleft()
                n = len(payload)
                self._size -= n
                budget.used -= n
                yield payload
                continue
            if self._closed:
                return
            if self._error is not None:
                raise self._error
            waiter = self._waiter
            if waiter is None:
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter

    def discard(self) -> None:
        """Drop what is queued (the reader went away)."""
        self._budget.used -= self._size
        self._queue.clear()
        self._size = 0


class StreamSink(Protocol):
    """The connection under a stream: writes its frames, waits for the peer to read."""

    @property
    def lost(self) -> bool: ...

    def write_data(self, stream_id: int, payload: bytes | None, close: bool) -> bool:
        """Write (or batch) one Data frame; True if the sender must wait (``writable``)."""
        ...

    async def writable(self, inbox: _Inbox) -> None:
        """Return once the transport takes writes again (or ``inbox`` ended)."""
        ...


class _End:
    """The sending half both stream ends share."""

    __slots__ = ()

    async def _send(self, sink: StreamSink, inbox: _Inbox, payload: bytes | None, close: bool) -> None:
        if sink.lost:
            raise ClosedError()
        if sink.write_data(inbox.stream_id, payload, close):
            await sink.writable(inbox)
        else:
            inbox._sent += 1
            if inbox._sent % _SEND_BATCH == 0:
                await asyncio.sleep(0)  # let the batch go out and others run


class ServerStream(_End):
    """The server's end of one stream, as a StreamMethod handler receives it.

    ``recv`` (or ``async for``) yields the client's messages: for a method
    that is not client-streaming, just the request. ``send`` writes one
    message to the client (server-streaming methods only).
    """

    __slots__ = ("_sink", "_inbox", "_sends")

    def __init__(self, sink: StreamSink, stream_id: int, budget: Budget, sends: bool) -> None:
        self._sink = sink
        self._inbox = _Inbox(stream_id, budget)
        self._sends = sends

    @property
    def stream_id(self) -> int:
        return self._inbox.stream_id

    async def recv(self) -> bytes | None:
        """The client's next message; None once it has closed its side."""
        return await self._inbox.recv()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inbox.messages()

    async def send(self, payload: bytes) -> None:
        """Send one message; waits while the client is not reading."""
        if not self._sends:
            raise StreamClosedError("ttrpc: method is not server-streaming; return the response instead")
        await self._send(self._sink, self._inbox, payload, False)


StreamHandler = Callable[[TTRPCMethodContext, ServerStream], Awaitable[bytes | None]]
"""A raw streaming method: reads and writes on the stream, then returns the
final response (client-streaming only) or None."""


@dataclass(frozen=True, slots=True)
class StreamMethod:
    """A streaming method to register beside unary ones in ``Server.register_service``.

    The kind comes from here, not from the client's request flags (as in Go).
    A server-streaming handler ends the stream by returning (None, or a last
    message); any other handler's return value is the Response payload.
    """

    handler: StreamHandler
    client_streaming: bool
    server_streaming: bool


class ClientStream(_End):
    """The client's end of one stream; make one with ``Client.open_stream``.

    ``recv`` (or ``async for``) yields the server's messages and, for a
    method that is not server-streaming, its one Response payload; None (the
    end of iteration) once the server has ended the stream. An error status
    raises TTRPCError after the messages before it are read.
    """

    __slots__ = ("_sink", "_inbox", "_closed_send", "_forget", "_timer")

    def __init__(
        self,
        sink: StreamSink,
        stream_id: int,
        budget: Budget,
        client_streaming: bool,
        forget: Callable[[int], None],
    ) -> None:
        self._sink = sink
        self._inbox = _Inbox(stream_id, budget)
        self._closed_send = not client_streaming
        self._forget = forget
        self._timer: asyncio.TimerHandle | None = None

    @property
    def stream_id(self) -> int:
        return self._inbox.stream_id

    @property
    def done(self) -> bool:
        """True once the server ended the stream, or it failed or was cancelled."""
        return self._inbox.ended

    async def send(self, payload: bytes) -> None:
        """Send one message; waits while the server is not reading (bounded by
        the stream's timeout). Raises StreamClosedError after ``close_send``,
        for a stream that is not client-streaming, or once the server has
        ended the stream; the stream's error if it failed."""
        if self._closed_send:
            raise StreamClosedError()
        self._raise_failure()
        if self._inbox._closed:
            # The server ended the stream: Data now would reach no handler
            # (and makes a Go 1.2.0-1.2.7 server panic).
            raise StreamClosedError("ttrpc: stream ended by the server")
        await self._send(self._sink, self._inbox, payload, False)
        self._raise_failure()

    async def close_send(self) -> None:
        """Tell the server this side sends nothing more (Go: CloseSend)."""
        if self._closed_send:
            raise StreamClosedError()
        self._closed_send = True
        if not self._sink.lost and not self._inbox.ended:
            await self._send(self._sink, self._inbox, None, True)

    async def recv(self) -> bytes | None:
        """The server's next message; None once it has ended the stream."""
        return await self._inbox.recv()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inbox.messages()

    def cancel(self) -> None:
        """Stop reading here: later frames are dropped and ``recv`` raises
        CANCELLED. The wire has no cancel frame; the server's handler runs on."""
        if not self._inbox.ended:
            self._inbox.fail(TTRPCError(Code.CANCELLED, "context canceled"))
        self._closed_send = True
        self._release()

    async def __aenter__(self) -> ClientStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._inbox.ended:
            self.cancel()

    # -- called by the connection ------------------------------------------

    def _raise_failure(self) -> None:
        error = self._inbox._error
        if error is not None:
            raise error

    def _deliver(self, payload: bytes | None, last: bool) -> None:
        if not self._inbox.feed(payload, last) or last:
            self._release()

    def _fail(self, exc: BaseException, *, after_queued: bool = False) -> None:
        if after_queued:
            self._inbox.finish(exc)
        else:
            self._inbox.fail(exc)
        self._release()

    def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._forget(self._inbox.stream_id)
