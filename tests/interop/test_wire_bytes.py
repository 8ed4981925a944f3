"""Byte-exact comparisons with Go 1.1.1, on raw sockets.

Server side: the same raw frames go to a Go server and to a Python server
serving the same service; the reply frames (header and data) must be
identical. Client side: a recording server captures what the Go client and
the Python client send for the same call.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from google.protobuf import empty_pb2

from impl.ttrpc import Client
from shimtypes.pb.ttrpc_pb2 import KeyValue, Request, Response

from ._frames import DATA, HEADER, REQUEST, RESPONSE, exchange, frame
from _loops import run
from ._peer import GoServer, go_client, py_server
from ._service import MAX_MESSAGE, SERVICE, bytes_value, methods, string_value, uint64_value

pytestmark = pytest.mark.interop

def request(
    stream_id: int, method: str, payload: bytes, *, service: str = SERVICE, metadata: list[KeyValue] | None = None
) -> bytes:
    msg = Request(service=service, method=method, payload=payload, metadata=metadata)
    return frame(stream_id, msg.SerializeToString())


def oversized(stream_id: int) -> bytes:
    return HEADER.pack(MAX_MESSAGE + 1, stream_id, REQUEST, 0) + b"\0" * (MAX_MESSAGE + 1)


# (name, bytes to send, number of reply frames expected)
CASES: list[tuple[str, bytes, int]] = [
    ("echo", request(1, "Echo", bytes_value(b"hi")), 1),
    ("echo-empty", request(3, "Echo", b""), 1),  # empty message -> zero-length frame
    ("fail", request(5, "Fail", string_value("5:not found: ünï")), 1),
    ("unknown-service", request(7, "Echo", b"", service="nope.Svc"), 1),
    ("unknown-method", request(9, "Nope", b""), 1),
    ("even-id", request(2, "Echo", bytes_value(b"x")), 1),
    ("oversized", oversized(11), 1),
    ("reused-id", request(1, "Echo", bytes_value(b"again")), 1),
    ("data-frame-ignored", frame(13, b"\x01\x02", DATA) + request(15, "Echo", bytes_value(b"d")), 1),
    ("unknown-type-ignored", frame(17, b"zz", 0x7F) + request(19, "Echo", bytes_value(b"u")), 1),
    ("flags-ignored", frame(21, Request(service=SERVICE, method="Echo").SerializeToString(), REQUEST, 0x05), 1),
    (
        "metadata",
        request(
            23,
            "Metadata",
            empty_pb2.Empty().SerializeToString(),
            metadata=[KeyValue(key="b", value="2"), KeyValue(key="a", value="1"), KeyValue(key="b", value="3")],
        ),
        1,
    ),
    ("big-exact", request(25, "Big", uint64_value(MAX_MESSAGE - 10)), 1),
]


def test_python_server_replies_byte_for_byte_like_go(go_server: GoServer, sock_dir: Path) -> None:
    async def main() -> tuple[dict[str, list[bytes]], dict[str, list[bytes]]]:
        go = await exchange(go_server.target, CASES)
        async with py_server(str(sock_dir / "py.sock"), methods(), legacy=True):  # the 1.1.1 peer's rules
            py = await exchange(str(sock_dir / "py.sock"), CASES)
        return go, py

    go, py = run(main())
    # Spot-check what Go sent, so the comparison is not vacuous.
    assert go["echo"] == [HEADER.pack(6, 1, RESPONSE, 0) + b"\x12\x04\x0a\x02hi"]
    assert go["echo-empty"] == [HEADER.pack(0, 3, RESPONSE, 0)]
    assert Response.FromString(go["oversized"][0][10:]).status.code == 8
    assert HEADER.unpack(go["data-frame-ignored"][0][:10])[1] == 15
    for name, _, _ in CASES:
        assert py[name] == go[name], name


def test_undecodable_request_gets_invalid_argument_like_go(go_server: GoServer, sock_dir: Path) -> None:
    # The message text embeds each protobuf library's own decode error, so only
    # the id, the code and the prefix are compared.
    cases = [("garbage", frame(1, b"\xff\xff\xff\xff"), 1), ("echo", request(3, "Echo", bytes_value(b"k")), 1)]

    async def main() -> tuple[dict[str, list[bytes]], dict[str, list[bytes]]]:
        go = await exchange(go_server.target, cases)
        async with py_server(str(sock_dir / "py.sock"), methods()):
            py = await exchange(str(sock_dir / "py.sock"), cases)
        return go, py

    go, py = run(main())
    for got in (go, py):
        head, body = got["garbage"][0][:10], got["garbage"][0][10:]
        assert HEADER.unpack(head)[1:] == (1, RESPONSE, 0)
        status = Response.FromString(body).status
        assert status.code == 3 and status.message.startswith("unmarshal request error: ")
    assert py["echo"] == go["echo"]


async def _record_requests(target: str, frames: list[bytes]) -> asyncio.AbstractServer:
    """A raw server that records each Request frame and answers it minimally."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(HEADER.size)
                data = await reader.readexactly(HEADER.unpack(head)[0])
                frames.append(head + data)
                req = Request.FromString(data)
                reply = req.payload
                if req.method == "Metadata":
                    reply = string_value("{}")
                writer.write(frame(HEADER.unpack(head)[1], Response(payload=reply).SerializeToString(), RESPONSE))
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    return await asyncio.start_unix_server(handle, target)


def test_python_client_requests_match_go_client(go_peer: Path, sock_dir: Path) -> None:
    async def main() -> tuple[list[bytes], list[bytes]]:
        go_frames: list[bytes] = []
        py_frames: list[bytes] = []
        go_target, py_target = str(sock_dir / "go-rec.sock"), str(sock_dir / "py-rec.sock")
        async with await _record_requests(go_target, go_frames), await _record_requests(py_target, py_frames):
            await go_client(go_peer, go_target, "echo", [2])  # BytesValue{value: 00 01}
            await go_client(go_peer, go_target, "metadata", {"containerd-namespace-ttrpc": ["a", "b"]})
            client = await Client.connect(py_target)
            try:
                await client.call(SERVICE, "Echo", bytes_value(b"\x00\x01"))
                await client.call(SERVICE, "Metadata", b"", metadata={"containerd-namespace-ttrpc": ["a", "b"]})
            finally:
                await client.close()
        return go_frames, py_frames

    go, py = run(main())
    assert len(go) == 2
    # Each Go client is a new connection, so its ids restart at 1; the Python
    # client's second call is id 3. Compare headers without the id, and data.
    assert [HEADER.unpack(f[:10])[1] for f in py] == [1, 3]
    for g, p in zip(go, py):
        (g_len, _, g_type, g_flags), (p_len, _, p_type, p_flags) = HEADER.unpack(g[:10]), HEADER.unpack(p[:10])
        assert (g_len, g_type, g_flags) == (p_len, p_type, p_flags)
        assert g[10:] == p[10:]
