"""Gaps found auditing impl.ttrpc against issue 3: layering, bad strings, odd timeouts, memory."""

from __future__ import annotations

import ast
import asyncio
import math
import socket
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import impl.ttrpc
from impl.ttrpc import (
    HEADER_SIZE,
    MAX_MESSAGE,
    Client,
    ClientConnection,
    Code,
    LocalProtocolError,
    RequestReceived,
    ResponseReceived,
    Server,
    ServerConnection,
    TTRPCError,
)
from impl.ttrpc._wire import varint
from shimtypes import TTRPCMethod, TTRPCMethodContext

from ._frames import Frame, frames
from ._helpers import echo, run, serving, sock_path, wait_until

PKG = Path(impl.ttrpc.__file__).parent

# -- the sans-IO core imports no I/O ------------------------------------------

CORE_ROOTS = ("_connection",)
IO_MODULES = {"asyncio", "socket", "selectors", "select", "ssl", "threading", "subprocess", "os", "io"}


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(top-level absolute imports, sibling private modules) of impl/ttrpc/<module>.py."""
    tree = ast.parse((PKG / f"{module}.py").read_text(), filename=f"{module}.py")
    absolute: set[str] = set()
    siblings: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            absolute.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module is not None
                absolute.add(node.module.split(".")[0])
            elif node.level == 1 and node.module:
                siblings.add(node.module)
            elif node.level == 2 and node.module == "_varint":
                # impl/_varint.py, shared with the shim: its imports count as the core's.
                shared = ast.parse((PKG.parent / "_varint.py").read_text(), filename="_varint.py")
                for inner in ast.walk(shared):
                    assert not isinstance(inner, (ast.Import, ast.ImportFrom)), "impl/_varint.py must import nothing"
            else:
                raise AssertionError(f"{module}: unexpected relative import {ast.dump(node)}")
    return absolute, siblings


def test_sans_io_core_imports_no_sockets_or_event_loop() -> None:
    seen: set[str] = set()
    todo = list(CORE_ROOTS)
    used: dict[str, set[str]] = {}
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        absolute, siblings = _imports(mod)
        used[mod] = absolute
        todo.extend(siblings)
    # The closure is the core and nothing of the asyncio layer.
    assert seen == {"_connection", "_events", "_frame", "_wire", "_errors", "_codes"}, seen
    bad = {mod: sorted(names & IO_MODULES) for mod, names in used.items() if names & IO_MODULES}
    assert not bad, f"sans-IO core imports I/O modules: {bad}"


def test_the_import_check_would_notice_an_io_import() -> None:
    # Guard against a vacuous check: the asyncio layer does import them.
    absolute, _ = _imports("_server_protocol")
    assert "asyncio" in absolute
    absolute, _ = _imports("_unix")
    assert "socket" in absolute


# -- strings protobuf cannot carry ---------------------------------------------


@pytest.mark.parametrize(
    ("service", "method", "metadata", "what"),
    [
        ("svc\ud800", "M", [], "service"),
        ("s", "M\udfff", [], "method"),
        ("s", "M", [("k\ud800", "v")], "metadata key"),
        ("s", "M", [("key", "v\ud800")], "metadata value of 'key'"),
    ],
)
def test_lone_surrogates_are_a_local_error_naming_the_field(
    service: str, method: str, metadata: list[tuple[str, str]], what: str
) -> None:
    conn = ClientConnection()
    with pytest.raises(LocalProtocolError, match=f"ttrpc: {what} .* is not valid UTF-8") as info:
        conn.send_request(service, method, b"", 0, metadata)
    assert isinstance(info.value.__cause__, UnicodeEncodeError)
    assert conn.send_request("s", "M", b"")[0] == 1  # no id was used


def test_client_reports_bad_strings_as_invalid_argument_and_stays_usable(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({"s": {"M": echo}}, path):
            client = await Client.connect(path)
            with pytest.raises(TTRPCError) as info:
                await client.call("s\ud800", "M", b"x")
            assert info.value.code == Code.INVALID_ARGUMENT
            assert "ttrpc: service 's\\ud800' is not valid UTF-8" in info.value.message
            with pytest.raises(TTRPCError) as info:
                await client.call("s", "M", b"x", metadata={"k": ["ok", "\udc80"]})
            assert info.value.code == Code.INVALID_ARGUMENT
            assert "ttrpc: metadata value of 'k'" in info.value.message
            assert await client.call("s", "M", b"fine") == b"fine"
            await client.close()

    run(main())


# -- timeouts that are not ordinary numbers ------------------------------------


def test_infinite_nan_and_negative_infinite_timeouts(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        seen: list[int] = []
        replied = asyncio.Event()

        async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conn = ServerConnection()
            while data := await reader.read(65536):
                for ev in conn.receive_data(data):
                    assert isinstance(ev, RequestReceived)
                    seen.append(ev.timeout_nano)
                    writer.write(conn.send_response(ev.stream_id, b"r"))
                    replied.set()
            writer.close()

        srv = await asyncio.start_unix_server(on_conn, path)
        client = await Client.connect(path)
        # +inf: no deadline at all (0 on the wire), and the call completes.
        assert await client.call("s", "m", b"", timeout=math.inf) == b"r"
        assert seen == [0]
        # -inf: already expired; fails locally, never 0 ("no deadline") on the wire.
        with pytest.raises(TTRPCError) as info:
            await client.call("s", "m", b"", timeout=-math.inf)
        assert info.value.code == Code.DEADLINE_EXCEEDED
        # NaN: a caller bug, refused before anything is sent.
        with pytest.raises(ValueError, match="NaN"):
            await client.call("s", "m", b"", timeout=math.nan)
        assert await client.call("s", "m", b"", timeout=30) == b"r"
        assert seen[1] == -(2**63 - 1) and 29e9 < seen[2] <= 30e9 and len(seen) == 3
        await client.close()
        srv.close()

    run(main())


# -- memory: at most one frame's data is ever held --------------------------------


def test_buffer_peaks_at_one_full_frame_and_oversize_is_never_buffered() -> None:
    payload = MAX_MESSAGE - 11  # service(3) + method(3) + payload tag(1) + 4-byte length varint
    body = b"\x0a\x01s\x12\x01m\x1a" + varint(payload)
    assert len(body) + payload == MAX_MESSAGE
    data = struct.pack(">IIBB", MAX_MESSAGE, 1, 1, 0) + body + b"\0" * payload
    conn = ServerConnection()
    peak = 0
    events = []
    for i in range(0, len(data), 65536):
        events += conn.receive_data(data[i : i + 65536])
        peak = max(peak, conn.buffered)
    assert peak < MAX_MESSAGE  # the last chunk completes the frame without buffering it
    assert len(events) == 1 and isinstance(events[0], RequestReceived) and len(events[0].payload) == payload
    # A header announcing the largest possible length buffers nothing while skipping.
    conn = ServerConnection()
    assert conn.receive_data(struct.pack(">IIBB", 0xFFFFFFFF, 3, 1, 0)) == []
    for _ in range(64):
        assert conn.receive_data(b"\0" * 65536) == []
        assert conn.buffered == 0
    assert conn.in_frame


# -- every byte boundary at once, both sides ----------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(frames.map(Frame.encode), st.binary(max_size=24)), min_size=1, max_size=4))
def test_byte_at_a_time_equals_whole_on_both_sides(chunks: list[bytes]) -> None:
    stream = b"".join(chunks)
    for make in (ServerConnection, ClientConnection):
        whole_conn = make()
        whole = whole_conn.receive_data(stream)
        conn = make()
        events = []
        for i in range(len(stream)):
            events += conn.receive_data(stream[i : i + 1])
            assert conn.buffered <= MAX_MESSAGE
        assert events == whole
        assert conn.in_frame == whole_conn.in_frame


# -- a handler's malformed error still gets the caller a reply ---------------------


class _BrokenStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_malformed_handler_errors_still_get_a_reply(sock_dir: str) -> None:
    async def bad_details(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise TTRPCError(Code.ABORTED, "x", details=(("type.x/y", "not bytes"),))  # type: ignore[arg-type]

    async def bad_message(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise TTRPCError(Code.INTERNAL, 42)  # type: ignore[arg-type]

    async def huge_code(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise TTRPCError(2**40, "too big a code")

    async def broken_str(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise _BrokenStr()

    async def main() -> None:
        path = sock_path(sock_dir)
        methods: dict[str, TTRPCMethod] = {
            "Details": bad_details,
            "Message": bad_message,
            "Code": huge_code,
            "Str": broken_str,
            "Echo": echo,
        }
        async with serving({"s": methods}, path):
            client = await Client.connect(path)
            outcomes = {}
            for name in ("Details", "Message", "Code", "Str"):
                with pytest.raises(TTRPCError) as info:
                    await client.call("s", name, b"", timeout=10)
                outcomes[name] = (info.value.wire_code, info.value.message)
            assert await client.call("s", "Echo", b"alive") == b"alive"
            await client.close()
        assert {k: v[0] for k, v in outcomes.items()} == dict.fromkeys(outcomes, Code.UNKNOWN)
        assert outcomes["Code"][1] == "too big a code"
        assert outcomes["Str"][1] == "_BrokenStr"

    run(main())


def test_status_code_outside_int32_goes_out_as_unknown() -> None:
    from shimtypes.pb.ttrpc_pb2 import Response

    for code in (2**31, 2**40, -(2**31) - 1):
        out = ServerConnection().send_error(1, code, "m")
        assert Response.FromString(out[HEADER_SIZE:]).status.code == Code.UNKNOWN
    out = ServerConnection().send_error(1, -5, "m")
    assert Response.FromString(out[HEADER_SIZE:]).status.code == -5


# -- a peer that does not read its replies -------------------------------------------

BIG_REPLY = 1 << 20


async def _pipeline_without_reading(path: str, count: int) -> socket.socket:
    """Connect, send ``count`` requests for 1 MiB replies, read nothing yet."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, path)
    conn = ClientConnection()
    await loop.sock_sendall(sock, b"".join(conn.send_request("s", "Big", b"")[1] for _ in range(count)))
    return sock


