"""One server connection: frames in, calls run by workers, replies out.

A FrameProtocol (an asyncio BufferedProtocol reading into the thread's shared
buffer; no streams: fewer copies and wakeups). Handlers run concurrently and answer out of order.
Calls that do not suspend are answered inside the callback that read them,
the replies to a burst in one write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from impl import errdefs
from shimtypes import PeerCredentials, TTRPCMethod

from ._codes import Code
from ._connection import ServerConnection
from ._context import MethodContext, metadata_mapping
from ._eager import start_inline
from ._errors import DEADLINE_MESSAGE, ClosedError, MessageTooLargeError, RemoteProtocolError, TTRPCError
from ._events import BadRequest, DataReceived, MessageTooLarge, RequestReceived
from ._stream import Budget, ServerStream, StreamMethod, _Inbox
from ._transport import FrameProtocol, StreamTransport
from ._unix import peer_credentials

__all__ = ["Connections", "ServerProtocol"]

_NO_METADATA = metadata_mapping(())


def _as_bytes(result: object, ctx: MethodContext) -> bytes | None:
    """A handler's result as bytes; None is answered as Go answers a nil reply."""
    if result is None:
        return None
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result)
    raise TypeError(f"ttrpc: handler {ctx.service}/{ctx.method} returned {type(result).__name__}, not bytes")


class Connections:
    """What the connections of one server share: its methods and settings,
    and the set of live connections (the Server owns one; no cycle back)."""

    __slots__ = ("services", "peer_check", "log", "legacy", "closing", "live", "idle")

    def __init__(
        self,
        services: dict[str, dict[str, TTRPCMethod | StreamMethod]],
        peer_check: Callable[[PeerCredentials], bool] | None,
        log: logging.Logger,
        legacy: bool,
    ) -> None:
        self.services = services
        self.peer_check = peer_check
        self.log = log
        self.legacy = legacy
        self.closing = False
        self.live: set[ServerProtocol] = set()
        self.idle: asyncio.Event | None = None
        """Set once ``live`` empties (made by a shutdown that waits for it)."""

    def forget(self, conn: ServerProtocol) -> None:
        self.live.discard(conn)
        if not self.live and self.idle is not None:
            self.idle.set()


_Call = tuple[int, TTRPCMethod, MethodContext, bytes, None] | tuple[int, StreamMethod, MethodContext, bytes, ServerStream]


