"""Typed layer: a method described by its wire name and message classes.

Handlers and stubs built from a ``MethodSpec`` take and return messages, so
mypy checks request/response types end to end while the raw layer stays bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import DecodeError, Message

from shimtypes import TTRPCMethod, TTRPCMethodContext

from ._client import Client, Metadata
from ._codes import Code
from ._errors import TTRPCError
from ._stream import ClientStream, ServerStream, StreamMethod

__all__ = [
    "MethodSpec",
    "ServiceSpec",
    "TypedStream",
    "bidi_stream_handler",
    "call_unary",
    "client_stream_handler",
    "open_bidi_stream",
    "open_client_stream",
    "open_server_stream",
    "server_stream_handler",
    "unary_handler",
    "unary_handler_with_context",
]

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


@dataclass(frozen=True, slots=True)
class MethodSpec(Generic[Req, Resp]):
    """One unary method: wire name (e.g. ``"State"``) and message classes.

    Invariant in both types on purpose: a covariant spec would let a checker
    widen ``Resp`` to ``Message`` and accept a handler answering with the
    wrong message.
    """

    name: str
    request: type[Req]
    response: type[Resp]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A service: full wire name and its methods by wire name."""

    name: str
    methods: Mapping[str, MethodSpec[Any, Any]]


def _decode(cls: type[Req], payload: bytes) -> Req:
    try:
        return cls.FromString(payload)
    except DecodeError as exc:
        raise TTRPCError(Code.INTERNAL, f"ttrpc: error unmarshalling payload: {exc}") from None


def _encode(msg: object, ctx: TTRPCMethodContext) -> bytes:
    if msg is None:  # Go's words for a nil reply
        raise TTRPCError(Code.UNKNOWN, "ttrpc: marshal called with nil")
    if not isinstance(msg, Message):
        raise TypeError(
            f"ttrpc: handler {ctx.service}/{ctx.method} returned {type(msg).__name__}, not a protobuf message"
        )
    return msg.SerializeToString()


