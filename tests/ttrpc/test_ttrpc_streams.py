"""ttrpc 1.2 streams over real unix sockets: the four shapes, ends, errors,
deadlines, cancellation, and what a slow reader may cost."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import pytest
from google.protobuf.empty_pb2 import Empty
from google.protobuf.wrappers_pb2 import StringValue, UInt32Value

from impl.ttrpc import (
    STREAM_BUFFER,
    Client,
    ClientConnection,
    ClosedError,
    Code,
    MethodSpec,
    ResponseReceived,
    Server,
    ServerStream,
    StreamClosedError,
    StreamMethod,
    TTRPCError,
    bidi_stream_handler,
    client_stream_handler,
    open_bidi_stream,
    open_client_stream,
    open_server_stream,
    server_stream_handler,
)
from shimtypes import TTRPCMethod, TTRPCMethodContext

from ._helpers import Hang, abstract_name, echo, raw_connect, read_events, run, serving

SVC = "test.Streams"
COUNT = MethodSpec("Count", UInt32Value, StringValue)
EMPTY_COUNT = MethodSpec("EmptyCount", Empty, StringValue)
JOIN = MethodSpec("Join", StringValue, StringValue)
UPPER = MethodSpec("Upper", StringValue, StringValue)


async def count(req: UInt32Value) -> AsyncIterator[StringValue]:
    for i in range(req.value):
        yield StringValue(value=str(i))
    if req.value == 13:
        raise TTRPCError(Code.NOT_FOUND, "unlucky")


async def empty_count(req: Empty) -> AsyncIterator[StringValue]:
    for i in range(3):
        yield StringValue(value=str(i))


async def join(reqs: AsyncIterator[StringValue]) -> StringValue:
    return StringValue(value="+".join([r.value async for r in reqs]))


async def upper(reqs: AsyncIterator[StringValue]) -> AsyncIterator[StringValue]:
    async for r in reqs:
        if r.value == "boom":
            raise TTRPCError(Code.FAILED_PRECONDITION, "boom mid-stream")
        yield StringValue(value=r.value.upper())


class Stuck:
    """A client-streaming method that never reads what it is sent."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.error: BaseException | None = None
        self.release = asyncio.Event()

    async def __call__(self, ctx: TTRPCMethodContext, stream: ServerStream) -> bytes:
        self.started.set()
        await self.release.wait()
        try:
            async for _ in stream:
                pass
        except TTRPCError as exc:
            self.error = exc
            raise
        return b""


def services(stuck: Stuck | None = None) -> dict[str, dict[str, TTRPCMethod | StreamMethod]]:
    methods: dict[str, TTRPCMethod | StreamMethod] = {
        "Count": server_stream_handler(COUNT, count),
        "EmptyCount": server_stream_handler(EMPTY_COUNT, empty_count),
        "Join": client_stream_handler(JOIN, join),
        "Upper": bidi_stream_handler(UPPER, upper),
        "Echo": echo,
    }
    if stuck is not None:
        methods["Stuck"] = StreamMethod(stuck, client_streaming=True, server_streaming=False)
    return {SVC: methods}


def serve(target: str, stuck: Stuck | None = None, server: Server | None = None) -> AbstractAsyncContextManager[Server]:
    return serving(services(stuck), target, server)


def test_four_shapes() -> None:
    name = abstract_name()

    async def main() -> None:
        async with serve(name):
            async with await Client.connect(name) as client:
                assert await client.call(SVC, "Echo", b"unary") == b"unary"
                ss = await open_server_stream(client, SVC, COUNT, UInt32Value(value=4))
                assert [m.value async for m in ss] == ["0", "1", "2", "3"]
                cs = await open_client_stream(client, SVC, JOIN)
                for w in ("a", "", "c"):
                    await cs.send(StringValue(value=w))
                assert (await cs.close_and_recv()).value == "a++c"
                assert await cs.recv() is None
                bidi = await open_bidi_stream(client, SVC, UPPER)
                await bidi.send(StringValue(value="x"))
                assert (await bidi.recv()) == StringValue(value="X")
                await bidi.send(StringValue(value="yz"))
                await bidi.close_send()
                assert [m.value async for m in bidi] == ["YZ"]
                with pytest.raises(StreamClosedError):
                    await bidi.send(StringValue(value="after close"))

    run(main())


def test_empty_request_server_stream_completes() -> None:
    """Go 1.2.3 hung here: an empty message is a zero-length payload."""
    name = abstract_name()

    async def main() -> None:
        async with serve(name), await Client.connect(name) as client:
            ss = await open_server_stream(client, SVC, EMPTY_COUNT, Empty())
            assert [m.value async for m in ss] == ["0", "1", "2"]
            zero = await open_server_stream(client, SVC, COUNT, UInt32Value(value=0))
            assert [m async for m in zero] == []

    run(main())


