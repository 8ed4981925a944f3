"""Byte-exact comparison with a Go ttrpc 1.2.7 server, on raw sockets.

The same raw frames (unary calls, the 1.2 stream-id rules, and every stream
shape) go to the Go server and to the Python server serving the same
``ttrpcpeer.Streams`` service; the reply frames (header and data) must be
identical. Frames a Go 1.2.7 server panics on (Data for an unknown or ended
stream) are left out here; tests/ttrpc covers them on the Python side.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest
from google.protobuf.empty_pb2 import Empty
from google.protobuf.wrappers_pb2 import StringValue, UInt32Value

from shimtypes.pb.ttrpc_pb2 import KeyValue, Request

from _loops import run
from ._peer import GoServer, py_server
from ._streams import STREAMS, stream_methods

pytestmark = pytest.mark.interop

HEADER = struct.Struct(">IIBB")
REQUEST, RESPONSE, DATA = 1, 2, 3
RC, RO, ND = 0x1, 0x2, 0x4


def frame(stream_id: int, data: bytes, mtype: int = REQUEST, flags: int = 0) -> bytes:
    return HEADER.pack(len(data), stream_id, mtype, flags) + data


def request(
    stream_id: int, method: str, payload: bytes = b"", *, flags: int = 0, service: str = STREAMS,
    metadata: list[KeyValue] | None = None,
) -> bytes:
    msg = Request(service=service, method=method, payload=payload, metadata=metadata)
    return frame(stream_id, msg.SerializeToString(), REQUEST, flags)


def s(text: str) -> bytes:
    return StringValue(value=text).SerializeToString()


# (name, bytes to send, reply frames expected); one connection, in order.
CASES: list[tuple[str, bytes, int]] = [
    ("echo", request(1, "Echo", s("hi")), 1),
    ("echo-empty", request(3, "Echo"), 1),
    ("unknown-service", request(5, "Echo", service="nope.Svc"), 1),
    ("unknown-method", request(7, "Nope"), 1),
    ("even-id", request(8, "Echo", s("x")), 1),
    ("reused-id", request(7, "Echo", s("again")), 1),
    ("lower-id", request(3, "Echo", s("lower")), 1),
    ("even-garbage", frame(10, b"\xff\xff"), 1),  # 1.2 checks the id before decoding
    ("unknown-type-ignored", frame(11, b"zz", 0x7F) + request(13, "Echo", s("u")), 1),
    ("flags-ignored-unary", request(15, "Echo", s("f"), flags=RO), 1),
    (
        "metadata",
        request(17, "Metadata", Empty().SerializeToString(),
                metadata=[KeyValue(key="b", value="2"), KeyValue(key="a", value="1"), KeyValue(key="b", value="3")]),
        1,
    ),
    ("server-stream", request(19, "Count", UInt32Value(value=3).SerializeToString(), flags=RC), 4),
    ("server-stream-empty-payload", request(21, "Count", flags=RC), 1),
    ("server-stream-error", request(23, "Count", UInt32Value(value=13).SerializeToString(), flags=RC), 14),
    (
        "client-stream",
        request(25, "Join", flags=RO) + frame(25, s("a"), DATA) + frame(25, b"", DATA)
        + frame(25, s("c"), DATA) + frame(25, b"", DATA, RC | ND),
        1,
    ),
    ("client-stream-none", request(27, "Join", flags=RO) + frame(27, b"", DATA, RC | ND), 1),
    (
        "bidi",
        request(29, "Upper", flags=RO) + frame(29, s("x"), DATA) + frame(29, s("yz"), DATA)
        + frame(29, b"", DATA, RC | ND),
        3,
    ),
    ("bidi-error", request(31, "Upper", flags=RO) + frame(31, s("ok"), DATA) + frame(31, s("boom"), DATA), 2),
    ("after-streams", request(33, "Echo", s("still")), 1),
]


async def exchange(target: str) -> dict[str, list[bytes]]:
    reader, writer = await asyncio.open_unix_connection(target)
    got: dict[str, list[bytes]] = {}
    try:
        for name, data, replies in CASES:
            writer.write(data)
            await writer.drain()
            frames = []
            for _ in range(replies):
                head = await asyncio.wait_for(reader.readexactly(HEADER.size), 10)
                frames.append(head + await asyncio.wait_for(reader.readexactly(HEADER.unpack(head)[0]), 10))
            got[name] = frames
    finally:
        writer.close()
    return got


def test_python_server_replies_byte_for_byte_like_go_1_2_7(go_server12: GoServer, sock_dir: Path) -> None:
    target = str(sock_dir / "py12-wire.sock")

    async def main() -> tuple[dict[str, list[bytes]], dict[str, list[bytes]]]:
        go = await exchange(go_server12.target)
        async with py_server(target, stream_methods(), service=STREAMS):
            py = await exchange(target)
        return go, py

    go, py = run(main())
    # What Go sent, spot-checked, so that agreeing on nothing cannot pass.
    assert HEADER.unpack(go["server-stream"][-1][:10]) == (0, 19, DATA, RC | ND)
    assert [HEADER.unpack(f[:10])[2] for f in go["server-stream"][:3]] == [DATA] * 3
    assert HEADER.unpack(go["client-stream"][0][:10])[2] == RESPONSE
    assert b"StreamID cannot be re-used and must increment" in go["reused-id"][0]
    assert b"StreamID must be odd" in go["even-garbage"][0]
    for name, _, _ in CASES:
        assert py[name] == go[name], name
