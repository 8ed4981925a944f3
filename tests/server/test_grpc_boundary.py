"""The generated gRPC bindings' error boundary: one table (``errdefs.code_of``) on both transports.

A servicer served through the generated ``add_introspection`` (real grpc.aio
server) and ``register_introspection`` (real ttrpc server), each on a unix
socket in the test's tmp dir, raises the same exception on both: the two
clients must read the same code and message. A streaming method's error
after its first reply, an ``abort`` of the method's own, and a client that
goes away mid-stream (the method's generator is closed at once) are checked
on the events binding.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.empty_pb2 import Empty

from impl import errdefs
from impl.server._bindings.events_service_grpc import add_events
from impl.server._bindings.introspection_grpc import add_introspection
from impl.ttrpc import Client, Code, Server, TTRPCError
from impl.ttrpc.services import IntrospectionClient, register_introspection
from shimtypes.pb import events_service_pb2 as epb
from shimtypes.pb.introspection_pb2 import PluginsRequest, PluginsResponse, ServerResponse


class Raising:
    """Introspection whose ``Plugins`` raises ``exc`` (gRPC passes a context, ttrpc none)."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def plugins(self, request: PluginsRequest, context: object = None, /) -> PluginsResponse:
        raise self.exc

    async def server(self, request: Empty, context: object = None, /) -> ServerResponse:
        return ServerResponse(uuid="u")


async def _grpc_status(path: Path, exc: Exception) -> tuple[int, str]:
    server = grpc.aio.server()
    add_introspection(server, Raising(exc))
    server.add_insecure_port(f"unix:{path}")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"unix:{path}") as ch:
            call = ch.unary_unary(
                "/containerd.services.introspection.v1.Introspection/Plugins",
                request_serializer=PluginsRequest.SerializeToString,
                response_deserializer=PluginsResponse.FromString,
            )
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call(PluginsRequest(), timeout=10)
            return info.value.code().value[0], info.value.details() or ""
    finally:
        await server.stop(None)


async def _ttrpc_status(path: Path, exc: Exception) -> tuple[int, str]:
    server = Server()
    register_introspection(server, Raising(exc))
    await server.listen(str(path))
    try:
        client = await Client.connect(str(path))
        try:
            with pytest.raises(TTRPCError) as info:
                await IntrospectionClient(client).plugins(PluginsRequest(), timeout=10)
            return info.value.wire_code, info.value.message
        finally:
            await client.close()
    finally:
        await server.shutdown()


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errdefs.NotFound("plugin x"), Code.NOT_FOUND),
        (errdefs.InvalidArgument("bad filter"), Code.INVALID_ARGUMENT),
        (FileNotFoundError(2, "No such file or directory", "/x"), Code.NOT_FOUND),
        (PermissionError(13, "Permission denied"), Code.PERMISSION_DENIED),
        (TimeoutError("backend slow"), Code.DEADLINE_EXCEEDED),
        (ValueError("a bug"), Code.UNKNOWN),
        (errdefs.AlreadyExists(""), Code.ALREADY_EXISTS),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_same_exception_same_status_on_both_transports(tmp_path: Path, exc: Exception, code: Code) -> None:
    async def main() -> tuple[tuple[int, str], tuple[int, str]]:
        return await _grpc_status(tmp_path / "grpc.sock", exc), await _ttrpc_status(tmp_path / "ttrpc.sock", exc)

    on_grpc, on_ttrpc = asyncio.run(main())
    assert on_grpc == on_ttrpc
    assert on_grpc == (code, str(exc) or type(exc).__name__)


class Events:
    """Events whose ``Subscribe`` yields one envelope, then fails, aborts, or waits to be dropped."""

    def __init__(self, then: str) -> None:
        self.then = then
        self.closed = asyncio.Event()

    async def publish(
        self, request: epb.PublishRequest, context: grpc.aio.ServicerContext[epb.PublishRequest, Empty], /
    ) -> Empty:
        await context.abort(grpc.StatusCode.ALREADY_EXISTS, "aborted by the method")

    async def forward(self, request: epb.ForwardRequest, context: object, /) -> Empty:
        return Empty()

    async def subscribe(self, request: epb.SubscribeRequest, context: object, /) -> AsyncIterator[epb.Envelope]:
        try:
            yield epb.Envelope(topic="/first")
            if self.then == "overflow":
                raise errdefs.ResourceExhausted("subscriber too slow")
            await asyncio.Event().wait()  # until the client goes away
        finally:
            self.closed.set()


def test_streaming_errors_aborts_and_dropped_clients(tmp_path: Path) -> None:
    path = tmp_path / "events.sock"

    async def main() -> None:
        overflowing, held = Events("overflow"), Events("hold")
        server = grpc.aio.server()
        add_events(server, overflowing)
        add_events(server, held, name="test.Events")
        server.add_insecure_port(f"unix:{path}")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"unix:{path}") as ch:

                def subscribe(service: str) -> grpc.aio.UnaryStreamCall[Any, epb.Envelope]:
                    return ch.unary_stream(
                        f"/{service}/Subscribe",
                        request_serializer=epb.SubscribeRequest.SerializeToString,
                        response_deserializer=epb.Envelope.FromString,
                    )(epb.SubscribeRequest(), timeout=10)

                call = subscribe("containerd.services.events.v1.Events")
                got = [env.topic async for env in _until_error(call)]
                assert got == ["/first"]
                assert await call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert await call.details() == "subscriber too slow"
                await asyncio.wait_for(overflowing.closed.wait(), 10)

                publish = ch.unary_unary(
                    "/containerd.services.events.v1.Events/Publish",
                    request_serializer=epb.PublishRequest.SerializeToString,
                    response_deserializer=Empty.FromString,
                )
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await publish(epb.PublishRequest(), timeout=10)
                assert (info.value.code(), info.value.details()) == (
                    grpc.StatusCode.ALREADY_EXISTS,
                    "aborted by the method",
                )

                dropped = subscribe("test.Events")
                first = await dropped.read()
                assert isinstance(first, epb.Envelope) and first.topic == "/first"
                assert not held.closed.is_set()
                dropped.cancel()
                await asyncio.wait_for(held.closed.wait(), 10)  # the method's generator was closed
        finally:
            await server.stop(None)

    asyncio.run(main())


async def _until_error(call: grpc.aio.UnaryStreamCall[Any, epb.Envelope]) -> AsyncIterator[epb.Envelope]:
    try:
        async for env in call:
            yield env
    except grpc.aio.AioRpcError:
        return
