"""``ttrpcpeer.Streams``: the Python twin of the Go 1.2.7 peer's stream service
(tests/go/src/ttrpcpeer/cmd/peer12), method for method."""

from __future__ import annotations

from collections.abc import AsyncIterator

from google.protobuf.empty_pb2 import Empty
from google.protobuf.wrappers_pb2 import BytesValue, StringValue, UInt32Value, UInt64Value

from impl.ttrpc import (
    Code,
    MethodSpec,
    StreamMethod,
    TTRPCError,
    bidi_stream_handler,
    client_stream_handler,
    server_stream_handler,
    unary_handler,
    unary_handler_with_context,
)
from shimtypes import TTRPCMethod, TTRPCMethodContext

STREAMS = "ttrpcpeer.Streams"
ECHO = MethodSpec("Echo", StringValue, StringValue)
METADATA = MethodSpec("Metadata", Empty, StringValue)
COUNT = MethodSpec("Count", UInt32Value, StringValue)
JOIN = MethodSpec("Join", StringValue, StringValue)
UPPER = MethodSpec("Upper", StringValue, StringValue)
BYTES = MethodSpec("Bytes", BytesValue, BytesValue)
SINK = MethodSpec("Sink", BytesValue, UInt64Value)
SOURCE = MethodSpec("Source", UInt64Value, BytesValue)


def _go_upper(text: str) -> str:
    """Go's strings.ToUpper for the ASCII the tests send."""
    return text.upper()


def stream_methods(payload: int = 0) -> dict[str, TTRPCMethod | StreamMethod]:
    async def echo(req: StringValue) -> StringValue:
        return req

    async def metadata(ctx: TTRPCMethodContext, req: Empty) -> StringValue:
        lines = sorted(f"{k}={v}" for k, vs in ctx.metadata.items() for v in vs)
        return StringValue(value="\n".join(lines))

    async def count(req: UInt32Value) -> AsyncIterator[StringValue]:
        for i in range(req.value):
            yield StringValue(value=str(i))
        if req.value == 13:
            raise TTRPCError(Code.NOT_FOUND, "unlucky")

    async def join(reqs: AsyncIterator[StringValue]) -> StringValue:
        return StringValue(value="+".join([r.value async for r in reqs]))

    async def upper(reqs: AsyncIterator[StringValue]) -> AsyncIterator[StringValue]:
        async for r in reqs:
            if r.value == "boom":
                raise TTRPCError(Code.FAILED_PRECONDITION, "boom mid-stream")
            yield StringValue(value=_go_upper(r.value))

    async def echo_bytes(reqs: AsyncIterator[BytesValue]) -> AsyncIterator[BytesValue]:
        async for r in reqs:
            yield r

    async def sink(reqs: AsyncIterator[BytesValue]) -> UInt64Value:
        n = 0
        async for _ in reqs:
            n += 1
        return UInt64Value(value=n)

    async def source(req: UInt64Value) -> AsyncIterator[BytesValue]:
        msg = BytesValue(value=bytes(payload))
        for _ in range(req.value):
            yield msg

    return {
        "Echo": unary_handler(ECHO, echo),
        "Metadata": unary_handler_with_context(METADATA, metadata),
        "Count": server_stream_handler(COUNT, count),
        "Join": client_stream_handler(JOIN, join),
        "Upper": bidi_stream_handler(UPPER, upper),
        "Bytes": bidi_stream_handler(BYTES, echo_bytes),
        "Sink": client_stream_handler(SINK, sink),
        "Source": server_stream_handler(SOURCE, source),
    }
