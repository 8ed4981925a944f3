"""Edge behaviour of the asyncio layer: wire order, disconnects, odd handlers, odd servers."""

from __future__ import annotations

import asyncio
import contextlib
import struct

import pytest

from impl.ttrpc import (
    MAX_MESSAGE,
    Client,
    ClosedError,
    Code,
    Server,
    ServerConnection,
    TTRPCError,
)
from shimtypes import TTRPCMethod, TTRPCMethodContext

from ._helpers import Hang, echo, read_requests, run, serving, sock_path

SVC = "edge.Svc"


Conns = asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]


async def raw_server(path: str) -> tuple[asyncio.AbstractServer, Conns]:
    """A bare listener whose connections the test drives with ServerConnection."""
    conns: Conns = asyncio.Queue()

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await conns.put((r, w))

    srv = await asyncio.start_unix_server(on_conn, path)
    return srv, conns


def test_concurrent_calls_go_out_with_strictly_increasing_odd_ids(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        srv, conns = await raw_server(path)
        client = await Client.connect(path)
        reader, writer = await conns.get()
        sconn = ServerConnection()
        calls = [asyncio.create_task(client.call(SVC, "M", b"%d" % i)) for i in range(50)]
        reqs = await read_requests(reader, sconn, 50)
        ids = [r.stream_id for r in reqs]
        assert ids == list(range(1, 100, 2))
        # Answer in reverse, in one write; then a second wave that the
        # client's batching path sends after the wake-ups.
        writer.write(b"".join(sconn.send_response(r.stream_id, b"re:" + r.payload) for r in reversed(reqs)))
        assert await asyncio.gather(*calls) == [b"re:%d" % i for i in range(50)]
        calls = [asyncio.create_task(client.call(SVC, "M", b"")) for _ in range(5)]
        reqs = await read_requests(reader, sconn, 5)
        assert [r.stream_id for r in reqs] == list(range(101, 111, 2))
        # A reply for an id nobody waits for is dropped; the others land.
        writer.write(sconn.send_response(999, b"stray") + b"".join(sconn.send_response(r.stream_id, b"ok") for r in reqs))
        assert await asyncio.gather(*calls) == [b"ok"] * 5
        await client.close()
        writer.close()
        srv.close()

    run(main())


def test_client_handles_bad_and_oversized_responses(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        srv, conns = await raw_server(path)
        client = await Client.connect(path)
        reader, writer = await conns.get()
        sconn = ServerConnection()
        bad = asyncio.create_task(client.call(SVC, "M", b""))
        big = asyncio.create_task(client.call(SVC, "M", b""))
        (r1, r2) = await read_requests(reader, sconn, 2)
        writer.write(struct.pack(">IIBB", 2, r1.stream_id, 2, 0) + b"\x0a\x09")
        n = MAX_MESSAGE + 1
        writer.write(struct.pack(">IIBB", n, r2.stream_id, 2, 0) + b"\0" * n)
        with pytest.raises(TTRPCError) as info:
            await bad
        assert info.value.code == Code.INTERNAL and "unmarshal response error" in info.value.message
        with pytest.raises(TTRPCError) as info:
            await big
        assert info.value.code == Code.RESOURCE_EXHAUSTED
        assert info.value.message == "message length 4194305 exceed maximum message size of 4194304"
        # Still connected.
        ok = asyncio.create_task(client.call(SVC, "M", b"x"))
        (r3,) = await read_requests(reader, sconn, 1)
        writer.write(sconn.send_response(r3.stream_id, b"fine"))
        assert await ok == b"fine"
        # The server vanishing fails pending calls at once.
        closed = asyncio.Event()
        client2 = await Client.connect(path, on_close=closed.set)
        reader2, writer2 = await conns.get()
        pending = [asyncio.create_task(client2.call(SVC, "M", b"")) for _ in range(3)]
        await read_requests(reader2, ServerConnection(), 3)  # all three in flight
        writer2.close()
        for p in pending:
            with pytest.raises(ClosedError):
                await p
        await closed.wait()
        await client.close()
        writer.close()
        srv.close()

    run(main())


def test_client_disconnect_cancels_its_handlers(sock_dir: str) -> None:
    hang = Hang()

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: {"Hang": hang, "Echo": echo}}, path):
            client = await Client.connect(path)
            call = asyncio.create_task(client.call(SVC, "Hang", b""))
            await hang.started.wait()
            await client.close()
            with pytest.raises(ClosedError):
                await call
            await hang.cancelled.wait()
            other = await Client.connect(path)
            assert await other.call(SVC, "Echo", b"alive") == b"alive"
            await other.close()

    run(main())


