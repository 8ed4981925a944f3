"""Server and Client over real unix sockets, Python on both ends."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

import pytest

from impl.ttrpc import (
    MAX_MESSAGE,
    Client,
    ClientConnection,
    ClosedError,
    Code,
    ResponseReceived,
    Server,
    Status,
    TTRPCError,
    require_root,
    require_same_user,
    require_uid_gid,
)
from shimtypes import PeerCredentials, TTRPCMethod, TTRPCMethodContext, TTRPCServer

from ._helpers import Hang, abstract_name, echo, raw_connect, read_events, run, serving, sock_path, wait_until

SVC = "test.Svc"


async def describe(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
    info = {
        "service": ctx.service,
        "method": ctx.method,
        "metadata": {k: list(v) for k, v in ctx.metadata.items()},
        "deadline": ctx.deadline,
        "peer": list(ctx.peer) if ctx.peer else None,
    }
    return json.dumps(info).encode()


async def fail(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
    raise TTRPCError(Code.NOT_FOUND, payload.decode())


async def boom(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
    raise RuntimeError("boom: " + payload.decode())


async def big(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
    return b"\0" * MAX_MESSAGE


BASIC: dict[str, TTRPCMethod] = {"Echo": echo, "Describe": describe, "Fail": fail, "Boom": boom, "Big": big}


def test_server_satisfies_shimtypes_protocol() -> None:
    server: TTRPCServer = Server()
    server.register_service(SVC, BASIC)
    with pytest.raises(ValueError, match="duplicate service"):
        server.register_service(SVC, BASIC)


def test_success_errors_and_unknowns(sock_dir: str, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: BASIC}, path):
            client = await Client.connect(path)
            assert await client.call(SVC, "Echo", b"\x0a\x02hi") == b"\x0a\x02hi"
            assert await client.call(SVC, "Echo", b"") == b""
            with pytest.raises(TTRPCError) as info:
                await client.call(SVC, "Fail", b"no such thing")
            assert (info.value.code, info.value.message) == (Code.NOT_FOUND, "no such thing")
            with pytest.raises(TTRPCError) as info:
                await client.call(SVC, "Boom", b"x")
            assert (info.value.code, info.value.message) == (Code.UNKNOWN, "boom: x")
            with pytest.raises(TTRPCError) as info:
                await client.call("nope.Svc", "Echo", b"")
            assert (info.value.code, info.value.message) == (Code.UNIMPLEMENTED, "service nope.Svc")
            with pytest.raises(TTRPCError) as info:
                await client.call(SVC, "Nope", b"")
            assert (info.value.code, info.value.message) == (Code.UNIMPLEMENTED, "method Nope")
            # A reply over 4 MiB is never sent; the server answers instead.
            with pytest.raises(TTRPCError) as info:
                await client.call(SVC, "Big", b"")
            assert info.value.code == Code.RESOURCE_EXHAUSTED
            assert "exceed maximum message size of 4194304" in info.value.message
            # A request over 4 MiB is refused locally; the connection lives on.
            with pytest.raises(TTRPCError) as info:
                await client.call(SVC, "Echo", b"\0" * MAX_MESSAGE)
            assert info.value.code == Code.RESOURCE_EXHAUSTED
            assert await client.call(SVC, "Echo", b"ok") == b"ok"
            await client.close()

    with caplog.at_level(logging.ERROR, logger="impl.ttrpc"):
        run(main())
    booms = [r for r in caplog.records if "Boom" in r.getMessage()]
    assert booms and booms[0].exc_info is not None  # logged with its traceback


def test_metadata_deadline_and_peer_reach_the_handler(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: BASIC}, path):
            client = await Client.connect(path)
            md = {"Containerd-Namespace-TTRPC": "default", "multi": ["a", "b", "a"]}
            info = json.loads(await client.call(SVC, "Describe", b"", metadata=md, timeout=30))
            assert info["metadata"] == {"containerd-namespace-ttrpc": ["default"], "multi": ["a", "b", "a"]}
            assert info["service"] == SVC and info["method"] == "Describe"
            assert 25 < info["deadline"] - time.monotonic() <= 30
            assert info["peer"] == [os.getpid(), os.geteuid(), os.getegid()]
            info = json.loads(await client.call(SVC, "Describe", b""))
            assert info["deadline"] is None and info["metadata"] == {}
            await client.close()

    run(main())


def test_server_lower_cases_raw_metadata_keys(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: BASIC}, path):
            reader, writer = await raw_connect(path)
            conn = ClientConnection()
            _, out = conn.send_request(SVC, "Describe", b"", 0, [("X-Key", "1"), ("x-key", "2")])
            writer.write(out)
            (ev,) = await read_events(reader, conn)
            assert isinstance(ev, ResponseReceived) and ev.status is None
            assert json.loads(ev.payload)["metadata"] == {"x-key": ["1", "2"]}
            writer.close()

    run(main())


def test_timeout_fails_locally_and_cancels_the_handler(sock_dir: str) -> None:
    hang = Hang()

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: {"Hang": hang, "Echo": echo}}, path):
            client = await Client.connect(path)
            with pytest.raises(TTRPCError) as info:
                await client.call(SVC, "Hang", b"", timeout=0.2)
            assert info.value.code == Code.DEADLINE_EXCEEDED
            await hang.cancelled.wait()  # the server enforced the same deadline
            # The connection is still usable; the late reply (if any) is dropped.
            assert await client.call(SVC, "Echo", b"after") == b"after"
            await client.close()

    run(main())


def test_server_answers_deadline_exceeded_itself(sock_dir: str) -> None:
    calls: list[str] = []
    hanging = Hang()

    async def hang(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        calls.append("hang")
        return await hanging(ctx, payload)

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: {"Hang": hang}}, path):
            reader, writer = await raw_connect(path)
            conn = ClientConnection()
            sid, out = conn.send_request(SVC, "Hang", b"", 50_000_000)  # 50 ms, no local timer
            writer.write(out)
            (ev,) = await read_events(reader, conn)
            assert ev == ResponseReceived(sid, Status(Code.DEADLINE_EXCEEDED, "context deadline exceeded"), b"")
            assert hanging.cancelled.is_set()
            # An already-expired deadline is answered without running the handler.
            sid, out = conn.send_request(SVC, "Hang", b"", -1)
            writer.write(out)
            (ev,) = await read_events(reader, conn)
            assert ev == ResponseReceived(sid, Status(Code.DEADLINE_EXCEEDED, "context deadline exceeded"), b"")
            assert calls == ["hang"]
            writer.close()

    run(main())


def test_hundred_concurrent_calls_complete_out_of_order(sock_dir: str) -> None:
    gates = {i: asyncio.Event() for i in range(100)}
    arrived = asyncio.Event()
    seen: set[int] = set()

    async def gated(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        i = int(payload)
        seen.add(i)
        if len(seen) == len(gates):
            arrived.set()
        await gates[i].wait()
        return b"r" + payload

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: {"Gated": gated}}, path):
            client = await Client.connect(path)
            done: list[int] = []

            async def one(i: int) -> bytes:
                r = await client.call(SVC, "Gated", str(i).encode())
                done.append(i)
                return r

            tasks = [asyncio.create_task(one(i)) for i in range(100)]
            await arrived.wait()  # all 100 handlers run at once
            for i in reversed(range(100)):
                gates[i].set()
            results = await asyncio.gather(*tasks)
            assert results == [b"r" + str(i).encode() for i in range(100)]
            assert done == list(reversed(range(100)))
            await client.close()

    run(main())


def test_shutdown_finishes_in_flight_call(sock_dir: str) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        started.set()
        await release.wait()
        return b"finished"

    async def main() -> None:
        path = sock_path(sock_dir)
        server = Server()
        server.register_service(SVC, {"Slow": slow})
        serve = asyncio.create_task(server.serve(path))
        await wait_until(lambda: os.path.exists(path), "the socket file")
        closed = asyncio.Event()
        client = await Client.connect(path, on_close=closed.set)
        call = asyncio.create_task(client.call(SVC, "Slow", b""))
        await started.wait()
        shutdown = asyncio.create_task(server.shutdown())
        await wait_until(lambda: not os.path.exists(path), "the listener to go first")
        with pytest.raises(OSError):
            await Client.connect(path)
        assert not shutdown.done()
        release.set()
        assert await call == b"finished"
        await shutdown
        await serve
        await closed.wait()  # then the server closed the connection
        with pytest.raises(ClosedError):
            await client.call(SVC, "Slow", b"")

    run(main())


def test_server_close_fails_pending_calls_and_cancels_handlers(sock_dir: str) -> None:
    hang = Hang()

    async def main() -> None:
        path = sock_path(sock_dir)
        closes: list[int] = []
        closed = asyncio.Event()

        def on_close() -> None:
            closes.append(1)
            closed.set()

        server = Server()
        server.register_service(SVC, {"Hang": hang})
        await server.listen(path)
        client = await Client.connect(path, on_close=on_close)
        calls = [asyncio.create_task(client.call(SVC, "Hang", b"")) for _ in range(3)]
        await hang.started.wait()
        server.close()
        await server.wait_closed()
        for c in calls:
            with pytest.raises(ClosedError, match="ttrpc: closed"):
                await c
        await hang.cancelled.wait()
        await closed.wait()
        await client.close()
        await client.close()
        assert closes == [1]
        assert client.closed

    run(main())


def test_client_close_fails_pending_and_runs_on_close_once(sock_dir: str) -> None:
    hang = Hang()

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: {"Hang": hang}}, path):
            closes: list[int] = []
            client = await Client.connect(path, on_close=lambda: closes.append(1))
            call = asyncio.create_task(client.call(SVC, "Hang", b""))
            await hang.started.wait()
            await client.close()
            with pytest.raises(ClosedError) as info:
                await call
            assert isinstance(info.value, TTRPCError) and isinstance(info.value, ConnectionError)
            assert str(info.value) == "ttrpc: closed"
            await client.close()
            with pytest.raises(ClosedError):
                await client.call(SVC, "Hang", b"")
            assert closes == [1]

    run(main())


def test_abstract_socket() -> None:
    async def main() -> None:
        name = abstract_name()
        async with serving({SVC: BASIC}, name):
            client = await Client.connect(name)
            assert await client.call(SVC, "Echo", b"abstract") == b"abstract"
            await client.close()

    run(main())


def test_handed_in_listening_socket_and_connected_client_socket(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(16)
        async with serving({SVC: BASIC}, listener):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            sock.setblocking(False)
            client = await Client.connect(sock)
            assert await client.call(SVC, "Echo", b"handed") == b"handed"
            await client.close()
        assert listener.fileno() == -1  # the server owned and closed it

    run(main())


def test_serve_path_removes_socket_file_on_close(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: BASIC}, path):
            assert os.path.exists(path)
        assert not os.path.exists(path)
        with pytest.raises(RuntimeError, match="server closed"):
            s = Server()
            s.close()
            await s.serve(path)

    run(main())


def test_oversized_request_gets_resource_exhausted_and_connection_survives(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: BASIC}, path):
            reader, writer = await raw_connect(path)
            n = MAX_MESSAGE + 1
            writer.write(struct.pack(">IIBB", n, 1, 1, 0) + b"\x0a" * n)
            conn = ClientConnection()
            conn.send_request(SVC, "Echo", b"")  # id 1 went out by hand above
            (ev,) = await read_events(reader, conn)
            assert ev == ResponseReceived(
                1,
                Status(Code.RESOURCE_EXHAUSTED, "message length 4194305 exceed maximum message size of 4194304"),
                b"",
            )
            sid, out = conn.send_request(SVC, "Echo", b"still here")
            writer.write(out)
            (ev,) = await read_events(reader, conn)
            assert ev == ResponseReceived(sid, None, b"still here")
            writer.close()

    run(main())


def test_even_id_and_garbage_request_are_answered(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        # Go 1.1.1's rules (id 1 after 5 is fine); 1.2's are in test_ttrpc_streams.
        async with serving({SVC: BASIC}, path, Server(legacy=True)):
            reader, writer = await raw_connect(path)
            conn = ClientConnection()
            _, good = conn.send_request(SVC, "Echo", b"x")
            even = struct.pack(">I", 2).join([good[:4], good[8:]])
            garbage = struct.pack(">IIBB", 3, 5, 1, 0) + b"\xff\xff\xff"
            data_frame = struct.pack(">IIBB", 2, 7, 3, 0) + b"zz"
            writer.write(even + garbage + data_frame + good)
            events = await read_events(reader, conn, 3)
            by_id = {e.stream_id: e for e in events if isinstance(e, ResponseReceived)}
            assert by_id[2].status == Status(Code.INVALID_ARGUMENT, "StreamID must be odd for client initiated streams")
            st = by_id[5].status
            assert st is not None and st.code == Code.INVALID_ARGUMENT
            assert st.message.startswith("unmarshal request error: ")
            assert by_id[1] == ResponseReceived(1, None, b"x")
            assert 7 not in by_id  # Data frames are ignored, as 1.1.1 does
            writer.close()

    run(main())


def test_live_server_keeps_serving_under_abuse(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: BASIC}, path) as server:
            good = await Client.connect(path)
            abusers = []
            payloads = [
                os.urandom(4096),  # garbage
                struct.pack(">IIBB", 0xFFFFFFFF, 1, 1, 0) + b"\0" * 100000,  # huge length, partial
                struct.pack(">IIBB", 100, 1, 1, 0) + b"\0" * 10,  # half a frame
                b"\x00\x00\x00",  # half a header
                struct.pack(">IIBB", 3, 1, 1, 0) + b"\x0a\x05a",  # truncated protobuf
                struct.pack(">IIBB", 0, 2, 9, 0xFF) * 1000,  # even ids, unknown type
            ]
            for data in payloads:
                _, w = await raw_connect(path)
                w.write(data)
                abusers.append(w)
            for i in range(20):
                assert await good.call(SVC, "Echo", b"%d" % i) == b"%d" % i
            for w in abusers[::2]:
                w.close()
            for i in range(20):
                assert await good.call(SVC, "Echo", b"%d" % i) == b"%d" % i
            for w in abusers[1::2]:
                w.close()
            # Every abusive connection is dropped (no leak on truncated frames).
            await wait_until(lambda: len(server._conns) == 1, "the abusive connections to be dropped")
            assert await good.call(SVC, "Echo", b"last") == b"last"
            await good.close()

    run(main())


def test_peer_check_refuses_other_uid_without_a_frame(sock_dir: str, caplog: pytest.LogCaptureFixture) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run a client under another uid")
    name = abstract_name()  # abstract: no filesystem permissions in the way
    seen: list[PeerCredentials] = []

    def check(peer: PeerCredentials) -> bool:
        seen.append(peer)
        return require_same_user()(peer)

    # The refused client is a separate process under uid/gid 65534 speaking
    # raw bytes: it sends a valid request and must read EOF, not a frame.
    conn = ClientConnection()
    _, req = conn.send_request(SVC, "Echo", b"hi")
    script = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX)\n"
        f"s.connect({chr(0) + name[1:]!r})\n"
        "try:\n"
        f"    s.sendall({req!r})\n"
        "except (BrokenPipeError, ConnectionResetError):\n"
        "    pass\n"
        "try:\n"
        "    data=s.recv(100)\n"
        "except ConnectionResetError:\n"
        "    data=b''\n"
        "print('EOF' if data==b'' else 'DATA'+data.hex())\n"
    )

    def drop_privileges() -> None:
        os.setgid(65534)
        os.setuid(65534)

    async def main() -> None:
        server = Server(peer_check=check)
        async with serving({SVC: BASIC}, name, server):
            proc = await asyncio.create_subprocess_exec(
                "/usr/bin/python3",
                "-c",
                script,
                stdout=asyncio.subprocess.PIPE,
                preexec_fn=drop_privileges,
            )
            out, _ = await proc.communicate()
            assert proc.returncode == 0
            assert out.strip() == b"EOF"
            # Same user (root) passes the check.
            client = await Client.connect(name)
            assert await client.call(SVC, "Echo", b"ok") == b"ok"
            await client.close()

    with caplog.at_level(logging.WARNING, logger="impl.ttrpc"):
        run(main())
    assert [p.uid for p in seen] == [65534, 0]
    assert any("ttrpc: refusing connection after handshake" in r.getMessage() for r in caplog.records)


def test_refused_python_client_sees_closed() -> None:
    async def main() -> None:
        name = abstract_name()
        server = Server(peer_check=lambda peer: False)
        async with serving({SVC: BASIC}, name, server):
            closed = asyncio.Event()
            client = await Client.connect(name, on_close=closed.set)
            with pytest.raises(ClosedError):
                await client.call(SVC, "Echo", b"x")
            await closed.wait()

    run(main())


def test_require_root_and_uid_gid() -> None:
    assert require_root()(PeerCredentials(1, 0, 0))
    assert not require_root()(PeerCredentials(1, 0, 5))
    assert not require_root()(PeerCredentials(1, 1000, 0))
    check = require_uid_gid(1000, -1)
    assert check(PeerCredentials(1, 1000, 7)) and not check(PeerCredentials(1, 1001, 7))
    assert require_uid_gid(-1, -1)(PeerCredentials(1, 5, 5))


def test_require_same_user_admits_root_and_self() -> None:
    check = require_same_user()
    assert check(PeerCredentials(1, os.geteuid(), 0))
    assert check(PeerCredentials(1, 0, 0))
    assert not check(PeerCredentials(1, 4242 if os.geteuid() != 4242 else 4343, 0))


def test_require_same_user_matches_uid_and_gid_as_go_does() -> None:
    euid, egid = os.geteuid(), os.getegid()
    other = 4242 if euid != 4242 else 4343
    other_gid = 4242 if egid != 4242 else 4343
    check = require_same_user()
    assert check(PeerCredentials(1, euid, egid))
    assert not check(PeerCredentials(1, euid, other_gid))  # same uid, another group: refused (Go too)
    assert not check(PeerCredentials(1, other, egid))
    if euid != 0:
        assert not check(PeerCredentials(1, 0, 0))  # root only when asked for
    with_root = require_same_user(allow_root=True)
    assert with_root(PeerCredentials(1, 0, other_gid)) and with_root(PeerCredentials(1, euid, egid))
    assert not with_root(PeerCredentials(1, other, egid))


def test_same_uid_other_gid_is_refused_for_real() -> None:
    """A real client process with our uid but another gid (Go refuses it too)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a client under another gid")
    name = abstract_name()
    script = (
        "import asyncio,sys\n"
        "from impl.ttrpc import Client, ClosedError\n"
        "async def main():\n"
        "    c = await Client.connect(sys.argv[1])\n"
        "    try:\n"
        "        print(await c.call('s', 'Echo', b'x', timeout=10))\n"
        "    except ClosedError:\n"
        "        print('refused')\n"
        "    await c.close()\n"
        "asyncio.run(main())\n"
    )

    async def client(gid: int) -> str:
        proc = await asyncio.create_subprocess_exec(
            "setpriv", f"--regid={gid}", "--clear-groups", "--", sys.executable, "-c", script, name,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        return out.decode().strip()

    async def main() -> None:
        async with serving({"s": {"Echo": echo}}, name, Server(peer_check=require_same_user())):
            assert await client(65534) == "refused"
            assert await client(os.getegid()) == "b'x'"

    run(main(), timeout=60)