class ServerProtocol(FrameProtocol):
    """One connection: frames in, calls run by workers, replies out.

    Calls are queued and run by workers, each call inline in a worker (so
    ``asyncio.current_task()``, ``asyncio.timeout`` and cancellation work as
    usual inside a handler). A worker starts inline in the callback that
    queued the calls (``_eager.start_inline``): a burst of handlers that
    finish without suspending costs no Task and no loop turn. When a handler
    suspends, its worker carries on as a Task and the next worker takes the
    rest of the queue at once. A worker Task that starts a call while calls
    are still queued schedules a check (a plain callback) that runs once it
    yields to the loop: if the queue has not moved by then, that handler
    suspended and a new worker takes the rest. A worker exits when the queue
    is empty. Handlers run by one worker share its contextvars context.
    """

    __slots__ = (
        "_server",
        "_services",
        "_log",
        "_conn",
        "_queue",
        "_workers",
        "_starting",
        "_inflight",
        "_peer",
        "_closing",
        "_writable",
        "_streams",
        "_budget",
        "_inline",
    )

    def __init__(self, server: Connections) -> None:
        super().__init__()
        self._server = server
        self._services = server.services
        self._log = server.log
        self._conn = ServerConnection(legacy=server.legacy)
        self._queue: deque[_Call] = deque()
        self._workers: set[asyncio.Task[None]] = set()
        self._starting = 0  # workers created that have not run yet
        self._inflight = 0  # calls queued or running
        self._peer: PeerCredentials | None = None
        self._closing = False
        # Set while the transport accepts writes; cleared by pause_writing.
        self._writable: asyncio.Event | None = None
        # Client-streaming streams whose handler has not returned, by id.
        self._streams: dict[int, ServerStream] = {}
        self._budget: Budget | None = None
        self._inline = False  # a worker is running inline (not as a Task)

    # asyncio callbacks -------------------------------------------------

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        super().connection_made(base)
        transport = self.transport
        assert transport is not None
        server = self._server
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                self._peer = peer_credentials(sock)
            except OSError as exc:
                self._log.warning("ttrpc: reading peer credentials failed: %s", exc)
        check = server.peer_check
        if check is not None:
            ok = False
            if self._peer is not None:
                try:
                    ok = bool(check(self._peer))
                except Exception:
                    self._log.exception("ttrpc: peer check raised")
            if not ok:
                self._log.warning(
                    "ttrpc: refusing connection after handshake (peer %s)", self._peer
                )
                self.lost = True
                transport.abort()
                return
        if server.closing:
            self.lost = True
            transport.abort()
            return
        server.live.add(self)

    def data_received(self, data: bytes | memoryview) -> None:
        if self.lost or (self._closing and not self._inflight):
            return
        try:
            events = self._conn.receive_data(data)
        except Exception:  # a bug in the core: drop this connection only
            self._log.exception("ttrpc: connection state broke; closing it")
            self.abort()
            return
        # Several requests at once: hold their replies and send them in one
        # write by a flush queued behind the worker's first step. A lone
        # request is answered with a direct write (no extra loop iteration).
        batch = len(events) > 1 and self.open_batch()
        try:
            for ev in events:
                if type(ev) is RequestReceived:
                    self._request(ev)
                elif type(ev) is DataReceived:
                    stream = self._streams.get(ev.stream_id)
                    if stream is not None and not stream._inbox.feed(ev.payload, ev.remote_closed):
                        del self._streams[ev.stream_id]  # overflowed: its handler sees the error
                    # else: a unary call or a finished stream; Go 1.2.0-1.2.7 panic here.
                elif type(ev) is MessageTooLarge:
                    self._log.warning("ttrpc: stream %d: %s", ev.stream_id, ev.message)
                    self.write(
                        self._conn.send_error(ev.stream_id, Code.RESOURCE_EXHAUSTED, ev.message)
                    )
                elif type(ev) is BadRequest:
                    self._log.warning("ttrpc: stream %d: %s", ev.stream_id, ev.message)
                    self.write(self._conn.send_error(ev.stream_id, ev.code, ev.message))
                # FrameIgnored: Data and unknown types are skipped, as 1.1.1 does.
        finally:
            if self._queue and not self._starting:
                self._start_worker()
            if batch:
                if self._starting:
                    self.loop.call_soon(self.flush)  # after that worker's first step
                else:
                    self.flush()

    def eof_received(self) -> bool:
        # The peer stopped sending; 1.1.1 drops the connection here. Returning
        # False closes our side too (we never half-close).
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        try:
            self._conn.receive_eof()
        except RemoteProtocolError as err:
            # Go 1.1.1 logs "failed reading message: unexpected EOF" here.
            self._log.info("%s", err)
        self.out.clear()
        self._drop_queue()
        for task in list(self._workers):
            task.cancel()
        for stream in self._streams.values():
            stream._inbox.finish(ClosedError())
        self._streams.clear()
        self._server.forget(self)

    def pause_writing(self) -> None:
        # The peer is not reading its replies: stop reading its requests, and
        # start no queued call until it catches up (running ones finish), so
        # a peer pipelining small requests for large replies cannot make us
        # hold more than the calls already running.
        if self._writable is None:
            self._writable = asyncio.Event()
        self._writable.clear()
        if self.transport is not None and not self.lost:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self._writable is not None:
            self._writable.set()
        if self.transport is not None and not self.lost:
            self.transport.resume_reading()

    # server-side control -------------------------------------------------

    def close_when_idle(self) -> None:
        self._closing = True
        if not self._inflight:
            self._close_transport()

    def abort(self) -> None:
        self._closing = True
        self._drop_queue()
        for task in list(self._workers):
            task.cancel()
        self.flush()
        transport = self.transport
        if transport is not None:
            if transport.get_write_buffer_size():
                # close() would wait for a peer that is not reading: drop it now.
                transport.abort()
            else:
                transport.close()

    def _drop_queue(self) -> None:
        self._inflight -= len(self._queue)
        self._queue.clear()

    def _close_transport(self) -> None:
        """Close after every queued response is handed to the transport."""
        self.flush()
        if self.transport is not None:
            self.transport.close()

    # calls ----------------------------------------------------------------

    def _request(self, ev: RequestReceived) -> None:
        sid = ev.stream_id
        methods = self._services.get(ev.service)
        if methods is None:
            self.write(self._conn.send_error(sid, Code.UNIMPLEMENTED, f"service {ev.service}"))
            return
        handler = methods.get(ev.method)
        if handler is None:
            self.write(self._conn.send_error(sid, Code.UNIMPLEMENTED, f"method {ev.method}"))
            return
        ns = ev.timeout_nano
        deadline: float | None = None
        if ns:
            if ns < 0:
                self.write(self._conn.send_error(sid, Code.DEADLINE_EXCEEDED, DEADLINE_MESSAGE))
                return
            deadline = time.monotonic() + ns / 1e9
        md = ev.metadata
        metadata = metadata_mapping(md) if md else _NO_METADATA
        ctx = MethodContext(ev.service, ev.method, metadata, deadline, self._peer)
        if isinstance(handler, StreamMethod):
            self._open_stream(sid, handler, ctx, ev.payload)
        else:
            self._queue.append((sid, handler, ctx, ev.payload, None))
        self._inflight += 1

    def _open_stream(self, sid: int, method: StreamMethod, ctx: MethodContext, payload: bytes) -> None:
        budget = self._budget
        if budget is None:
            budget = self._budget = Budget()
        stream = ServerStream(self, sid, budget, method.server_streaming)
        if method.client_streaming:
            # Go hands a non-empty request payload over as the first message.
            if payload:
                stream._inbox.feed(payload, False)
            self._streams[sid] = stream
            # Its Data goes straight to the inbox from the frame reader (once
            # the stream overflowed, feed drops what still comes).
            self._conn.route(sid, stream._inbox)
        else:
            stream._inbox.feed(payload, True)
        self._queue.append((sid, method, ctx, payload, stream))

    def _start_worker(self) -> None:
        """Run the queue in a worker started inline (see ``_eager``): it
        answers every call that does not suspend before this returns. One
        whose handler suspends carries on as a Task, and the next worker
        takes the rest of the queue."""
        loop = self.loop
        while True:
            if asyncio.current_task(loop) is not None:
                # Data fed from inside a task: the worker is a Task of its own.
                self._starting += 1
                self._track(loop.create_task(self._worker(True)))
                return
            self._inline = True
            try:
                task = start_inline(loop, self._worker(False), "ttrpc worker")
            finally:
                self._inline = False
            if task is None:
                return  # it emptied the queue
            self._track(task)
            writable = self._writable
            if not self._queue or self.lost or (writable is not None and not writable.is_set()):
                return

    def _track(self, task: asyncio.Task[None]) -> None:
        """Keep a worker Task until it ends (to cancel it if the connection goes)."""
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    def _carry_on(self) -> None:
        """The check a worker Task scheduled before a call: calls still
        queued once it yielded means that call suspended; a new worker
        takes them."""
        self._starting -= 1
        if self._queue and not self._starting and not self.lost:
            self._start_worker()

    async def _worker(self, spawned: bool) -> None:
        if spawned:
            self._starting -= 1
        queue = self._queue
        while queue:
            writable = self._writable
            if writable is not None and not writable.is_set():
                await writable.wait()
                continue  # the queue may have been dropped meanwhile
            call = queue.popleft()
            if queue and not self._starting and not self._inline:
                # Carries on with the queue if this call suspends.
                self._starting += 1
                self.loop.call_soon(self._carry_on)
            try:
                if call[4] is not None:
                    await self._call_stream(call[0], call[1], call[2], call[4])
                elif call[2].deadline is None:
                    # The common case inline: no extra coroutine per call.
                    sid, handler, ctx, payload, _ = call
                    try:
                        result = await handler(ctx, payload)
                    except BaseException as exc:
                        frame = self._failure(sid, ctx, exc, None)
                    else:
                        frame = b""
                        if type(result) is bytes:
                            try:
                                frame = self._conn.send_response(sid, result)
                            except MessageTooLargeError:
                                pass
                        if not frame:  # not bytes, or too large: answered as _success says
                            frame = self._success(sid, ctx, result, False)
                    self.write(frame)
                else:
                    await self._call_with_deadline(call[0], call[1], call[2], call[3], call[2].deadline)
            finally:
                self._inflight -= 1
                if self._closing and not self._inflight:
                    self._close_transport()

    async def _call_with_deadline(
        self, sid: int, handler: TTRPCMethod, ctx: MethodContext, payload: bytes, deadline: float
    ) -> None:
        """One unary call whose handler is cancelled at the client's deadline."""
        timeout = asyncio.timeout_at(deadline - time.monotonic() + self.loop.time())
        try:
            async with timeout:
                result = await handler(ctx, payload)
        except BaseException as exc:
            frame = self._failure(sid, ctx, exc, timeout)
        else:
            frame = self._success(sid, ctx, result, False)
        self.write(frame)

    async def _call_stream(self, sid: int, method: StreamMethod, ctx: MethodContext, stream: ServerStream) -> None:
        """One stream: run the handler; end the stream with Data or a Response."""
        timeout: asyncio.Timeout | None = None
        try:
            try:
                if ctx.deadline is None:
                    result = await method.handler(ctx, stream)
                else:
                    timeout = asyncio.timeout_at(ctx.deadline - time.monotonic() + self.loop.time())
                    async with timeout:
                        result = await method.handler(ctx, stream)
            finally:
                self._streams.pop(sid, None)
                self._conn.unroute(sid)
                stream._inbox.discard()
        except BaseException as exc:
            frame = self._failure(sid, ctx, exc, timeout)
        else:
            frame = self._success(sid, ctx, result, method.server_streaming)
        self.write(frame)

    def _success(self, sid: int, ctx: MethodContext, result: object, server_streaming: bool) -> bytes:
        """The frame for a handler's return value.

        A server stream ends with Data remote-closed (no-data unless a last
        message was returned) and no Response; anything else gets a Response,
        as Go answers a nil reply when there is none.
        """
        conn = self._conn
        if type(result) is not bytes and result is not None:
            try:
                result = _as_bytes(result, ctx)
            except TypeError as exc:
                return self._unknown(sid, ctx, exc)
        try:
            if server_streaming:
                return conn.send_data(sid, result, close=True)
            if result is None:
                return conn.send_error(sid, Code.UNKNOWN, "ttrpc: marshal called with nil")
            return conn.send_response(sid, result)
        except MessageTooLargeError as exc:
            self._log.warning("ttrpc: %s/%s: response refused: %s", ctx.service, ctx.method, exc)
            return conn.send_error(sid, Code.RESOURCE_EXHAUSTED, str(exc))

    def _failure(self, sid: int, ctx: MethodContext, exc: BaseException, timeout: asyncio.Timeout | None) -> bytes:
        """The error frame for what a handler raised; re-raises a cancellation
        of this call itself (connection lost, server closing) and anything
        that is not an Exception (KeyboardInterrupt, SystemExit)."""
        conn = self._conn
        if isinstance(exc, TTRPCError):
            try:
                return conn.send_error(sid, exc.wire_code or Code.UNKNOWN, exc.message, exc.details)
            except Exception as bad:  # e.g. details that are not (str, bytes) pairs
                return self._unknown(sid, ctx, bad)
        if isinstance(exc, TimeoutError) and timeout is not None and timeout.expired():
            return conn.send_error(sid, Code.DEADLINE_EXCEEDED, DEADLINE_MESSAGE)
        if isinstance(exc, asyncio.CancelledError):
            task = asyncio.current_task()
            if self.lost or (task is not None and task.cancelling()):
                raise exc
            # The handler's own await was cancelled, not this call.
            return conn.send_error(sid, Code.CANCELLED, "context canceled")
        if not isinstance(exc, Exception):
            raise exc
        # The one exception -> code table (errdefs kinds, and OS errors as Go
        # ttrpc's convertCode maps them); only what it cannot name is logged.
        code = errdefs.code_of(exc)
        if code == Code.UNKNOWN and not isinstance(exc, errdefs.Error):
            return self._unknown(sid, ctx, exc)
        return conn.send_error(sid, code, str(exc) or type(exc).__name__)

    # StreamSink: what a ServerStream writes through ----------------------

    @property
    def _transport(self) -> StreamTransport | None:
        """The transport (for tests and debugging)."""
        return self.transport

    def write_data(self, stream_id: int, payload: bytes | None, close: bool) -> bool:
        try:
            frame = self._conn.send_data(stream_id, payload, close=close)
        except MessageTooLargeError as exc:
            raise TTRPCError(Code.RESOURCE_EXHAUSTED, str(exc)) from None
        self.batch()  # one write per loop turn for a run of messages
        self.write(frame)
        writable = self._writable
        return self.lost or (writable is not None and not writable.is_set())

    async def writable(self, inbox: _Inbox) -> None:
        # A handler blocked here is cancelled if its connection goes or its
        # deadline passes, so the stream's own end need not wake it.
        writable = self._writable
        if writable is not None and not writable.is_set():
            await writable.wait()
        if self.lost:
            raise ClosedError()

    def _unknown(self, sid: int, ctx: MethodContext, exc: BaseException) -> bytes:
        self._log.error("ttrpc: %s/%s failed: %r", ctx.service, ctx.method, exc, exc_info=exc)
        try:
            message = str(exc)
        except Exception:  # a broken __str__ must not cost the caller its reply
            message = ""
        return self._conn.send_error(sid, Code.UNKNOWN, message or type(exc).__name__)
