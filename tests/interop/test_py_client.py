"""Python client -> Go ttrpc 1.1.1 server."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from impl.ttrpc import Client, ClosedError, Code, TTRPCError
from shimtypes.pb.ttrpc_pb2 import Request

from ._peer import GoServer, py_client_as
from ._service import (
    MAX_MESSAGE,
    SERVICE,
    bytes_value,
    duration,
    parse_bytes_value,
    parse_report,
    string_value,
    uint64_value,
)

pytestmark = pytest.mark.interop


def echo_payload_for_request_frame(total: int) -> int:
    """The Echo payload size whose Request frame data is exactly ``total`` bytes."""
    n = total
    while n > 0:
        size = len(Request(service=SERVICE, method="Echo", payload=bytes_value(b"\1" * n)).SerializeToString())
        if size == total:
            return n
        n -= max(1, size - total)
    raise AssertionError("no payload size fits")


def test_echo(go_server: GoServer) -> None:
    async def main() -> None:
        client = await Client.connect(go_server.target)
        try:
            for n in (0, 1, 100, 4096, 1 << 20):
                data = bytes(i % 251 for i in range(n))
                assert parse_bytes_value(await client.call(SERVICE, "Echo", bytes_value(data))) == data
        finally:
            await client.close()

    asyncio.run(main())


def test_status_errors_keep_code_and_message(go_server: GoServer) -> None:
    async def main() -> None:
        client = await Client.connect(go_server.target)
        try:
            for code, message in [(5, "container abc not found"), (13, "ünïcödé ✓"), (16, ""), (99, "odd")]:
                with pytest.raises(TTRPCError) as info:
                    await client.call(SERVICE, "Fail", string_value(f"{code}:{message}"))
                assert info.value.message == message
                assert info.value.code == (code if code <= 16 else Code.UNKNOWN)
        finally:
            await client.close()

    asyncio.run(main())


def test_metadata_round_trip(go_server: GoServer) -> None:
    async def main() -> None:
        client = await Client.connect(go_server.target)
        try:
            got = parse_report(
                await client.call(
                    SERVICE,
                    "Metadata",
                    b"",
                    metadata={"Containerd-Namespace-TTRPC": "k8s.io", "multi": ["3", "1", "2", "1"]},
                )
            )
            none = parse_report(await client.call(SERVICE, "Metadata", b""))
        finally:
            await client.close()
        assert got == {"containerd-namespace-ttrpc": ["k8s.io"], "multi": ["3", "1", "2", "1"]}
        assert none == {}

    asyncio.run(main())


def test_timeout_reaches_go_handler(go_server: GoServer) -> None:
    async def main() -> None:
        client = await Client.connect(go_server.target)
        try:
            with_dl = parse_report(await client.call(SERVICE, "Sleep", duration(0), timeout=5))
            without = parse_report(await client.call(SERVICE, "Sleep", duration(0)))
        finally:
            await client.close()
        assert with_dl["had_deadline"] is True
        deadline_ms = with_dl["deadline_ms"]
        assert isinstance(deadline_ms, float) and 3000 < deadline_ms <= 5000
        assert without["had_deadline"] is False

    asyncio.run(main())


def test_client_times_out_locally_and_drops_late_reply(go_server: GoServer) -> None:
    # Hang ignores its deadline (as Go handlers may): the client must give up
    # on its own, then drop the late reply without disturbing other calls.
    async def main() -> None:
        closed = asyncio.Event()
        client = await Client.connect(go_server.target, on_close=closed.set)
        try:
            spanning = asyncio.create_task(client.call(SERVICE, "Sleep", duration(2.0)))
            start = time.monotonic()
            with pytest.raises(TTRPCError) as info:
                await client.call(SERVICE, "Hang", duration(1.5), timeout=0.2)
            elapsed = time.monotonic() - start
            assert info.value.code == Code.DEADLINE_EXCEEDED
            assert 0.15 <= elapsed < 1.4
            # The Hang reply arrives at ~1.5 s, while `spanning` is pending.
            report = parse_report(await asyncio.wait_for(spanning, 10))
            assert report["had_deadline"] is False
            assert parse_bytes_value(await client.call(SERVICE, "Echo", bytes_value(b"ok"))) == b"ok"
            assert not closed.is_set()
        finally:
            await client.close()

    asyncio.run(main())


def test_deadline_exceeded_from_honouring_handler(go_server: GoServer) -> None:
    async def main() -> None:
        client = await Client.connect(go_server.target)
        try:
            with pytest.raises(TTRPCError) as info:
                await client.call(SERVICE, "Sleep", duration(20), timeout=0.3)
            assert info.value.code == Code.DEADLINE_EXCEEDED
        finally:
            await client.close()

    asyncio.run(main())


def test_unknown_service_and_method(go_server: GoServer) -> None:
    async def main() -> None:
        client = await Client.connect(go_server.target)
        try:
            with pytest.raises(TTRPCError) as info:
                await client.call("nope.Svc", "Echo", b"")
            assert (info.value.code, info.value.message) == (Code.UNIMPLEMENTED, "service nope.Svc")
            with pytest.raises(TTRPCError) as info:
                await client.call(SERVICE, "Nope", b"")
            assert (info.value.code, info.value.message) == (Code.UNIMPLEMENTED, "method Nope")
        finally:
            await client.close()

    asyncio.run(main())


def test_oversize_both_ways(go_server: GoServer) -> None:
    async def main() -> None:
        client = await Client.connect(go_server.target)
        try:
            # Sending: refused locally, nothing over 4 MiB goes out.
            over = echo_payload_for_request_frame(MAX_MESSAGE + 1)
            with pytest.raises(TTRPCError) as info:
                await client.call(SERVICE, "Echo", bytes_value(b"\1" * over))
            assert info.value.code == Code.RESOURCE_EXHAUSTED
            exact = echo_payload_for_request_frame(MAX_MESSAGE)
            data = b"\2" * exact
            assert parse_bytes_value(await client.call(SERVICE, "Echo", bytes_value(data))) == data
            # Receiving: the Go 1.1.1 server sends oversized replies unchecked.
            big_exact = MAX_MESSAGE - 10  # Response{payload: BytesValue{n}} is n + 10 bytes here
            assert len(parse_bytes_value(await client.call(SERVICE, "Big", uint64_value(big_exact)))) == big_exact
            with pytest.raises(TTRPCError) as info:
                await client.call(SERVICE, "Big", uint64_value(big_exact + 1))
            assert info.value.code == Code.RESOURCE_EXHAUSTED
            assert f"message length {MAX_MESSAGE + 1} exceed" in info.value.message
            # An oversized error reply (Go sends a 5 MiB status message unchecked).
            with pytest.raises(TTRPCError) as info:
                await client.call(SERVICE, "FailBig", uint64_value(5 << 20))
            assert info.value.code == Code.RESOURCE_EXHAUSTED
            assert parse_bytes_value(await client.call(SERVICE, "Echo", bytes_value(b"after"))) == b"after"
        finally:
            await client.close()

    asyncio.run(main())


def test_100_concurrent_calls_one_connection(go_server: GoServer) -> None:
    async def main() -> None:
        client = await Client.connect(go_server.target)
        try:
            payloads = [bytes((i + j) % 251 for j in range(i * 37)) for i in range(100)]
            replies = await asyncio.gather(*(client.call(SERVICE, "Echo", bytes_value(p)) for p in payloads))
            assert [parse_bytes_value(r) for r in replies] == payloads
            order: list[float] = []

            async def sleep(seconds: float) -> None:
                await client.call(SERVICE, "Sleep", duration(seconds))
                order.append(seconds)

            await asyncio.gather(*(sleep(s) for s in (0.4, 0.3, 0.2, 0.1, 0.0)))
            assert order == [0.0, 0.1, 0.2, 0.3, 0.4]
        finally:
            await client.close()

    asyncio.run(main())


def test_go_shutdown_lets_call_in_flight_finish(go_peer: Path, sock_dir: Path) -> None:
    server = GoServer(go_peer, str(sock_dir / "go.sock"))
    try:

        async def main() -> None:
            closed = asyncio.Event()
            client = await Client.connect(server.target, on_close=closed.set)
            try:
                call = asyncio.create_task(client.call(SERVICE, "Sleep", duration(0.5)))
                await server.await_line("sleep-start")
                server.proc.send_signal(signal.SIGTERM)  # Server.Shutdown
                report = parse_report(await asyncio.wait_for(call, 10))
                slept = report["slept_ms"]
                assert isinstance(slept, float) and slept >= 500
                await server.await_line("shutdown-done")
                # Go closes the connection once idle: on_close runs, calls fail.
                await asyncio.wait_for(closed.wait(), 10)
                with pytest.raises(ClosedError):
                    await client.call(SERVICE, "Echo", b"")
            finally:
                await client.close()

        asyncio.run(main())
        assert server.proc.wait(10) == 0
    finally:
        server.stop()


def test_peer_credentials_refused(go_peer: Path, abstract_name: str, other_uid: int) -> None:
    server = GoServer(go_peer, abstract_name, same_user=True)
    try:

        async def main() -> None:
            refused = await py_client_as(other_uid, abstract_name)
            assert refused.get("error") == "ttrpc: closed", refused
            error_type = refused["error_type"]
            assert isinstance(error_type, list) and "ClosedError" in error_type
            client = await Client.connect(abstract_name)
            try:
                assert parse_bytes_value(await client.call(SERVICE, "Echo", bytes_value(b"me"))) == b"me"
            finally:
                await client.close()

        asyncio.run(main())
    finally:
        server.stop()
    assert "refusing connection after handshake" in server.stderr


def test_server_death_fails_pending_calls_at_once(go_peer: Path, sock_dir: Path) -> None:
    server = GoServer(go_peer, str(sock_dir / "go.sock"))
    try:

        async def main() -> None:
            closed = asyncio.Event()
            client = await Client.connect(server.target, on_close=closed.set)
            try:
                calls = [asyncio.create_task(client.call(SERVICE, "Hang", duration(30))) for _ in range(3)]
                await server.await_line("sleep-start")
                server.proc.kill()
                start = time.monotonic()
                for call in calls:
                    with pytest.raises(ClosedError, match="ttrpc: closed"):
                        await asyncio.wait_for(call, 10)
                assert time.monotonic() - start < 5
                await asyncio.wait_for(closed.wait(), 10)
                with pytest.raises(ClosedError):
                    await client.call(SERVICE, "Echo", b"")
            finally:
                await client.close()

        asyncio.run(main())
    finally:
        server.stop()