def test_errors_mid_stream_arrive_after_the_messages_before_them() -> None:
    name = abstract_name()

    async def main() -> None:
        async with serve(name), await Client.connect(name) as client:
            ss = await open_server_stream(client, SVC, COUNT, UInt32Value(value=13))
            got: list[str] = []
            with pytest.raises(TTRPCError) as info:
                async for m in ss:
                    got.append(m.value)
            assert got == [str(i) for i in range(13)]
            assert (info.value.code, info.value.message) == (Code.NOT_FOUND, "unlucky")
            bidi = await open_bidi_stream(client, SVC, UPPER)
            await bidi.send(StringValue(value="ok"))
            await bidi.send(StringValue(value="boom"))
            assert await bidi.recv() == StringValue(value="OK")
            with pytest.raises(TTRPCError, match="boom mid-stream"):
                await bidi.recv()
            unknown = await client.open_stream(SVC, "Nope")
            with pytest.raises(TTRPCError) as info:
                await unknown.recv()
            assert info.value.code == Code.UNIMPLEMENTED
            assert await client.call(SVC, "Echo", b"still") == b"still"

    run(main())


def test_many_and_large_messages() -> None:
    name = abstract_name()

    async def main() -> None:
        async with serve(name), await Client.connect(name) as client:
            bidi = await open_bidi_stream(client, SVC, UPPER)
            big = "q" * (3 << 20)

            async def reader() -> list[str]:
                return [m.value async for m in bidi]

            task = asyncio.create_task(reader())
            for i in range(2000):
                await bidi.send(StringValue(value=f"m{i}"))
            await bidi.send(StringValue(value=big))
            await bidi.close_send()
            got = await task
            assert got[:2000] == [f"M{i}" for i in range(2000)] and got[2000] == big.upper()
            assert len(got) == 2001

    run(main(), timeout=60)


def test_data_for_unknown_streams_is_ignored_and_the_server_serves_on() -> None:
    """Go 1.2.0-1.2.7 panic on this frame."""
    name = abstract_name()

    async def main() -> None:
        async with serve(name):
            reader, writer = await raw_connect(name)
            conn = ClientConnection()
            writer.write(struct.pack(">IIBB", 2, 41, 3, 0) + b"zz")  # Data, stream never opened
            sid, out = conn.send_request(SVC, "Echo", b"ok")
            writer.write(out)
            (ev,) = await read_events(reader, conn)
            assert ev == ResponseReceived(sid, None, b"ok")
            # Data on an in-flight unary call (also a Go panic) is ignored too.
            writer.write(conn.send_request(SVC, "Echo", b"x")[1][:-1])
            writer.write(b"x" + struct.pack(">IIBB", 1, sid + 2, 3, 0) + b"d")
            (ev,) = await read_events(reader, conn)
            assert ev == ResponseReceived(sid + 2, None, b"x")
            writer.close()

    run(main())


def test_non_increasing_stream_ids_are_refused() -> None:
    name = abstract_name()

    async def main() -> None:
        async with serve(name):
            reader, writer = await raw_connect(name)
            conn = ClientConnection()
            _, first = conn.send_request(SVC, "Echo", b"1")
            writer.write(first + first)
            events = await read_events(reader, conn, 2)  # in either order: both are on id 1
            assert ResponseReceived(1, None, b"1") in events
            (refused,) = [e for e in events if isinstance(e, ResponseReceived) and e.status is not None]
            assert refused.status is not None and refused.status.code == Code.INVALID_ARGUMENT
            assert refused.status.message == "StreamID cannot be re-used and must increment"
            writer.close()

    run(main())