def test_odd_handler_outcomes(sock_dir: str) -> None:
    async def cancels_itself(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        fut.cancel()
        return await fut

    async def times_out_itself(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise TimeoutError("backend slow")

    async def wrong_type(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return "text"  # type: ignore[return-value]

    async def bytearray_ok(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return bytearray(b"ba")  # type: ignore[return-value]

    async def odd_code(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise TTRPCError(42, "custom")

    async def with_details(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise TTRPCError(Code.ABORTED, "conflict", details=(("type.googleapis.com/x.Y", b"\x08\x01"),))

    async def main() -> None:
        path = sock_path(sock_dir)
        methods: dict[str, TTRPCMethod] = {
            "Cancel": cancels_itself,
            "Timeout": times_out_itself,
            "Wrong": wrong_type,
            "Bytearray": bytearray_ok,
            "Odd": odd_code,
            "Details": with_details,
        }
        async with serving({SVC: methods}, path):
            client = await Client.connect(path)

            async def status(method: str) -> tuple[int, str]:
                with pytest.raises(TTRPCError) as info:
                    await client.call(SVC, method, b"")
                return info.value.wire_code, info.value.message

            assert await status("Cancel") == (Code.CANCELLED, "context canceled")
            # Not this call's deadline: the handler's own timeout, as Go's convertCode maps context.DeadlineExceeded.
            assert await status("Timeout") == (Code.DEADLINE_EXCEEDED, "backend slow")
            code, msg = await status("Wrong")
            assert code == Code.UNKNOWN and msg == "ttrpc: handler edge.Svc/Wrong returned str, not bytes"
            assert await client.call(SVC, "Bytearray", b"") == b"ba"
            assert await status("Odd") == (42, "custom")
            with pytest.raises(TTRPCError) as info:
                await client.call(SVC, "Details", b"")
            assert info.value.code == Code.ABORTED
            assert info.value.details == (("type.googleapis.com/x.Y", b"\x08\x01"),)
            await client.close()

    run(main())


def test_errdefs_errors_map_to_their_codes_at_the_boundary(sock_dir: str) -> None:
    """A handler's exception answers ``errdefs.code_of``'s code: an ``impl.errdefs`` kind its own,
    an OS error as Go ttrpc's ``convertCode`` maps it, anything else UNKNOWN."""
    from impl import errdefs

    async def missing(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise errdefs.NotFound(f"container {payload.decode()!r}")

    async def conflict(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise errdefs.AlreadyExists("")

    async def plain(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise FileNotFoundError("not a domain error")

    async def denied(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise PermissionError(13, "Permission denied", "/x")

    async def bug(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        raise ValueError("a bug")

    async def main() -> None:
        path = sock_path(sock_dir)
        methods: dict[str, TTRPCMethod] = {
            "Missing": missing,
            "Conflict": conflict,
            "Plain": plain,
            "Denied": denied,
            "Bug": bug,
        }
        async with serving({SVC: methods}, path):
            client = await Client.connect(path)
            got = []
            for method in methods:
                with pytest.raises(TTRPCError) as info:
                    await client.call(SVC, method, b"c1")
                got.append((info.value.wire_code, info.value.message))
            assert got == [
                (Code.NOT_FOUND, "container 'c1'"),
                (Code.ALREADY_EXISTS, "AlreadyExists"),
                (Code.NOT_FOUND, "not a domain error"),
                (Code.PERMISSION_DENIED, "[Errno 13] Permission denied: '/x'"),
                (Code.UNKNOWN, "a bug"),
            ]
            await client.close()

    run(main())


def test_shutdown_with_idle_connections_returns_and_closes_them(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        server = Server()
        server.register_service(SVC, {"Echo": echo})
        await server.listen(path)
        serve = asyncio.create_task(server.wait_closed())
        closed = [asyncio.Event() for _ in range(3)]
        clients = [await Client.connect(path, on_close=e.set) for e in closed]
        for c in clients:
            assert await c.call(SVC, "Echo", b"1") == b"1"
        await server.shutdown()
        await serve
        for e in closed:
            await e.wait()
        assert all(c.closed for c in clients)
        await server.shutdown()  # idempotent
        server.close()

    run(main())


def test_timeout_on_the_wire_and_zero_timeout(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        srv, conns = await raw_server(path)
        client = await Client.connect(path)
        reader, writer = await conns.get()
        sconn = ServerConnection()
        c1 = asyncio.create_task(client.call(SVC, "M", b"", timeout=30))
        c2 = asyncio.create_task(client.call(SVC, "M", b"", timeout=0))
        c3 = asyncio.create_task(client.call(SVC, "M", b""))
        c4 = asyncio.create_task(client.call(SVC, "M", b"", timeout=1e15))  # clamps to int64
        r1, r2, r3, r4 = await read_requests(reader, sconn, 4)
        assert r4.timeout_nano == 2**63 - 1
        c4.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await c4
        assert 29e9 < r1.timeout_nano <= 30e9
        assert r2.timeout_nano < 0  # expired, never 0 ("no deadline")
        assert r3.timeout_nano == 0
        with pytest.raises(TTRPCError) as info:
            await c2
        assert info.value.code == Code.DEADLINE_EXCEEDED
        writer.write(sconn.send_response(r1.stream_id, b"a") + sconn.send_response(r3.stream_id, b"c"))
        assert await c1 == b"a" and await c3 == b"c"
        await client.close()
        writer.close()
        srv.close()

    run(main())


def test_shutdown_timeout_closes_busy_connections(sock_dir: str) -> None:
    hang = Hang()

    async def main() -> None:
        path = sock_path(sock_dir)
        server = Server()
        server.register_service(SVC, {"Hang": hang})
        await server.listen(path)
        client = await Client.connect(path)
        call = asyncio.create_task(client.call(SVC, "Hang", b""))
        await hang.started.wait()
        await server.shutdown(timeout=0.05)
        await hang.cancelled.wait()
        with pytest.raises(ClosedError):
            await call
        await server.wait_closed()

    run(main())


def test_handlers_can_use_task_apis_and_suspend_in_any_mix(sock_dir: str) -> None:
    """asyncio.timeout, TaskGroup and current_task inside handlers; sync and
    suspending handlers interleaved on one connection."""

    async def own_timeout(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        assert asyncio.current_task() is not None
        try:
            async with asyncio.timeout(0.01):
                await asyncio.Event().wait()
        except TimeoutError:
            return b"timed out inside"
        return b"unreachable"

    async def group(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        async def part(i: int) -> bytes:
            await asyncio.sleep(0)
            return b"%d" % i

        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(part(i)) for i in range(3)]
        return b",".join(t.result() for t in tasks)

    async def sync(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return payload

    async def yields(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        await asyncio.sleep(0)
        return payload

    async def main() -> None:
        path = sock_path(sock_dir)
        methods: dict[str, TTRPCMethod] = {"Own": own_timeout, "Group": group, "Sync": sync, "Yield": yields}
        async with serving({SVC: methods}, path):
            client = await Client.connect(path)
            kinds = ["Own", "Sync", "Group", "Yield", "Sync", "Sync", "Yield", "Own", "Sync"] * 6
            calls = [client.call(SVC, k, b"%d" % i, timeout=10) for i, k in enumerate(kinds)]
            got = await asyncio.gather(*calls)
            fixed = {"Own": b"timed out inside", "Group": b"0,1,2"}
            assert got == [fixed.get(k, b"%d" % i) for i, k in enumerate(kinds)]
            await client.close()

    run(main())


def test_a_handler_that_suspends_mid_burst_does_not_hold_up_the_rest(sock_dir: str) -> None:
    """Calls without a deadline that arrive together run on one worker until
    one suspends; the rest must then move on without it (here the waiting
    handlers are released only by a later call of the same burst)."""
    release = asyncio.Event()

    async def wait(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        await release.wait()
        return b"released " + payload

    async def sync(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return payload

    async def set_(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        release.set()
        return b"set"

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: {"Wait": wait, "Sync": sync, "Set": set_}}, path):
            client = await Client.connect(path)
            for _ in range(3):
                release.clear()
                kinds = ["Sync", "Wait", "Sync", "Wait", "Sync", "Sync", "Set", "Sync"]
                calls = [client.call(SVC, k, b"%d" % i) for i, k in enumerate(kinds)]
                got = await asyncio.wait_for(asyncio.gather(*calls), 10)
                want = {"Wait": b"released %d", "Sync": b"%d"}
                assert got == [b"set" if k == "Set" else want[k] % i for i, k in enumerate(kinds)]
            await client.close()

    run(main())


def test_deadline_of_one_call_does_not_touch_the_next_on_the_same_worker(sock_dir: str) -> None:
    slow = Hang()

    async def quick(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        await asyncio.sleep(0)
        return b"quick"

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: {"Slow": slow, "Quick": quick}}, path):
            client = await Client.connect(path)
            slow_call = asyncio.create_task(client.call(SVC, "Slow", b"", timeout=0.05))
            for _ in range(20):
                assert await client.call(SVC, "Quick", b"") == b"quick"
            with pytest.raises(TTRPCError) as info:
                await slow_call
            assert info.value.code == Code.DEADLINE_EXCEEDED
            await slow.cancelled.wait()
            for _ in range(5):
                assert await client.call(SVC, "Quick", b"", timeout=5) == b"quick"
            await client.close()

    run(main())


def test_timeout_holds_while_the_server_reads_nothing(sock_dir: str) -> None:
    # A 2 MiB request fills the socket and pauses the client's writes; the
    # call's timeout must still fire instead of waiting for the peer to read.
    async def main() -> None:
        path = sock_path(sock_dir)
        srv, conns = await raw_server(path)
        client = await Client.connect(path)
        _reader, writer = await conns.get()  # accepted, never read
        with pytest.raises(TTRPCError) as info:
            await asyncio.wait_for(client.call(SVC, "M", b"\0" * (2 << 20), timeout=0.2), 5)
        assert info.value.code == Code.DEADLINE_EXCEEDED
        await client.close()
        writer.close()
        srv.close()

    run(main())