def unary_handler(spec: MethodSpec[Req, Resp], fn: Callable[[Req], Awaitable[Resp]]) -> TTRPCMethod:
    """Wrap ``async fn(request) -> response`` as a raw ttrpc method."""
    request_cls = spec.request

    async def method(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return _encode(await fn(_decode(request_cls, payload)), ctx)

    return method


def unary_handler_with_context(
    spec: MethodSpec[Req, Resp],
    fn: Callable[[TTRPCMethodContext, Req], Awaitable[Resp]],
) -> TTRPCMethod:
    """Like ``unary_handler`` for handlers that need metadata, deadline or peer."""
    request_cls = spec.request

    async def method(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return _encode(await fn(ctx, _decode(request_cls, payload)), ctx)

    return method


async def call_unary(
    client: Client,
    service: str,
    spec: MethodSpec[Req, Resp],
    request: Req,
    *,
    timeout: float | None = None,
    metadata: Metadata | None = None,
) -> Resp:
    """Call ``service``/``spec.name`` with a message; decode the typed reply."""
    payload = await client.call(
        service, spec.name, request.SerializeToString(), timeout=timeout, metadata=metadata
    )
    try:
        return spec.response.FromString(payload)
    except DecodeError as exc:
        raise TTRPCError(Code.INTERNAL, f"ttrpc: error unmarshalling payload: {exc}") from None


# -- streams (ttrpc 1.2) --------------------------------------------------


async def _requests(cls: type[Req], stream: ServerStream) -> AsyncIterator[Req]:
    """The client's messages, decoded (one async generator, not two stacked)."""
    inbox = stream._inbox
    queue = inbox._queue
    budget = inbox._budget
    decode = cls.FromString
    take = queue.popleft
    while True:
        while queue:  # everything already queued, without a wait between
            payload = take()
            n = len(payload)
            inbox._size -= n
            budget.used -= n
            try:
                msg = decode(payload)
            except DecodeError as exc:
                raise TTRPCError(Code.INTERNAL, f"ttrpc: error unmarshalling payload: {exc}") from None
            yield msg
        if await inbox.wait():
            return


def server_stream_handler(
    spec: MethodSpec[Req, Resp], fn: Callable[[Req], AsyncIterator[Resp]]
) -> StreamMethod:
    """Wrap ``fn(request)``, an async iterator of responses (e.g. an async
    generator), as a server-streaming method."""
    request_cls = spec.request

    async def method(ctx: TTRPCMethodContext, stream: ServerStream) -> None:
        payload = await stream.recv()
        request = _decode(request_cls, payload or b"")
        async for msg in fn(request):
            await stream.send(_encode(msg, ctx))

    return StreamMethod(method, client_streaming=False, server_streaming=True)


def client_stream_handler(
    spec: MethodSpec[Req, Resp], fn: Callable[[AsyncIterator[Req]], Awaitable[Resp]]
) -> StreamMethod:
    """Wrap ``async fn(requests) -> response``, which reads the client's
    messages from an async iterator, as a client-streaming method."""
    request_cls = spec.request

    async def method(ctx: TTRPCMethodContext, stream: ServerStream) -> bytes:
        return _encode(await fn(_requests(request_cls, stream)), ctx)

    return StreamMethod(method, client_streaming=True, server_streaming=False)


def bidi_stream_handler(
    spec: MethodSpec[Req, Resp], fn: Callable[[AsyncIterator[Req]], AsyncIterator[Resp]]
) -> StreamMethod:
    """Wrap ``fn(requests)``, an async iterator of responses that reads the
    client's messages from an async iterator, as a bidirectional method."""
    request_cls = spec.request

    async def method(ctx: TTRPCMethodContext, stream: ServerStream) -> None:
        async for msg in fn(_requests(request_cls, stream)):
            await stream.send(_encode(msg, ctx))

    return StreamMethod(method, client_streaming=True, server_streaming=True)


class TypedStream(Generic[Req, Resp]):
    """A client stream that sends ``Req`` and receives ``Resp`` messages."""

    __slots__ = ("_stream", "_response")

    def __init__(self, stream: ClientStream, response: type[Resp]) -> None:
        self._stream = stream
        self._response = response

    @property
    def raw(self) -> ClientStream:
        """The bytes-level stream underneath."""
        return self._stream

    async def send(self, message: Req) -> None:
        """Send one message (client- and bidirectional streams)."""
        await self._stream.send(message.SerializeToString())

    async def close_send(self) -> None:
        """This side sends nothing more (Go: CloseSend)."""
        await self._stream.close_send()

    async def recv(self) -> Resp | None:
        """The next response; None once the server has ended the stream."""
        payload = await self._stream.recv()
        if payload is None:
            return None
        return _decode_response(self._response, payload)

    async def __aiter__(self) -> AsyncIterator[Resp]:
        async for payload in self._stream:
            yield _decode_response(self._response, payload)

    async def close_and_recv(self) -> Resp:
        """End the sending side and return the one response (client streams)."""
        await self._stream.close_send()
        msg = await self.recv()
        if msg is None:
            raise TTRPCError(Code.INTERNAL, "ttrpc: stream ended without a response")
        return msg

    def cancel(self) -> None:
        """Stop the stream here (see ClientStream.cancel)."""
        self._stream.cancel()

    async def __aenter__(self) -> TypedStream[Req, Resp]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stream.__aexit__(*exc_info)


def _decode_response(cls: type[Resp], payload: bytes) -> Resp:
    try:
        return cls.FromString(payload)
    except DecodeError as exc:
        raise TTRPCError(Code.INTERNAL, f"ttrpc: error unmarshalling payload: {exc}") from None


async def open_server_stream(
    client: Client,
    service: str,
    spec: MethodSpec[Req, Resp],
    request: Req,
    *,
    timeout: float | None = None,
    metadata: Metadata | None = None,
) -> TypedStream[Req, Resp]:
    """Start a server-streaming call; iterate the result for the responses."""
    stream = await client.open_stream(
        service,
        spec.name,
        request.SerializeToString(),
        client_streaming=False,
        timeout=timeout,
        metadata=metadata,
    )
    return TypedStream(stream, spec.response)


async def open_client_stream(
    client: Client,
    service: str,
    spec: MethodSpec[Req, Resp],
    *,
    timeout: float | None = None,
    metadata: Metadata | None = None,
) -> TypedStream[Req, Resp]:
    """Start a call whose requests stream: client-streaming (``send`` requests, then
    ``close_and_recv``) or bidirectional (``send``/``close_send`` and iterate responses)."""
    stream = await client.open_stream(service, spec.name, timeout=timeout, metadata=metadata)
    return TypedStream(stream, spec.response)


open_bidi_stream = open_client_stream
"""Start a bidirectional call: the same opening as a client-streaming one (the wire tells them apart
only by how many responses the server sends)."""
