"""start / serve / delete of a real Python shim, driven as containerd drives it."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
import stat
import subprocess
import sys
import time

import pytest

from impl.ttrpc import Client, Code, TaskClient, TTRPCError
from shimtypes import TASK_SERVICE_NAME
from shimtypes.pb.task_events_pb2 import TaskCreate, TaskDelete, TaskOOM, TaskStart
from shimtypes.pb.task_pb2 import (
    ConnectRequest,
    CreateTaskRequest,
    DeleteRequest,
    DeleteResponse,
    ShutdownRequest,
    StartRequest,
    WaitRequest,
)

from .conftest import SHIMPROG, Bundle, EventsSink, LogReader, connect, listening_pid, sock_path, terminate, wait_pid_exit

RUNTIME_ID = "io.containerd.shimtest.v1"
LOGRUS_LINE = re.compile(
    r'^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z" level=(trace|debug|info|warning|error|fatal) msg=\S.*'
)


def expected_address(b: Bundle) -> str:
    digest = hashlib.sha256(f"{b.address}/{b.namespace}/{b.id}".encode()).hexdigest()
    return "unix:///run/containerd/s/" + digest


def test_start_prints_only_the_address_and_serves(bundle: Bundle) -> None:
    proc = bundle.run(*bundle.flags(), "start")
    # stdout+stderr is one pipe and run() read it to EOF while the serving
    # child (connected to below) still runs: the child holds neither end.
    assert proc.returncode == 0, proc.stdout
    address = proc.stdout.decode()
    assert address == expected_address(bundle)  # nothing else: no newline, no log
    assert (bundle.path / "address").read_text() == address
    assert [p.name for p in bundle.path.iterdir() if p.name.startswith(".address")] == []
    st = os.stat(sock_path(address))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600

    resp = connect(address, bundle.id)
    assert resp.version == RUNTIME_ID
    assert resp.shim_pid not in (0, os.getpid())
    assert os.getsid(resp.shim_pid) == resp.shim_pid  # a new session, as containerd expects
    with open(f"/proc/{os.getpid()}/oom_score_adj") as f:  # we are start's parent, as containerd is
        ours = int(f.read())
    with open(f"/proc/{resp.shim_pid}/oom_score_adj") as f:
        assert int(f.read()) == min(ours + 1, 1000)

    terminate(resp.shim_pid)
    assert not os.path.exists(sock_path(address))


def test_start_reuses_a_live_shim(bundle: Bundle) -> None:
    first = bundle.start()
    pid = connect(first, bundle.id).shim_pid
    (bundle.path / "address").unlink()
    second = bundle.start()
    assert second == first
    assert (bundle.path / "address").read_text() == first
    assert connect(second, bundle.id).shim_pid == pid  # grouped onto the same process
    terminate(pid)


def test_start_replaces_a_stale_socket(bundle: Bundle) -> None:
    address = bundle.start()
    pid = connect(address, bundle.id).shim_pid
    os.kill(pid, signal.SIGKILL)  # no cleanup: the socket file stays
    assert wait_pid_exit(pid, 10)
    assert os.path.exists(sock_path(address))
    again = bundle.start()
    assert again == address
    new_pid = connect(again, bundle.id).shim_pid
    assert new_pid != pid
    terminate(new_pid)


@pytest.mark.parametrize(
    "args, message",
    [
        (["-namespace", "n", "-bogus", "start"], "flag provided but not defined: -bogus"),
        (["-id", "x", "start"], "shim namespace cannot be empty"),
        (["-namespace", "n", "-id"], "flag needs an argument: -id"),
        (["-namespace", "n", "restart"], 'unknown action "restart"'),
    ],
)
def test_bad_command_line_exits_2_with_the_reason(bundle: Bundle, args: list[str], message: str) -> None:
    proc = bundle.run(*args)
    assert proc.returncode == 2
    out = proc.stdout.decode()
    assert message in out and "Usage of shimprog.py" in out
    assert not (bundle.path / "address").exists()


def test_version(bundle: Bundle) -> None:
    proc = bundle.run("-v")
    assert proc.returncode == 0
    assert RUNTIME_ID in proc.stdout.decode()


def test_start_failure_is_the_whole_output(bundle: Bundle) -> None:
    bundle.env["SHIMTEST_MODE"] = "startfail"
    proc = bundle.run(*bundle.flags(), "start")
    assert proc.returncode == 1
    assert proc.stdout.decode() == f"{RUNTIME_ID}: start: start refused on purpose\n"
    assert not os.path.exists(sock_path(expected_address(bundle)))


def test_delete_prints_a_delete_response_and_is_idempotent(bundle: Bundle) -> None:
    address = bundle.start()
    pid = connect(address, bundle.id).shim_pid
    os.kill(pid, signal.SIGKILL)  # a crashed shim: containerd runs delete
    assert wait_pid_exit(pid, 10)
    for _ in range(2):
        proc = bundle.run(*bundle.flags("-bundle", str(bundle.path)), "delete")
        assert proc.returncode == 0, proc.stdout
        resp = DeleteResponse.FromString(proc.stdout)  # stdout is the raw message, nothing else
        assert resp.pid == pid and resp.exit_status == 137
        assert resp.exited_at.seconds > 0
        assert resp.SerializeToString() == proc.stdout
        assert not os.path.exists(sock_path(address))  # the dead shim's socket is gone


def test_delete_leaves_a_live_shims_socket(bundle: Bundle) -> None:
    address = bundle.start()
    pid = connect(address, bundle.id).shim_pid
    proc = bundle.run(*bundle.flags("-bundle", str(bundle.path)), "delete")
    assert proc.returncode == 0, proc.stdout
    assert connect(address, bundle.id).shim_pid == pid  # still served (e.g. grouped shims)
    terminate(pid)


def test_delete_without_a_shim(bundle: Bundle) -> None:
    proc = bundle.run(*bundle.flags("-bundle", str(bundle.path)), "delete")
    assert proc.returncode == 0, proc.stdout
    assert DeleteResponse.FromString(proc.stdout).pid == 0


async def _task_calls(path: str, b: Bundle) -> None:
    client = await Client.connect(path)
    try:
        task = TaskClient(client)
        await task.create(CreateTaskRequest(id=b.id, bundle=str(b.path)))
        await task.start(StartRequest(id=b.id))
        await task.delete(DeleteRequest(id=b.id))
    finally:
        await client.close()


def test_events_forwarded_in_order_and_flushed_on_sigterm(
    bundle: Bundle, events_sink: EventsSink, log_reader: LogReader
) -> None:
    bundle.env["TTRPC_ADDRESS"] = events_sink.path
    events_sink.hold()  # containerd takes no event until the shim is shutting down
    address = bundle.start()
    pid = connect(address, bundle.id).shim_pid
    asyncio.run(_task_calls(sock_path(address), bundle))
    os.kill(pid, signal.SIGTERM)
    log_reader.wait_for('msg="shim shutting down"')
    assert events_sink.calls == []  # all three still queued (or in flight) as shutdown began
    events_sink.release()
    assert wait_pid_exit(pid, 60)
    calls = events_sink.calls
    assert len(calls) == 3, "SIGTERM must flush the queue before exiting"
    assert [c.request.envelope.topic for c in calls] == ["/tasks/create", "/tasks/start", "/tasks/delete"]
    for call, name in zip(calls, ("TaskCreate", "TaskStart", "TaskDelete")):
        env = call.request.envelope
        assert call.metadata["containerd-namespace-ttrpc"] == [bundle.namespace]
        assert env.namespace == bundle.namespace
        assert env.event.type_url == f"containerd.events.{name}"  # bare, no type.googleapis.com/
        assert env.timestamp.seconds > 0
    ids = [
        TaskCreate.FromString(calls[0].request.envelope.event.value).container_id,
        TaskStart.FromString(calls[1].request.envelope.event.value).container_id,
        TaskDelete.FromString(calls[2].request.envelope.event.value).container_id,
    ]
    assert ids == [bundle.id] * 3
    stamps = [c.request.envelope.timestamp.ToNanoseconds() for c in calls]
    assert stamps == sorted(stamps)
    assert not os.path.exists(sock_path(address))


def test_shutdown_rpc_stops_the_shim(bundle: Bundle, log_reader: LogReader) -> None:
    address = bundle.start()

    async def shutdown() -> int:
        client = await Client.connect(sock_path(address))
        try:
            task = TaskClient(client)
            pid = (await task.connect(ConnectRequest(id=bundle.id))).shim_pid
            try:
                await task.shutdown(ShutdownRequest(id=bundle.id), timeout=3)
            except TTRPCError as exc:  # a closed connection is tolerated, as by containerd
                assert exc.code == Code.UNAVAILABLE
            return pid
        finally:
            await client.close()

    pid = asyncio.run(shutdown())
    assert wait_pid_exit(pid, 15)
    lines = log_reader.read_until_eof()
    assert not os.path.exists(sock_path(address))
    assert lines and all(LOGRUS_LINE.match(line) for line in lines), lines
    assert all(f"runtime={RUNTIME_ID}" in line for line in lines)
    assert not any("level=debug" in line for line in lines)  # no -debug
    assert any('msg="shim shutting down"' in line for line in lines)


def test_debug_flag_raises_log_level(bundle: Bundle, log_reader: LogReader) -> None:
    address = bundle.start("-debug")
    pid = connect(address, bundle.id).shim_pid
    terminate(pid)
    lines = log_reader.read_until_eof()
    assert any("level=debug" in line for line in lines), lines
    assert all(LOGRUS_LINE.match(line) for line in lines), lines


async def _plugin_calls(path: str, ns: str) -> tuple[bytes, bytes, TTRPCError]:
    client = await Client.connect(path)
    try:
        echo = await client.call("shimtest.Echo", "Echo", b"ping", timeout=5)
        where = await client.call("shimtest.Echo", "Where", b"", timeout=5)
        await client.call("shimtest.Echo", "Publish", b"oom-victim", timeout=5)
        try:
            await client.call(TASK_SERVICE_NAME, "Connect", ConnectRequest().SerializeToString(), timeout=5)
        except TTRPCError as exc:
            return echo, where, exc
        raise AssertionError("a shim that is not a TaskService must not serve the task API")
    finally:
        await client.close()


def test_third_party_ttrpc_plugin_is_served(bundle: Bundle, events_sink: EventsSink, log_reader: LogReader) -> None:
    bundle.env["SHIMTEST_MODE"] = "plugin"
    bundle.env["TTRPC_ADDRESS"] = events_sink.path
    address = bundle.start()
    echo, where, err = asyncio.run(_plugin_calls(sock_path(address), bundle.namespace))
    assert echo == b"ping"
    uri = "io.containerd.ttrpc.v1.echo"
    root, state, pid = where.decode().split("\n")
    assert (root, state) == (uri, f"{bundle.path}/{uri}")  # root "", state = bundle
    assert err.code == Code.UNIMPLEMENTED
    (call,) = events_sink.wait_for(1)
    assert call.request.envelope.topic == "/tasks/oom"
    assert TaskOOM.FromString(call.request.envelope.event.value).container_id == "oom-victim"
    # The plugin required the event type: the publisher was loaded first.
    address_file = (bundle.path / "address").read_text()
    assert address_file == address
    os.kill(int(pid), signal.SIGTERM)
    lines = log_reader.read_until_eof()
    publisher = next(i for i, line in enumerate(lines) if "io.containerd.event.v1.publisher" in line)
    echo_line = next(i for i, line in enumerate(lines) if uri in line)
    assert publisher < echo_line
    assert not os.path.exists(sock_path(address))


def test_no_ttrpc_service_is_fatal(bundle: Bundle, log_reader: LogReader) -> None:
    bundle.env["SHIMTEST_MODE"] = "none"
    address = bundle.start()
    lines = log_reader.read_until_eof()  # EOF: the serving process exited
    assert any("level=error" in line and "no ttrpc service loaded" in line for line in lines), lines
    assert not os.path.exists(sock_path(address))


def test_publisher_gives_up_within_bounds_when_containerd_is_gone(bundle: Bundle, log_reader: LogReader) -> None:
    bundle.env["TTRPC_ADDRESS"] = str(bundle.path / "nobody.sock")
    address = bundle.start()
    pid = connect(address, bundle.id).shim_pid

    async def create() -> None:
        client = await Client.connect(sock_path(address))
        try:
            await TaskClient(client).create(CreateTaskRequest(id=bundle.id))
        finally:
            await client.close()

    asyncio.run(create())
    os.kill(pid, signal.SIGTERM)
    # The shim exits (EOF on its log) having given up on the undeliverable
    # event by its own bound, which it names; the timeout is only a hang guard.
    lines = log_reader.read_until_eof(timeout=60)
    assert wait_pid_exit(pid, 60)
    assert any("forward event /tasks/create" in line and "level=error" in line for line in lines), lines
    assert any("publisher not closed: 1 event(s) undelivered" in line for line in lines), lines


def _serve_directly(b: Bundle, *extra: str) -> subprocess.Popen[bytes]:
    """The serving process without ``start`` (no listener on fd 3)."""
    return subprocess.Popen(
        [sys.executable, str(SHIMPROG), *b.flags(*extra)],
        cwd=b.path,
        env=b.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_on_socket_flag(bundle: Bundle, log_reader: LogReader, sig: signal.Signals) -> None:
    path = str(bundle.path / "own.sock")
    proc = _serve_directly(bundle, "-socket", "unix://" + path)
    try:
        log_reader.wait_for('msg="shim serving"')
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert connect("unix://" + path, bundle.id).shim_pid == proc.pid
        proc.send_signal(sig)
        assert proc.wait(15) == 0
    finally:
        proc.kill()
        proc.wait()
    assert not os.path.exists(path)


def test_sigterm_during_start_up_still_cleans_up(bundle: Bundle, log_reader: LogReader) -> None:
    address = bundle.start()
    pid = listening_pid(sock_path(address))
    assert pid is not None, f"nobody listens on {address}"
    os.kill(pid, signal.SIGTERM)  # most likely while it is still importing
    lines = log_reader.read_until_eof()
    assert wait_pid_exit(pid, 15)
    assert not os.path.exists(sock_path(address)), lines
    assert any("shim shutting down" in line for line in lines), lines


def test_serve_without_listener_binds_the_conventional_address(bundle: Bundle, log_reader: LogReader) -> None:
    proc = _serve_directly(bundle)
    try:
        log_reader.wait_for('msg="shim serving"')
        address = expected_address(bundle)
        assert connect(address, bundle.id).shim_pid == proc.pid
        proc.terminate()
        assert proc.wait(15) == 0
    finally:
        proc.kill()
        proc.wait()
    assert not os.path.exists(sock_path(address))


async def _orphan(path: str) -> tuple[int, int]:
    client = await Client.connect(path)
    try:
        out = await client.call("shimtest.Echo", "Orphan", b"", timeout=10)
    finally:
        await client.close()
    shim_pid, orphan = out.decode().split()
    return int(shim_pid), int(orphan)


def test_serving_process_is_a_subreaper_and_reaps(bundle: Bundle) -> None:
    bundle.env["SHIMTEST_MODE"] = "plugin"
    address = bundle.start()
    shim_pid, orphan = asyncio.run(_orphan(sock_path(address)))
    try:
        with open(f"/proc/{orphan}/status") as f:
            ppid = next(int(line.split()[1]) for line in f if line.startswith("PPid:"))
        assert ppid == shim_pid  # re-parented to the shim, not to init
    finally:
        os.kill(orphan, signal.SIGKILL)
    # Reaped (not left a zombie): /proc/<pid> goes away. No event for that: bounded polling.
    deadline = time.monotonic() + 60  # a hang guard: reaping follows SIGCHLD at once
    while os.path.exists(f"/proc/{orphan}"):
        assert time.monotonic() < deadline, "the orphan was not reaped"
        time.sleep(0.02)
    terminate(shim_pid)


def test_sigterm_does_not_wait_forever_for_a_blocked_call(
    bundle: Bundle, log_reader: LogReader, events_sink: EventsSink
) -> None:
    bundle.env["TTRPC_ADDRESS"] = events_sink.path
    address = bundle.start()

    async def go() -> tuple[int, TTRPCError]:
        client = await Client.connect(sock_path(address))
        try:
            task = TaskClient(client)
            pid = (await task.connect(ConnectRequest(id=bundle.id))).shim_pid
            await task.create(CreateTaskRequest(id=bundle.id))
            await task.start(StartRequest(id=bundle.id))
            waiting = asyncio.ensure_future(task.wait(WaitRequest(id=bundle.id)))  # never answered
            # Tasks first run in the order they were scheduled: the Wait request is
            # written before this Connect on the one stream, which the shim reads in
            # order, so once Connect is answered the shim has the Wait in flight.
            await asyncio.ensure_future(task.connect(ConnectRequest(id=bundle.id)))
            assert not waiting.done()
            os.kill(pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(waiting, 60)  # a hang guard, not a measurement
            except TTRPCError as exc:
                return pid, exc
            raise AssertionError("Wait answered although the task never stopped")
        finally:
            await client.close()

    pid, err = asyncio.run(go())
    assert err.code == Code.UNAVAILABLE  # the connection closed under it
    assert wait_pid_exit(pid, 60)
    lines = log_reader.read_until_eof()
    assert any("closing connections" in line and "level=warning" in line for line in lines), lines
    assert not os.path.exists(sock_path(address))
