"""ttrpc 1.2 streams against Go ttrpc 1.2.7, both directions.

The Go client runs each scenario against the Go server and the Python server
and must see the same thing; the Python client runs against the Go server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from google.protobuf.empty_pb2 import Empty
from google.protobuf.wrappers_pb2 import StringValue, UInt32Value

from impl.ttrpc import (
    Client,
    Code,
    TTRPCError,
    call_unary,
    open_bidi_stream,
    open_client_stream,
    open_server_stream,
)

from _loops import run
from ._peer import GoServer, go_client, py_server, results
from ._streams import COUNT, ECHO, JOIN, METADATA, STREAMS, UPPER, stream_methods

pytestmark = pytest.mark.interop

SCENARIOS: list[tuple[str, object]] = [
    ("shapes", None),
    ("errors", None),
    ("large", [10, 1 << 20, 4_000_000]),
    ("many", 3000),
    ("cancel", None),
    ("metadata", None),
]


@pytest.mark.parametrize(("test", "arg"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_go_client_sees_the_python_server_as_the_go_server(
    go_peer12: Path, go_server12: GoServer, sock_dir: Path, test: str, arg: object
) -> None:
    target = str(sock_dir / "py12.sock")

    async def main() -> tuple[dict[str, object], dict[str, object]]:
        go = await go_client(go_peer12, go_server12.target, test, arg)
        async with py_server(target, stream_methods(), service=STREAMS):
            py = await go_client(go_peer12, target, test, arg)
        return go, py

    go, py = run(main())
    assert py == go
    rows = results(py)
    # What Go saw, spelled out, so that agreeing on nothing cannot pass.
    if test == "shapes":
        assert rows["server"]["value"] == ["0", "1", "2", "3"]
        assert rows["server-empty"]["value"] == []
        assert rows["client"]["value"] == "a++c"
        assert rows["bidi"]["value"] == ["X", "YZ"]
    elif test == "errors":
        assert (rows["server-error"]["code"], rows["server-error"]["message"]) == (5, "unlucky")
        assert rows["server-error"]["value"] == [str(i) for i in range(13)]
        assert (rows["bidi-error"]["code"], rows["bidi-error"]["value"]) == (9, ["OK"])
        assert (rows["unknown-method"]["code"], rows["unknown-method"]["message"]) == (12, "method Nope")
    elif test in ("large", "many"):
        row = rows[test]
        assert row["code"] == 0 and row.get("error") is None
        value = row["value"]
        assert isinstance(value, dict) and value["match"] is True
    elif test == "cancel":
        assert rows["cancelled"]["error"] == "context canceled" and rows["cancelled"]["value"] == ["A"]
        assert rows["after-cancel"]["value"] == "after"
    elif test == "metadata":
        assert rows["metadata"]["value"] == "a=1\nb=2\nb=3"


def test_python_client_against_the_go_server(go_server12: GoServer) -> None:
    async def main() -> None:
        async with await Client.connect(go_server12.target) as client:
            assert (await call_unary(client, STREAMS, ECHO, StringValue(value="hi"))).value == "hi"
            md = await call_unary(client, STREAMS, METADATA, Empty(), metadata={"B": ["2", "3"], "a": "1"})
            assert md.value == "a=1\nb=2\nb=3"
            ss = await open_server_stream(client, STREAMS, COUNT, UInt32Value(value=5))
            assert [m.value async for m in ss] == ["0", "1", "2", "3", "4"]
            empty = await open_server_stream(client, STREAMS, COUNT, UInt32Value())  # an empty payload
            assert [m async for m in empty] == []
            cs = await open_client_stream(client, STREAMS, JOIN)
            for w in ("a", "", "c"):
                await cs.send(StringValue(value=w))
            assert (await cs.close_and_recv()).value == "a++c"
            none = await open_client_stream(client, STREAMS, JOIN)
            assert (await none.close_and_recv()).value == ""
            bidi = await open_bidi_stream(client, STREAMS, UPPER)
            await bidi.send(StringValue(value="x"))
            assert await bidi.recv() == StringValue(value="X")
            await bidi.send(StringValue(value="yz"))
            await bidi.close_send()
            assert [m.value async for m in bidi] == ["YZ"]

    run(main())


def test_python_client_errors_cancel_and_deadlines_against_go(go_server12: GoServer) -> None:
    async def main() -> None:
        async with await Client.connect(go_server12.target) as client:
            ss = await open_server_stream(client, STREAMS, COUNT, UInt32Value(value=13))
            got: list[str] = []
            with pytest.raises(TTRPCError) as info:
                async for m in ss:
                    got.append(m.value)
            assert got == [str(i) for i in range(13)] and info.value.code == Code.NOT_FOUND
            bidi = await open_bidi_stream(client, STREAMS, UPPER)
            for w in ("ok", "boom"):
                await bidi.send(StringValue(value=w))
            assert await bidi.recv() == StringValue(value="OK")
            with pytest.raises(TTRPCError, match="boom mid-stream") as info:
                await bidi.recv()
            assert info.value.code == Code.FAILED_PRECONDITION
            nope = await client.open_stream(STREAMS, "Nope")
            with pytest.raises(TTRPCError) as info:
                await nope.recv()
            assert (info.value.code, info.value.message) == (Code.UNIMPLEMENTED, "method Nope")
            # Cancel: only this side stops; the connection serves on.
            cancelled = await open_bidi_stream(client, STREAMS, UPPER)
            await cancelled.send(StringValue(value="a"))
            assert await cancelled.recv() == StringValue(value="A")
            cancelled.cancel()
            with pytest.raises(TTRPCError) as info:
                await cancelled.recv()
            assert info.value.code == Code.CANCELLED
            # A deadline ends a stream the server keeps open.
            idle = await open_bidi_stream(client, STREAMS, UPPER, timeout=0.3)
            with pytest.raises(TTRPCError) as info:
                await idle.recv()
            assert info.value.code == Code.DEADLINE_EXCEEDED
            assert (await call_unary(client, STREAMS, ECHO, StringValue(value="on"))).value == "on"

    run(main())


def test_python_client_large_and_many_messages_against_go(go_server12: GoServer) -> None:
    async def main() -> None:
        async with await Client.connect(go_server12.target) as client:
            bidi = await open_bidi_stream(client, STREAMS, UPPER)
            words = [f"w{i}" for i in range(3000)] + ["q" * (4_000_000)]

            async def read() -> list[str]:
                return [m.value async for m in bidi]

            reader = asyncio.create_task(read())
            for w in words:
                await bidi.send(StringValue(value=w))
            await bidi.close_send()
            got = await reader
            assert got == [w.upper() for w in words]
            cs = await open_client_stream(client, STREAMS, JOIN)
            for w in words[:3000]:
                await cs.send(StringValue(value=w))
            assert (await cs.close_and_recv()).value == "+".join(words[:3000])

    run(main())
