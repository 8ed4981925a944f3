"""ttrpc 1.2 streams: each handler shape is accepted by its own wrapper only,
and client streams are typed by their MethodSpec end to end."""
# requires: impl.ttrpc

from collections.abc import AsyncIterator
from typing import assert_type

from google.protobuf.empty_pb2 import Empty
from google.protobuf.wrappers_pb2 import StringValue, UInt32Value

from impl.ttrpc import (
    Client,
    ClientStream,
    MethodSpec,
    Server,
    ServerStream,
    StreamMethod,
    TypedStream,
    bidi_stream_handler,
    client_stream_handler,
    open_bidi_stream,
    open_client_stream,
    open_server_stream,
    server_stream_handler,
    unary_handler,
)
from shimtypes import TTRPCMethodContext

COUNT = MethodSpec("Count", UInt32Value, StringValue)


async def count(req: UInt32Value) -> AsyncIterator[StringValue]:
    for i in range(req.value):
        yield StringValue(value=str(i))


async def total(reqs: AsyncIterator[UInt32Value]) -> StringValue:
    return StringValue(value=str(sum([r.value async for r in reqs])))


async def echo_all(reqs: AsyncIterator[UInt32Value]) -> AsyncIterator[StringValue]:
    async for r in reqs:
        yield StringValue(value=str(r.value))


async def unary(req: UInt32Value) -> StringValue:
    return StringValue(value=str(req.value))


async def wrong_message(req: StringValue) -> AsyncIterator[StringValue]:
    yield req


async def raw(ctx: TTRPCMethodContext, stream: ServerStream) -> bytes | None:
    async for payload in stream:
        await stream.send(payload)
    return None


async def raw_unary(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
    return payload


def expects_stream_method(method: StreamMethod) -> None: ...


# --- each shape with its own wrapper

expects_stream_method(server_stream_handler(COUNT, count))
expects_stream_method(client_stream_handler(COUNT, total))
expects_stream_method(bidi_stream_handler(COUNT, echo_all))
expects_stream_method(StreamMethod(raw, client_streaming=True, server_streaming=True))

assert_type(server_stream_handler(COUNT, count), StreamMethod)
assert_type(client_stream_handler(COUNT, total), StreamMethod)
assert_type(bidi_stream_handler(COUNT, echo_all), StreamMethod)
server = Server()
server.register_service(
    "example.Counter",
    {
        "Count": server_stream_handler(COUNT, count),
        "Raw": StreamMethod(raw, client_streaming=True, server_streaming=True),
        "Unary": unary_handler(COUNT, unary),
        "RawUnary": raw_unary,
    },
)

# --- a wrong handler shape is rejected

server_stream_handler(COUNT, unary)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
server_stream_handler(COUNT, total)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
client_stream_handler(COUNT, count)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
client_stream_handler(COUNT, echo_all)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
bidi_stream_handler(COUNT, total)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
bidi_stream_handler(COUNT, count)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
unary_handler(COUNT, count)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
server_stream_handler(COUNT, wrong_message)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
StreamMethod(raw_unary, client_streaming=True, server_streaming=False)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
server.register_service("bad", {"Count": count})  # type: ignore[dict-item]  # pyright: ignore[reportArgumentType]


# --- client streams carry the spec's types


async def client_side(client: Client) -> None:
    ss = await open_server_stream(client, "example.Counter", COUNT, UInt32Value(value=3))
    assert_type(ss, TypedStream[UInt32Value, StringValue])
    async for msg in ss:
        assert_type(msg, StringValue)
    assert_type(await ss.recv(), StringValue | None)
    cs = await open_client_stream(client, "example.Counter", COUNT)
    await cs.send(UInt32Value(value=1))
    await cs.send(StringValue(value="x"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert_type(await cs.close_and_recv(), StringValue)
    bidi = await open_bidi_stream(client, "example.Counter", COUNT)
    await bidi.close_send()
    await open_server_stream(client, "example.Counter", COUNT, Empty())  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    rs = await client.open_stream("example.Counter", "Raw")
    assert_type(rs, ClientStream)
    assert_type(await rs.recv(), bytes | None)
    await rs.send("text")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
