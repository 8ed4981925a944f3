"""asyncio ttrpc client: many concurrent calls multiplexed on one connection.

Ids are allocated and the frame written in one synchronous step (no await in
between), which on the event loop is the "one lock": frames go out in
increasing id order, as ttrpc 1.2 servers require.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._codes import Code
from ._connection import ClientConnection
from ._errors import DEADLINE_MESSAGE, ClosedError, LocalProtocolError, MessageTooLargeError, TTRPCError
from ._events import BadResponse, DataReceived, MessageTooLarge, ResponseReceived
from ._frame import FLAG_REMOTE_CLOSED, FLAG_REMOTE_OPEN
from ._stream import Budget, ClientStream, _Inbox
from ._transport import FrameProtocol
from ._unix import sockaddr

__all__ = ["Client", "Metadata"]

log = logging.getLogger("impl.ttrpc")

Metadata = Mapping[str, str | Sequence[str]]

_INT64_MAX = 2**63 - 1


def _metadata_pairs(metadata: Metadata) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in metadata.items():
        key = key.lower()
        if isinstance(value, str):
            pairs.append((key, value))
        else:
            pairs.extend((key, v) for v in value)
    return pairs


def _timeout_nano(timeout: float | None) -> int:
    """timeout_nano for a timeout in seconds: 0 (none) for None or infinity."""
    if timeout is None:
        return 0
    if timeout != timeout:
        raise ValueError("ttrpc: timeout is NaN, not a number of seconds")
    if timeout == math.inf:
        return 0
    # 0 on the wire means "no deadline", so never send it for a timeout;
    # clamp as floats first (int(-inf) raises).
    ns = int(max(-1e19, min(timeout * 1e9, 1e19))) or (1 if timeout > 0 else -1)
    return max(min(ns, _INT64_MAX), -_INT64_MAX)


class Client:
    """A connected ttrpc client; make one with ``await Client.connect(...)``."""

    __slots__ = ("_proto", "_loop")

    def __init__(self, proto: _ClientProtocol, loop: asyncio.AbstractEventLoop) -> None:
        self._proto = proto
        self._loop = loop

    @classmethod
    async def connect(
        cls,
        target: str | os.PathLike[str] | socket.socket,
        *,
        on_close: Callable[[], None] | None = None,
    ) -> Client:
        """Connect to a path, an ``@abstract`` name, or adopt a connected socket.

        ``on_close`` runs exactly once when the connection ends, whether by
        ``close()`` or because the server went away.
        """
        loop = asyncio.get_running_loop()

        def factory() -> _ClientProtocol:
            return _ClientProtocol(on_close)

        if isinstance(target, socket.socket):
            _, proto = await loop.create_unix_connection(factory, sock=target)
        else:
            addr = sockaddr(os.fspath(target))
            if addr.startswith("\0"):
                # Connected here: uvloop takes no abstract name as a path.
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.setblocking(False)
                    await loop.sock_connect(sock, addr)
                except BaseException:
                    sock.close()
                    raise
                _, proto = await loop.create_unix_connection(factory, sock=sock)
            else:
                _, proto = await loop.create_unix_connection(factory, addr)
        return cls(proto, loop)

    @property
    def closed(self) -> bool:
        """True once the connection has ended (on_close has run)."""
        return self._proto.lost

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def call(
        self,
        service: str,
        method: str,
        payload: bytes,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> bytes:
        """One unary call; returns the response payload.

        Raises TTRPCError for a non-OK status (DEADLINE_EXCEEDED locally when
        ``timeout`` seconds pass, even if the peer is not reading; a late reply
        is dropped), RESOURCE_EXHAUSTED locally for a request over 4 MiB,
        INVALID_ARGUMENT locally for a string that is not UTF-8, ClosedError
        if the connection ends; ValueError for a NaN timeout.
        """
        proto = self._proto
        if proto.lost or proto.closing or proto.transport is None:
            raise ClosedError()
        ns = 0
        if timeout is not None:
            ns = _timeout_nano(timeout)
            if timeout == math.inf:
                timeout = None
        pairs = _metadata_pairs(metadata) if metadata else ()
        try:
            sid, frame = proto.conn.send_request(service, method, payload, ns, pairs)
        except MessageTooLargeError as exc:
            raise TTRPCError(Code.RESOURCE_EXHAUSTED, str(exc)) from None
        except LocalProtocolError as exc:
            # A string protobuf cannot carry is the caller's bad argument; the
            # other local refusal is running out of stream ids.
            bad_arg = isinstance(exc.__cause__, UnicodeError)
            code = Code.INVALID_ARGUMENT if bad_arg else Code.RESOURCE_EXHAUSTED
            raise TTRPCError(code, str(exc)) from None
        fut: asyncio.Future[bytes] = self._loop.create_future()
        pending = proto.pending
        pending[sid] = fut
        proto.write(frame)
        if timeout is None and not proto.paused:
            # The common case: a reply pops its own entry, so only a failure
            # or a cancellation here has one to remove.
            try:
                return await fut
            except BaseException:
                pending.pop(sid, None)
                raise
        handle = None
        if timeout is not None:
            handle = self._loop.call_later(timeout if timeout > 0 else 0, proto.expire, sid)
        try:
            if proto.paused:
                await proto.drain(fut)
            return await fut
        finally:
            if handle is not None:
                handle.cancel()
            pending.pop(sid, None)

    async def open_stream(
        self,
        service: str,
        method: str,
        payload: bytes = b"",
        *,
        client_streaming: bool = True,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> ClientStream:
        """Open a ttrpc 1.2 stream: a Request flagged remote-open (the client
        sends Data next, then ``close_send``) or, with ``client_streaming=False``,
        remote-closed with ``payload`` as the one request message.

        ``timeout`` bounds the whole stream: after it, ``recv`` and ``send``
        raise DEADLINE_EXCEEDED (the server is told the deadline too). Raises
        like ``call`` for what cannot be sent; ClosedError if the connection is gone.
        """
        proto = self._proto
        if proto.lost or proto.closing or proto.transport is None:
            raise ClosedError()
        ns = _timeout_nano(timeout)
        if timeout == math.inf:
            timeout = None
        pairs = _metadata_pairs(metadata) if metadata else ()
        flags = FLAG_REMOTE_OPEN if client_streaming else FLAG_REMOTE_CLOSED
        try:
            sid, frame = proto.conn.send_request(service, method, payload, ns, pairs, flags)
        except MessageTooLargeError as exc:
            raise TTRPCError(Code.RESOURCE_EXHAUSTED, str(exc)) from None
        except LocalProtocolError as exc:
            bad_arg = isinstance(exc.__cause__, UnicodeError)
            raise TTRPCError(Code.INVALID_ARGUMENT if bad_arg else Code.RESOURCE_EXHAUSTED, str(exc)) from None
        stream = ClientStream(proto, sid, proto.budget, client_streaming, proto.forget)
        proto.streams[sid] = stream
        # Its Data goes from the frame reader straight to the inbox.
        stream._inbox.on_end = stream._release
        proto.conn.route(sid, stream._inbox)
        proto.write(frame)
        if timeout is not None:
            stream._timer = self._loop.call_later(
                max(timeout, 0), stream._fail, TTRPCError(Code.DEADLINE_EXCEEDED, DEADLINE_MESSAGE)
            )
        await proto.writable(stream._inbox)
        return stream

    async def close(self) -> None:
        """Fail pending calls with ClosedError, close the socket, run on_close."""
        proto = self._proto
        if proto.transport is not None and not proto.lost and not proto.closing:
            proto.closing = True
            proto.fail_all()
            proto.transport.abort()
        await proto.closed.wait()


class _ClientProtocol(FrameProtocol):
    """The connection under a Client: routes replies to pending calls by id."""

    def __init__(self, on_close: Callable[[], None] | None) -> None:
        super().__init__()
        self.conn: ClientConnection = ClientConnection()
        self.pending: dict[int, asyncio.Future[bytes]] = {}
        self.closing: bool = False
        self.closed: asyncio.Event = asyncio.Event()
        self.paused: bool = False
        self._drain: asyncio.Future[None] | None = None
        self.streams: dict[int, ClientStream] = {}
        self.budget: Budget = Budget()
        self._on_close: Callable[[], None] | None = on_close

    def data_received(self, data: bytes | memoryview) -> None:
        try:
            events = self.conn.receive_data(data)
        except Exception:  # a bug in the core; fail loudly, not silently
            log.exception("ttrpc: client connection state broke; closing it")
            if self.transport is not None:
                self.transport.abort()
            return
        pending = self.pending
        # Several replies wake several callers; their next requests (issued
        # when they resume) are queued and sent in one write by a flush
        # scheduled behind those wake-ups. Order, and so id order, is kept.
        batch = len(events) > 1 and self.open_batch()
        try:
            for ev in events:
                if type(ev) is DataReceived:
                    stream = self.streams.get(ev.stream_id)
                    if stream is not None:
                        last = ev.remote_closed
                        if not stream._inbox.feed(ev.payload, last) or last:
                            stream._release()  # ended or overflowed
                    continue
                if type(ev) is ResponseReceived:
                    fut = pending.pop(ev.stream_id, None)
                    if fut is None:
                        if self.streams:
                            self._stream_response(ev)
                        continue
                    if fut.done():
                        continue  # late reply to a timed-out or cancelled call
                    status = ev.status
                    if status is None:
                        fut.set_result(ev.payload)
                    else:
                        fut.set_exception(
                            TTRPCError(status.code, status.message, details=status.details)
                        )
                elif type(ev) is MessageTooLarge:
                    self._fail(ev.stream_id, TTRPCError(Code.RESOURCE_EXHAUSTED, ev.message))
                elif type(ev) is BadResponse:
                    self._fail(ev.stream_id, TTRPCError(Code.INTERNAL, ev.message))
        finally:
            if batch:
                self.loop.call_soon(self.flush)

    def _fail(self, sid: int, exc: TTRPCError) -> None:
        fut = self.pending.pop(sid, None)
        if fut is not None and not fut.done():
            fut.set_exception(exc)
        stream = self.streams.get(sid)
        if stream is not None:
            stream._fail(exc, after_queued=True)

    def _stream_response(self, ev: ResponseReceived) -> None:
        """A Response ends a stream: its payload is the last message, or its
        status the error raised after the messages before it."""
        stream = self.streams.get(ev.stream_id)
        if stream is None:
            return  # cancelled or timed out here; Go logs "inactive stream"
        status = ev.status
        if status is None:
            stream._deliver(ev.payload, True)
        else:
            stream._fail(TTRPCError(status.code, status.message, details=status.details), after_queued=True)

    # StreamSink: what a ClientStream writes through -----------------------

    def forget(self, sid: int) -> None:
        self.streams.pop(sid, None)
        self.conn.forget(sid)

    def write_data(self, stream_id: int, payload: bytes | None, close: bool) -> bool:
        try:
            frame = self.conn.send_data(stream_id, payload, close=close)
        except MessageTooLargeError as exc:
            raise TTRPCError(Code.RESOURCE_EXHAUSTED, str(exc)) from None
        self.batch()  # one write per loop turn for a run of messages
        self.write(frame)
        return self.paused or self.lost

    async def writable(self, inbox: _Inbox) -> None:
        """Wait while the server is not reading; the stream ending stops the wait."""
        if self.paused and not self.lost:
            if self._drain is None:
                self._drain = asyncio.get_running_loop().create_future()
            waiters: tuple[asyncio.Future[Any], ...] = (self._drain, inbox.ended_future())
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if self.lost:
            raise ClosedError()

    def expire(self, sid: int) -> None:
        self._fail(sid, TTRPCError(Code.DEADLINE_EXCEEDED, DEADLINE_MESSAGE))

    def fail_all(self) -> None:
        pending, self.pending = self.pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ClosedError())
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            stream._fail(ClosedError(), after_queued=True)

    def eof_received(self) -> bool:
        return False  # never half-open: close our side as well

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost:
            return
        self.lost = True
        self.fail_all()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self.closed.set()
        cb, self._on_close = self._on_close, None
        if cb is not None:
            try:
                cb()
            except Exception:
                log.exception("ttrpc: on_close callback raised")

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    async def drain(self, call: asyncio.Future[bytes]) -> None:
        """Wait until the transport takes writes again, or ``call`` ends first.

        Waiting on ``call`` too keeps its timeout working while the peer is
        not reading. The shared waiter is never cancelled by one caller.
        """
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_future()
        waiters: tuple[asyncio.Future[Any], ...] = (self._drain, call)
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
