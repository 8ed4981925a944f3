"""gRPC methods for the generated bindings (``impl/server/_bindings``): typed, with one error boundary.

A generated ``add_<service>`` describes each method with ``unary`` or
``server_stream`` (which need no grpcio) and hands them to ``add_service``,
which imports grpcio (an optional extra) and registers them. Whatever a
method raises is answered with the status ``impl.errdefs.code_of`` gives it,
the table the ttrpc server uses, so an error reads the same on both
transports; a call the method aborted itself (``context.abort``) stands.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, TypeVar

from google.protobuf.message import Message

from impl.errdefs import Error, Unknown, code_of

if TYPE_CHECKING:
    from grpc import aio

    from shimtypes import GRPCServer

__all__ = ["GRPCMethod", "add_service", "server_stream", "unary"]

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)

log = logging.getLogger("impl.server")


class GRPCMethod(NamedTuple):
    """One method of a service: wire name, codecs, and the servicer's bound method."""

    name: str
    decode: Callable[[bytes], Message]
    encode: Callable[[Any], bytes]
    call: Callable[[Any, Any], Any]
    server_streaming: bool


def unary(
    name: str,
    fn: Callable[[Req, aio.ServicerContext[Req, Resp]], Awaitable[Resp]],
    request: type[Req],
    response: type[Resp],
) -> GRPCMethod:
    """A unary method: ``await fn(request, context)`` answers one ``response``."""
    return GRPCMethod(name, request.FromString, response.SerializeToString, fn, False)


def server_stream(
    name: str,
    fn: Callable[[Req, aio.ServicerContext[Req, Resp]], AsyncIterator[Resp]],
    request: type[Req],
    response: type[Resp],
) -> GRPCMethod:
    """A server-streaming method: ``fn(request, context)`` (an async generator) yields the replies."""
    return GRPCMethod(name, request.FromString, response.SerializeToString, fn, True)


def add_service(server: GRPCServer, name: str, methods: Iterable[GRPCMethod]) -> None:
    """Register ``methods`` as service ``name`` on ``server``, each behind the error boundary."""
    import grpc

    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for m in methods:
        if m.server_streaming:
            handlers[m.name] = grpc.unary_stream_rpc_method_handler(
                _streaming(m.call), request_deserializer=m.decode, response_serializer=m.encode
            )
        else:
            handlers[m.name] = grpc.unary_unary_rpc_method_handler(
                _unary(m.call), request_deserializer=m.decode, response_serializer=m.encode
            )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))


def _unary(fn: Callable[[Any, Any], Awaitable[Any]]) -> Callable[[Any, aio.ServicerContext[Any, Any]], Awaitable[Any]]:
    from grpc.aio import AbortError

    async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        try:
            return await fn(request, context)
        except AbortError:
            raise
        except Exception as exc:
            await _abort(context, exc)

    return call


def _streaming(
    fn: Callable[[Any, Any], AsyncIterator[Any]],
) -> Callable[[Any, aio.ServicerContext[Any, Any]], AsyncIterator[Any]]:
    from grpc.aio import AbortError

    async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        replies = fn(request, context)
        try:
            async for reply in replies:
                yield reply
        except AbortError:
            raise
        except Exception as exc:
            await _abort(context, exc)
        finally:
            if isinstance(replies, AsyncGenerator):  # closed now, not whenever it is collected
                await replies.aclose()

    return call


async def _abort(context: aio.ServicerContext[Any, Any], exc: BaseException) -> NoReturn:
    """End a gRPC call with the status for ``exc`` (``code_of``); what it cannot name is logged."""
    import grpc

    code = code_of(exc)
    if code == Unknown.code and not isinstance(exc, Error):
        log.error("gRPC method failed: %r", exc, exc_info=exc)
    status = next((s for s in grpc.StatusCode if s.value[0] == code), grpc.StatusCode.UNKNOWN)
    await context.abort(status, str(exc) or type(exc).__name__)
