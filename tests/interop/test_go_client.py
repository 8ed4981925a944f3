"""Go ttrpc 1.1.1 client -> Python server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from impl.ttrpc import Code, require_same_user

from _loops import run
from ._peer import go_client, py_server, results
from ._service import MAX_MESSAGE, Events, methods

pytestmark = pytest.mark.interop

HOUR_MS = 3_600_000
TEST_BOUND_MS = 600_000
"""Longer than any test here may run (pytest's timeout): a bound no loaded machine can miss."""


def test_echo(go_peer: Path, sock_dir: Path) -> None:
    async def main() -> None:
        target = str(sock_dir / "py.sock")
        async with py_server(target, methods()):
            report = await go_client(go_peer, target, "echo", [0, 1, 100, 4096, 1 << 20])
        rows = results(report)
        assert list(rows) == ["echo-0", "echo-1", "echo-100", "echo-4096", "echo-1048576"]
        for name, row in rows.items():
            assert row["code"] == 0 and "error" not in row, row
            assert row["value"] == {"len": int(name.split("-")[1]), "match": True}
        assert report["extra"] == {"on_close_ran": True}

    run(main())


def test_status_errors_keep_code_and_message(go_peer: Path, sock_dir: Path) -> None:
    specs = ["5:container abc not found", "9:bad state", "13:ünïcödé ✓", "16:", "2:" + "x" * 10000]

    async def main() -> None:
        target = str(sock_dir / "py.sock")
        async with py_server(target, methods()):
            report = await go_client(go_peer, target, "fail", specs)
        rows = results(report)
        for spec in specs:
            code, _, message = spec.partition(":")
            assert rows[spec]["code"] == int(code)
            assert rows[spec]["message"] == message

    run(main())


def test_metadata_round_trip(go_peer: Path, sock_dir: Path) -> None:
    # The Go client sends keys verbatim; the Python server lower-cases them and
    # keeps every value of a key in order.
    sent = {"containerd-namespace-ttrpc": ["k8s.io"], "Mixed-Case": ["a"], "multi": ["3", "1", "2", "1"]}

    async def main() -> None:
        target = str(sock_dir / "py.sock")
        async with py_server(target, methods()):
            report = await go_client(go_peer, target, "metadata", sent)
        row = results(report)["metadata"]
        assert row["code"] == 0
        assert row["value"] == {
            "containerd-namespace-ttrpc": ["k8s.io"],
            "mixed-case": ["a"],
            "multi": ["3", "1", "2", "1"],
        }

    run(main())


def test_deadline_cancels_handler(go_peer: Path, sock_dir: Path) -> None:
    # The Go client puts a 300 ms timeout_nano on the wire but waits forever
    # itself, so the answer it gets is the Python server's own.
    async def main() -> None:
        target = str(sock_dir / "py.sock")
        events = Events()
        async with py_server(target, methods(events)):
            report = await go_client(
                go_peer, target, "sleep", {"method": "Sleep", "sleep_ms": 20000, "wire_timeout_ms": 300}
            )
        rows = results(report)
        assert rows["Sleep"]["code"] == Code.DEADLINE_EXCEEDED
        assert rows["Sleep"]["message"] == "context deadline exceeded"
        # Not before the wire deadline; and the 20 s sleep never finished (no upper
        # bound on a clock: a loaded machine may take its time to say so).
        elapsed = rows["Sleep"]["elapsed_ms"]
        assert isinstance(elapsed, float) and 250 <= elapsed
        assert events.started.is_set() and events.cancelled.is_set() and not events.finished.is_set()
        assert rows["echo-after"]["value"] == {"len": 10, "match": True}

    run(main())


@pytest.mark.parametrize("wire_ms", [-1.0, -1e12])
def test_expired_deadline(go_peer: Path, sock_dir: Path, wire_ms: float) -> None:
    async def main() -> None:
        target = str(sock_dir / "py.sock")
        async with py_server(target, methods()):
            report = await go_client(
                go_peer, target, "sleep", {"method": "Sleep", "sleep_ms": 20000, "wire_timeout_ms": wire_ms}
            )
        rows = results(report)
        assert rows["Sleep"]["code"] == Code.DEADLINE_EXCEEDED
        assert rows["echo-after"]["value"] == {"len": 10, "match": True}

    run(main())


def test_deadline_reaches_handler(go_peer: Path, sock_dir: Path) -> None:
    async def main() -> None:
        target = str(sock_dir / "py.sock")
        async with py_server(target, methods()):
            with_dl = await go_client(go_peer, target, "sleep", {"sleep_ms": 0, "ctx_timeout_ms": HOUR_MS})
            without = await go_client(go_peer, target, "sleep", {"sleep_ms": 0})
        rep = results(with_dl)["Sleep"]["value"]
        assert isinstance(rep, dict) and rep["had_deadline"] is True
        # The hour, less the call's way there (less than any test may run).
        assert HOUR_MS - TEST_BOUND_MS < rep["deadline_ms"] <= HOUR_MS
        rep = results(without)["Sleep"]["value"]
        assert isinstance(rep, dict) and rep["had_deadline"] is False

    run(main())


def test_unknown_service_and_method(go_peer: Path, sock_dir: Path) -> None:
    async def main() -> None:
        target = str(sock_dir / "py.sock")
        async with py_server(target, methods()):
            report = await go_client(go_peer, target, "unknown")
        rows = results(report)
        assert (rows["service"]["code"], rows["service"]["message"]) == (Code.UNIMPLEMENTED, "service nope.Svc")
        assert (rows["method"]["code"], rows["method"]["message"]) == (Code.UNIMPLEMENTED, "method Nope")
        assert rows["echo-after"]["value"] == {"len": 10, "match": True}

    run(main())


def test_oversize_both_ways(go_peer: Path, sock_dir: Path) -> None:
    # Go 1.1.1 sends >4 MiB unchecked: the Python server must answer
    # ResourceExhausted on that id and keep the connection. The Python server
    # must never send >4 MiB back (the Go 1.1.1 client would panic).
    async def main() -> None:
        target = str(sock_dir / "py.sock")
        events = Events()
        async with py_server(target, methods(events)):
            report = await go_client(go_peer, target, "oversize")
        rows = results(report)
        extra = report["extra"]
        assert isinstance(extra, dict)
        assert rows["echo-over"]["code"] == Code.RESOURCE_EXHAUSTED
        assert rows["echo-over"]["message"] == (
            f"message length {MAX_MESSAGE + 1} exceed maximum message size of {MAX_MESSAGE}"
        )
        assert rows["echo-small"]["value"] == {"len": 10, "match": True}
        assert rows["echo-exact"]["value"] == {"len": extra["echo_exact_payload"], "match": True}
        assert rows["big-exact"]["code"] == 0
        assert rows["big-exact"]["value"] == {"len": extra["big_exact_size"]}
        assert rows["big-over"]["code"] == Code.RESOURCE_EXHAUSTED
        assert "4194304" in str(rows["big-over"]["message"])
        assert rows["echo-after"]["value"] == {"len": 10, "match": True}
        # The oversized request never reached a handler.
        assert events.calls["Echo"] == 3

    run(main())


def test_oversized_error_message_is_shrunk(go_peer: Path, sock_dir: Path) -> None:
    # A handler error with a 5 MiB message must not become a >4 MiB frame.
    async def main() -> None:
        target = str(sock_dir / "py.sock")
        async with py_server(target, methods()):
            report = await go_client(go_peer, target, "failbig")
        rows = results(report)
        extra = report["extra"]
        assert isinstance(extra, dict)
        assert rows["failbig"]["code"] == Code.INTERNAL
        assert str(rows["failbig"]["message"]).startswith("xxxx")
        assert 0 < extra["message_len"] < MAX_MESSAGE
        assert rows["echo-after"]["value"] == {"len": 10, "match": True}

    run(main())


def test_100_concurrent_calls_one_connection(go_peer: Path, sock_dir: Path) -> None:
    async def main() -> None:
        target = str(sock_dir / "py.sock")
        events = Events()
        async with py_server(target, methods(events)):
            report = await go_client(go_peer, target, "concurrent", 100)
        rows = results(report)
        assert len(rows) == 100
        for i in range(100):
            assert rows[f"echo-{i}"]["value"] == {"len": i * 37, "match": True}, rows[f"echo-{i}"]
        extra = report["extra"]
        assert isinstance(extra, dict)
        # Five concurrent sleeps (the Go client staggers them longest first)
        # finish shortest first, whatever order they arrived in...
        assert extra["sleep_completion_order"] == [0, 100, 200, 300, 400]
        assert sorted(events.sleep_arrivals) == [0, 100, 200, 300, 400]
        # ...so the responses went out in a different order than the requests came.
        assert events.sleep_arrivals != [0, 100, 200, 300, 400]

    run(main())


def test_shutdown_lets_call_in_flight_finish(go_peer: Path, sock_dir: Path) -> None:
    async def main() -> None:
        target = str(sock_dir / "py.sock")
        events = Events()
        async with py_server(target, methods(events)) as server:
            client = asyncio.create_task(go_client(go_peer, target, "sleep", {"sleep_ms": 500}))
            await asyncio.wait_for(events.started.wait(), 20)
            await asyncio.wait_for(server.shutdown(), 20)
            assert events.finished.is_set()
            report = await client
            # A new connection is refused once shutdown began.
            with pytest.raises(OSError):
                await asyncio.open_unix_connection(target)
        rows = results(report)
        assert rows["Sleep"]["code"] == 0 and "error" not in rows["Sleep"]
        value = rows["Sleep"]["value"]
        assert isinstance(value, dict) and value["slept_ms"] >= 490
        # The connection was closed after the in-flight call: the next call fails.
        assert rows["echo-after"].get("error") == "ttrpc: closed"

    run(main())


def test_peer_credentials_refused(go_peer: Path, abstract_name: str, other_uid: int) -> None:
    async def main() -> None:
        async with py_server(abstract_name, methods(), peer_check=require_same_user()):
            refused = await go_client(go_peer, abstract_name, "echo", [1], uid=other_uid)
            admitted = await go_client(go_peer, abstract_name, "echo", [1])
        row = results(refused)["echo-1"]
        assert row.get("error") == "ttrpc: closed", row
        assert results(admitted)["echo-1"]["value"] == {"len": 1, "match": True}

    run(main())


def test_close_fails_call_in_flight(go_peer: Path, sock_dir: Path) -> None:
    async def main() -> None:
        target = str(sock_dir / "py.sock")
        events = Events()
        async with py_server(target, methods(events)) as server:
            client = asyncio.create_task(go_client(go_peer, target, "sleep", {"sleep_ms": 20000}))
            await asyncio.wait_for(events.started.wait(), 20)
            server.close()
            report = await client
        rows = results(report)
        assert rows["Sleep"].get("error") == "ttrpc: closed", rows["Sleep"]
        assert events.cancelled.is_set() and not events.finished.is_set()

    run(main())