def test_non_reading_peer_gets_no_new_calls_started_until_it_reads(sock_dir: str) -> None:
    started: list[int] = []

    async def big(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        started.append(1)
        return b"\0" * BIG_REPLY

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({"s": {"Big": big, "Echo": echo}}, path):
            sock = await _pipeline_without_reading(path, 20)
            await wait_until(lambda: len(started) >= 1, "the first call")
            # Proving a negative: give 19 ungated calls ample loop turns to
            # (wrongly) start; no event can say "nothing else happened".
            for _ in range(200):
                await asyncio.sleep(0)
            assert len(started) <= 2, f"{len(started)} calls ran for a peer that reads nothing"
            # Another connection is not held up by it.
            good = await Client.connect(path)
            assert await good.call("s", "Echo", b"ok", timeout=10) == b"ok"
            await good.close()
            # Once the peer reads, every reply arrives, in full.
            loop = asyncio.get_running_loop()
            client = ClientConnection()
            got: list[object] = []
            while len(got) < 20:
                data = await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 10)
                assert data, "server closed early"
                got += client.receive_data(data)
            for e in got:
                assert isinstance(e, ResponseReceived) and e.status is None and len(e.payload) == BIG_REPLY
            assert len(started) == 20
            sock.close()

    run(main())


def test_close_drops_a_connection_whose_peer_does_not_read(sock_dir: str) -> None:
    async def big(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return b"\0" * BIG_REPLY

    async def main() -> None:
        path = sock_path(sock_dir)
        server = Server()
        server.register_service("s", {"Big": big})
        await server.listen(path)
        sock = await _pipeline_without_reading(path, 4)

        def backed_up() -> bool:
            return any(c._transport is not None and c._transport.get_write_buffer_size() for c in server._conns)

        await wait_until(backed_up, "replies to back up")
        server.close()
        await server.wait_closed()
        await wait_until(lambda: not server._conns, "the connection to be dropped")
        sock.close()

    run(main())


# -- public surface ------------------------------------------------------------


def test_public_names_report_public_modules() -> None:
    import impl.ttrpc.lowlevel as lowlevel

    for module in (impl.ttrpc, lowlevel):
        for name in module.__all__:
            obj = getattr(module, name)
            mod = getattr(obj, "__module__", "")
            if isinstance(obj, type) or callable(obj):
                assert not mod.startswith("impl.ttrpc._"), f"{module.__name__}.{name} reports {mod}"
    assert repr(impl.ttrpc.Server) == "<class 'impl.ttrpc.Server'>"
    assert repr(lowlevel.ServerConnection) == "<class 'impl.ttrpc.lowlevel.ServerConnection'>"
    assert str(impl.ttrpc.TTRPCError(impl.ttrpc.Code.NOT_FOUND, "x").__class__) == "<class 'impl.ttrpc.TTRPCError'>"


def test_lowlevel_is_the_sans_io_core() -> None:
    absolute, siblings = _imports("lowlevel")
    assert not absolute & IO_MODULES
    assert siblings <= {"_connection", "_errors", "_events", "_frame", "_public"}, siblings
