"""Python client -> Go ttrpc 1.1.1 server."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from google.protobuf.wrappers_pb2 import StringValue

from impl.ttrpc import Client, ClosedError, Code, TTRPCError
from shimtypes.pb.ttrpc_pb2 import Request

from _loops import run
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

HOUR_S = 3600
TEST_BOUND_MS = 600_000
"""Longer than any test here may run (pytest's timeout): a bound no loaded machine can miss."""
HANG_GUARD = 60.0
"""Seconds before a wait that should end on an event is taken as a hang (never a measurement)."""


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

    run(main())


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

    run(main())


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

    run(main())


def test_timeout_reaches_go_handler(go_server: GoServer) -> None:
    async def main() -> None:
        client = await Client.connect(go_server.target)
        try:
            with_dl = parse_report(await client.call(SERVICE, "Sleep", duration(0), timeout=HOUR_S))
            without = parse_report(await client.call(SERVICE, "Sleep", duration(0)))
        finally:
            await client.close()
        assert with_dl["had_deadline"] is True
        deadline_ms = with_dl["deadline_ms"]
        # What is left at the handler: the hour, less the call's way there (less than the test may run).
        assert isinstance(deadline_ms, float) and HOUR_S * 1000 - TEST_BOUND_MS < deadline_ms <= HOUR_S * 1000
        assert without["had_deadline"] is False

    run(main())


def test_client_times_out_locally_and_drops_late_reply(go_server: GoServer, event_loop_kind: str) -> None:
    # Hold ignores its deadline (as Go handlers may) and answers only once
    # released: the client must give up on its own while the peer still holds
    # the reply, then drop that late reply without disturbing other calls.
    # The Go server outlives one test run and remembers released names:
    # each run (one per event loop) holds its own.
    spanning_name, late_name = f"spanning-{event_loop_kind}", f"late-{event_loop_kind}"

    async def main() -> None:
        closed = asyncio.Event()
        client = await Client.connect(go_server.target, on_close=closed.set)
        try:
            spanning = asyncio.create_task(client.call(SERVICE, "Hold", string_value(spanning_name)))
            await go_server.await_line(f"hold-start {spanning_name}")
            with pytest.raises(TTRPCError) as info:
                await asyncio.wait_for(client.call(SERVICE, "Hold", string_value(late_name), timeout=0.2), HANG_GUARD)
            # Nothing is released yet: no reply can have ended the call.
            assert info.value.code == Code.DEADLINE_EXCEEDED
            await client.call(SERVICE, "Release", string_value(late_name))
            await go_server.await_line(f"hold-end {late_name}")  # the late reply is on its way
            assert parse_bytes_value(await client.call(SERVICE, "Echo", bytes_value(b"ok"))) == b"ok"
            assert not spanning.done()
            await client.call(SERVICE, "Release", string_value(spanning_name))
            # The late reply ("late") went nowhere; the pending call got its own.
            got = await asyncio.wait_for(spanning, HANG_GUARD)
            assert StringValue.FromString(got).value == spanning_name
            assert parse_bytes_value(await client.call(SERVICE, "Echo", bytes_value(b"ok"))) == b"ok"
            assert not closed.is_set()
        finally:
            await client.close()

    run(main())


def test_deadline_exceeded_from_honouring_handler(go_server: GoServer) -> None:
    async def main() -> None:
        client = await Client.connect(go_server.target)
        try:
            with pytest.raises(TTRPCError) as info:
                await client.call(SERVICE, "Sleep", duration(20), timeout=0.3)
            assert info.value.code == Code.DEADLINE_EXCEEDED
        finally:
            await client.close()

    run(main())


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

    run(main())


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

    run(main())


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

    run(main())


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

        run(main())
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

        run(main())
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
                # Held for good: only the connection's end can finish these calls (no timeout, no reply).
                calls = [asyncio.create_task(client.call(SERVICE, "Hold", string_value("never"))) for _ in range(3)]
                for _ in calls:
                    await server.await_line("hold-start never")
                assert not any(call.done() for call in calls)
                server.proc.kill()
                for call in calls:
                    with pytest.raises(ClosedError, match="ttrpc: closed"):
                        await asyncio.wait_for(call, HANG_GUARD)
                await asyncio.wait_for(closed.wait(), HANG_GUARD)
                with pytest.raises(ClosedError):
                    await client.call(SERVICE, "Echo", b"")
            finally:
                await client.close()

        run(main())
    finally:
        server.stop()