def test_slow_reader_on_the_server_fails_alone_and_memory_stays_bounded() -> None:
    name = abstract_name()
    stuck = Stuck()

    async def main() -> None:
        async with serve(name, stuck) as server, await Client.connect(name) as client:
            slow = await client.open_stream(SVC, "Stuck")
            await stuck.started.wait()
            chunk = bytes(64 * 1024)
            for _ in range(STREAM_BUFFER // len(chunk) + 4):
                await slow.send(chunk)
            # Meanwhile another stream on the same connection is not held up.
            bidi = await open_bidi_stream(client, SVC, UPPER)
            await bidi.send(StringValue(value="fast"))
            assert await bidi.recv() == StringValue(value="FAST")
            (proto,) = server._conns
            assert proto._budget is not None and proto._budget.used <= STREAM_BUFFER
            stuck.release.set()
            with pytest.raises(TTRPCError) as info:
                await slow.recv()
            assert info.value.code == Code.RESOURCE_EXHAUSTED
            assert "reader too slow" in info.value.message
            assert isinstance(stuck.error, TTRPCError)
            assert proto._budget.used == 0

    run(main())


def test_slow_reader_on_the_client_fails_alone() -> None:
    name = abstract_name()

    async def flood(ctx: TTRPCMethodContext, stream: ServerStream) -> None:
        chunk = bytes(64 * 1024)
        for _ in range(STREAM_BUFFER // len(chunk) + 8):
            await stream.send(chunk)

    server = Server()
    server.register_service("f", {"Flood": StreamMethod(flood, client_streaming=False, server_streaming=True)})

    async def main() -> None:
        async with serve(name, server=server), await Client.connect(name) as client:
            slow = await client.open_stream("f", "Flood", client_streaming=False)
            # Not reading `slow`; a second stream still gets through.
            ss = await open_server_stream(client, SVC, COUNT, UInt32Value(value=3))
            assert [m.value async for m in ss] == ["0", "1", "2"]
            await slow._inbox.ended_future()  # the overflow ends it while nobody reads
            assert client._proto.budget.used == 0
            with pytest.raises(TTRPCError) as info:
                await slow.recv()
            assert info.value.code == Code.RESOURCE_EXHAUSTED
            assert await client.call(SVC, "Echo", b"fine") == b"fine"

    run(main())


def test_closing_the_connection_ends_every_stream() -> None:
    name = abstract_name()
    stuck = Stuck()
    hang = Hang()

    async def main() -> None:
        server = Server()
        server.register_service("h", {"Hang": StreamMethod(lambda ctx, s: hang(ctx, b""), True, True)})
        async with serve(name, stuck, server) as srv:
            client = await Client.connect(name)
            streams = [await client.open_stream(SVC, "Stuck"), await client.open_stream("h", "Hang")]
            await asyncio.wait_for(hang.started.wait(), 5)
            srv.close()  # the server goes away
            for s in streams:
                with pytest.raises(ClosedError):
                    await s.recv()
                with pytest.raises(ClosedError):
                    await s.send(b"x")
            await asyncio.wait_for(hang.cancelled.wait(), 5)  # its handler was cancelled
            await client.close()

    run(main())


def test_deadline_and_cancellation() -> None:
    name = abstract_name()
    seen: list[float | None] = []

    async def slow(ctx: TTRPCMethodContext, stream: ServerStream) -> None:
        seen.append(ctx.deadline)
        await stream.send(b"first")
        await asyncio.Event().wait()

    server = Server()
    server.register_service("d", {"Slow": StreamMethod(slow, client_streaming=False, server_streaming=True)})

    async def main() -> None:
        async with serve(name, server=server), await Client.connect(name) as client:
            timed = await client.open_stream("d", "Slow", client_streaming=False, timeout=0.2)
            assert await timed.recv() == b"first"
            with pytest.raises(TTRPCError) as info:
                await timed.recv()
            assert info.value.code == Code.DEADLINE_EXCEEDED
            assert seen[0] is not None  # the server was told the deadline
            cancelled = await client.open_stream("d", "Slow", client_streaming=False)
            assert await cancelled.recv() == b"first"
            cancelled.cancel()
            with pytest.raises(TTRPCError) as info:
                await cancelled.recv()
            assert info.value.code == Code.CANCELLED
            assert client._proto.streams == {}
            assert await client.call(SVC, "Echo", b"on") == b"on"

    run(main())


def test_a_blocked_write_does_not_deadlock_the_client() -> None:
    """Go 1.2.4: a client stuck writing to a server that does not read."""

    async def main() -> None:
        accepted: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()

        async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set_result(writer)  # never reads

        name = abstract_name()
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind("\0" + name[1:])
        srv = await asyncio.start_unix_server(on_conn, sock=lsock)
        client = await Client.connect(name)
        stream = await client.open_stream("x", "y", timeout=1.0)
        writer = await accepted
        with pytest.raises(TTRPCError) as info:
            while True:
                await stream.send(bytes(256 * 1024))
        assert info.value.code == Code.DEADLINE_EXCEEDED
        await asyncio.wait_for(client.close(), 5)
        writer.close()
        srv.close()

    run(main())


def test_no_data_after_the_server_ended_the_stream() -> None:
    """Sending then would reach no handler (and crash a Go 1.2.0-1.2.7 server)."""
    name = abstract_name()

    async def early(ctx: TTRPCMethodContext, stream: ServerStream) -> bytes:
        return b"done before reading"

    server = Server()
    server.register_service("e", {"Early": StreamMethod(early, client_streaming=True, server_streaming=False)})

    async def main() -> None:
        async with serve(name, server=server), await Client.connect(name) as client:
            stream = await client.open_stream("e", "Early")
            assert await stream.recv() == b"done before reading"
            assert await stream.recv() is None
            with pytest.raises(StreamClosedError, match="ended by the server"):
                await stream.send(b"late")

    run(main())
