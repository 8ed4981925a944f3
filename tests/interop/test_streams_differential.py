"""Differential: one random sequence of stream operations, run by the Python
client against the Go ttrpc 1.2.7 server and against the Python server; the
client must see exactly the same thing from both.

Operations never send on a stream the server may have ended (a Go 1.2.0-1.2.7
server panics on such Data), and only receive where a reply is due, so every
run ends without waiting on a timer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from google.protobuf.wrappers_pb2 import StringValue, UInt32Value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.ttrpc import Client, TTRPCError, TypedStream, call_unary, open_bidi_stream, open_client_stream, open_server_stream

from _loops import run
from ._peer import GoServer, py_server
from ._streams import COUNT, ECHO, JOIN, STREAMS, UPPER, stream_methods

pytestmark = pytest.mark.interop

words = st.text(alphabet="abcxyz", max_size=6)
Op = tuple[str, int, str]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("count"), st.integers(0, 15), st.just("")),
        st.tuples(st.sampled_from(["upper", "join"]), st.just(0), st.just("")),
        st.tuples(st.sampled_from(["send", "close", "recv", "cancel"]), st.integers(0, 7), words),
        st.tuples(st.just("unary"), st.just(0), words),
    ),
    max_size=30,
)


class _Stream:
    def __init__(self, kind: str, stream: TypedStream[UInt32Value, StringValue] | TypedStream[StringValue, StringValue]) -> None:
        self.kind = kind
        self.stream = stream
        self.sending = kind != "count"
        self.due = 0  # replies owed to this client before it must wait
        self.ended = False


async def _recv(s: _Stream) -> str:
    try:
        msg = await asyncio.wait_for(s.stream.recv(), 10)
    except TTRPCError as exc:
        s.ended = True
        return f"error {exc.code.name} {exc.message}"
    if msg is None:
        s.ended = True
        return "end"
    s.due -= 1
    return f"msg {msg.value}"


async def play(target: str, script: list[Op]) -> list[str]:
    seen: list[str] = []
    streams: list[_Stream] = []
    async with await Client.connect(target) as client:
        for op, n, word in script:
            if op == "count":
                streams.append(_Stream("count", await open_server_stream(client, STREAMS, COUNT, UInt32Value(value=n))))
                streams[-1].due = n + 1  # n messages, then the end (or an error)
            elif op == "upper":
                streams.append(_Stream("upper", await open_bidi_stream(client, STREAMS, UPPER)))
            elif op == "join":
                streams.append(_Stream("join", await open_client_stream(client, STREAMS, JOIN)))
            elif op == "unary":
                seen.append("unary " + (await call_unary(client, STREAMS, ECHO, StringValue(value=word))).value)
            elif streams:
                s = streams[n % len(streams)]
                if op == "send" and s.sending:
                    await s.stream.raw.send(StringValue(value=word).SerializeToString())
                    s.due += s.kind == "upper"
                elif op == "close" and s.sending:
                    await s.stream.close_send()
                    s.sending = False
                    s.due += 1  # the end (upper) or the one response (join)
                elif op == "recv" and s.due > 0 and not s.ended:
                    seen.append(f"recv {streams.index(s)}: {await _recv(s)}")
                elif op == "cancel" and not s.ended:
                    s.stream.cancel()
                    s.ended = True
                    s.sending = False
                    seen.append(f"cancel {streams.index(s)}")
        for i, s in enumerate(streams):
            if s.sending:
                await s.stream.close_send()
                s.sending = False
            while not s.ended:
                seen.append(f"drain {i}: {await _recv(s)}")
    return seen


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops)
def test_same_stream_script_same_observations(go_server12: GoServer, sock_dir: Path, script: list[Op]) -> None:
    target = str(sock_dir / "diff.sock")

    async def main() -> tuple[list[str], list[str]]:
        go = await play(go_server12.target, script)
        async with py_server(target, stream_methods(), service=STREAMS):
            py = await play(target, script)
        return go, py

    go, py = run(main())
    assert py == go
