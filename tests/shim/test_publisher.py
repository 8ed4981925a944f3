"""The shim's event publisher against a real ttrpc Events server."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator

import pytest
from google.protobuf.any_pb2 import Any as AnyPB
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.envelope import envelope_problem
from impl.shim._publisher import NAMESPACE_METADATA, RemotePublisher, pack_event
from impl.ttrpc import Client
from shimtypes.pb import task_events_pb2
from shimtypes.pb.events_pb2 import Envelope
from shimtypes.pb.task_events_pb2 import TaskExit, TaskStart

from .conftest import EventsSink

EVENT_TYPES = [
    task_events_pb2.TaskCreate,
    task_events_pb2.TaskStart,
    task_events_pb2.TaskExit,
    task_events_pb2.TaskDelete,
    task_events_pb2.TaskOOM,
    task_events_pb2.TaskPaused,
]


@pytest.fixture
def sock_dir() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="shimtest-pub-")
    yield d
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    os.rmdir(d)


class ErrorSeen(logging.Handler):
    """Sets an event when the publisher logs an error (a failed attempt)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen = threading.Event()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.seen.set()


def test_pack_event_uses_the_bare_full_name() -> None:
    event = TaskExit(container_id="c", id="c", pid=7, exit_status=1)
    packed = pack_event(event)
    assert packed.type_url == "containerd.events.TaskExit"
    assert TaskExit.FromString(packed.value) == event
    # Why not Any.Pack: even with an empty prefix it adds a slash containerd 1.6 cannot decode.
    via_pack = AnyPB()
    via_pack.Pack(event, type_url_prefix="")
    assert via_pack.type_url != packed.type_url


def test_envelope_validation() -> None:
    good = Envelope(namespace="n", topic="/tasks/exit", event=pack_event(TaskStart()))
    good.timestamp.GetCurrentTime()
    assert envelope_problem(good, require_event=True) is None
    no_event = Envelope(namespace="n", topic="/t", timestamp=good.timestamp)
    assert "no event" in (envelope_problem(no_event, require_event=True) or "")
    zero = Envelope(namespace="n", topic="/t", event=good.event)
    assert "zero timestamp" in (envelope_problem(zero, require_event=True) or "")
    no_slash = Envelope(namespace="n", topic="tasks/exit", event=good.event, timestamp=good.timestamp)
    assert "must start with '/'" in (envelope_problem(no_slash, require_event=True) or "")
    no_ns = Envelope(topic="/t", event=good.event, timestamp=good.timestamp)
    assert "no namespace" in (envelope_problem(no_ns, require_event=True) or "")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(EVENT_TYPES), st.text(max_size=20)), min_size=1, max_size=12))
def test_events_arrive_in_order_with_namespace_and_bare_type(
    sock_dir: str, events: list[tuple[type[task_events_pb2.TaskOOM], str]]
) -> None:
    path = os.path.join(sock_dir, f"e{time.monotonic_ns()}.sock")
    sink = EventsSink(path)
    try:

        async def go() -> RemotePublisher:
            pub = RemotePublisher(path, "ns-pub")
            for i, (kind, cid) in enumerate(events):
                await pub.publish(f"/topic/{i}", kind(container_id=cid))
            await pub.close()
            return pub

        pub = asyncio.run(go())
        calls = sink.calls
        assert pub.forwarded == len(events) and pub.dropped == 0
        assert [c.request.envelope.topic for c in calls] == [f"/topic/{i}" for i in range(len(events))]
        for call, (kind, cid) in zip(calls, events):
            env = call.request.envelope
            assert call.metadata[NAMESPACE_METADATA] == ["ns-pub"] and env.namespace == "ns-pub"
            assert env.event.type_url == kind.DESCRIPTOR.full_name
            assert kind.FromString(env.event.value).container_id == cid
            assert env.timestamp.seconds > 0
    finally:
        sink.close()
        os.unlink(path)


def test_invalid_events_are_dropped_not_forwarded(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "events.sock")
    sink = EventsSink(path)
    try:

        async def go() -> RemotePublisher:
            pub = RemotePublisher(path, "ns")
            await pub.publish("tasks/exit", TaskExit())  # topic without '/'
            await pub.publish("/tasks/exit", "not a message")  # type: ignore[arg-type]
            await pub.forward(Envelope(namespace="ns", topic="/tasks/exit"))  # no event, no timestamp
            bad_time = Envelope(namespace="ns", topic="/tasks/exit", event=pack_event(TaskExit()))
            await pub.forward(bad_time)  # zero timestamp
            await pub.publish("/tasks/exit", TaskExit(container_id="ok"))
            await pub.close()
            await pub.publish("/tasks/exit", TaskExit(container_id="late"))  # after close
            return pub

        pub = asyncio.run(go())
        assert [c.request.envelope.event.type_url for c in sink.calls] == ["containerd.events.TaskExit"]
        assert TaskExit.FromString(sink.calls[0].request.envelope.event.value).container_id == "ok"
        assert (pub.forwarded, pub.dropped) == (1, 5)
    finally:
        sink.close()


def test_retries_until_containerd_listens(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "late.sock")
    seen = ErrorSeen()
    log = logging.getLogger("test.publisher.retry")
    log.addHandler(seen)
    sinks: list[EventsSink] = []
    try:

        async def go() -> RemotePublisher:
            pub = RemotePublisher(path, "ns", retry_delay=0.2, logger=log)
            await pub.publish("/tasks/start", TaskStart(container_id="c1"))
            # The first attempt failed (nobody listens): now containerd comes up.
            await asyncio.get_running_loop().run_in_executor(None, seen.seen.wait, 10)
            sinks.append(EventsSink(path))
            await pub.close()
            return pub

        pub = asyncio.run(go())
        assert "attempt 1/5" in seen.messages[0]
        assert pub.forwarded == 1 and [c.request.envelope.topic for c in sinks[0].calls] == ["/tasks/start"]
    finally:
        for s in sinks:
            s.close()
        log.removeHandler(seen)


def test_reconnects_after_containerd_restarts(sock_dir: str) -> None:
    path = os.path.join(sock_dir, "restart.sock")
    first = EventsSink(path)
    second: list[EventsSink] = []
    try:

        async def go() -> RemotePublisher:
            pub = RemotePublisher(path, "ns", retry_delay=0.2)
            await pub.publish("/tasks/create", TaskStart(container_id="a"))
            await asyncio.get_running_loop().run_in_executor(None, first.wait_for, 1)
            await asyncio.get_running_loop().run_in_executor(None, first.close)  # containerd goes away...
            os.unlink(path)
            second.append(EventsSink(path))  # ... and comes back on the same address
            await pub.publish("/tasks/start", TaskStart(container_id="b"))
            await pub.close()
            return pub

        pub = asyncio.run(go())
        assert pub.forwarded == 2 and pub.dropped == 0
        assert [c.request.envelope.topic for c in first.calls] == ["/tasks/create"]
        assert [c.request.envelope.topic for c in second[0].calls] == ["/tasks/start"]
    finally:
        for s in second:
            s.close()


def test_close_is_bounded_when_containerd_never_answers(sock_dir: str) -> None:
    async def go() -> tuple[RemotePublisher, float]:
        pub = RemotePublisher(os.path.join(sock_dir, "nobody.sock"), "ns", retry_delay=0.2, close_timeout=0.5)
        await pub.publish("/tasks/exit", TaskExit(container_id="x"))
        began = time.monotonic()
        await pub.close()
        return pub, time.monotonic() - began

    pub, took = asyncio.run(go())
    # Unbounded, close would wait for containerd for ever; the margin over close_timeout is
    # for a loaded shared machine, not a speed claim.
    assert took < 10.0
    assert (pub.forwarded, pub.dropped) == (0, 1)


def test_no_ttrpc_address_drops_with_an_error() -> None:
    seen = ErrorSeen()
    log = logging.getLogger("test.publisher.noaddr")
    log.addHandler(seen)
    try:

        async def go() -> RemotePublisher:
            pub = RemotePublisher("", "ns", retry_delay=0.01, attempts=2, logger=log)
            await pub.publish("/tasks/exit", TaskExit())
            await pub.close()
            return pub

        pub = asyncio.run(go())
        assert pub.dropped == 1
        assert any("no TTRPC_ADDRESS" in m for m in seen.messages)
    finally:
        log.removeHandler(seen)


def test_failed_attempts_name_the_error_and_the_address() -> None:
    """A connect that times out (``TimeoutError()``, empty text) is still logged as what it is."""
    seen = ErrorSeen()
    log = logging.getLogger("test.publisher.timeout")
    log.addHandler(seen)

    async def never(address: str) -> Client:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    try:

        async def go() -> RemotePublisher:
            pub = RemotePublisher("/containerd.sock.ttrpc", "ns", attempts=1, call_timeout=0.05, connect=never, logger=log)
            await pub.publish("/tasks/exit", TaskExit())
            await pub.close()
            return pub

        pub = asyncio.run(go())
        assert pub.dropped == 1
        assert seen.messages[0].endswith("(attempt 1/1): TimeoutError"), seen.messages
        assert "/tasks/exit" in seen.messages[1] and "/containerd.sock.ttrpc" in seen.messages[1], seen.messages
    finally:
        log.removeHandler(seen)
