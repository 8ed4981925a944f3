"""``ProcessTaskService``: the task API's bookkeeping around a runtime's ``ProcessOps``.

The runtime here is the smallest real one: each process is a child of the
test process (``/bin/sh``), the init process held at a gate between create
and start, so exits, signals, stdio and reaping are the kernel's, as in a
shim. Checked: states, ``Wait``, exit status and time, events in
containerd's order with their fields, exits racing ``create``/``start``/
``exec``, and the ttrpc code each error maps to.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from google.protobuf.any_pb2 import Any as AnyPB
from google.protobuf.message import Message

from impl import errdefs
from impl.shim import (
    Process,
    ProcessIO,
    ProcessOps,
    ProcessState,
    ProcessTaskService,
    SupportsPause,
    TaskShim,
)
from impl.ttrpc import Code
from shimtypes import ShimContext, TaskService
from shimtypes.pb import task_events_pb2 as events
from shimtypes.pb import task_pb2 as task
from shimtypes.pb import task_types_pb2 as types

from .conftest import read_until_eof

ID = "c1"


class Recorder:
    """A ``Publisher`` keeping (topic, event) in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Message]] = []

    async def publish(self, topic: str, event: Message, /) -> None:
        self.events.append((topic, event))

    async def close(self) -> None:
        return None

    def topics(self) -> list[str]:
        return [t for t, _ in self.events]

    def of(self, topic: str) -> list[Message]:
        return [e for t, e in self.events if t == topic]


class ShOps:
    """A ``ProcessOps`` running ``config.json``'s ``process.args`` as direct children.

    The init process waits on a gate pipe (fd 3) until ``start``; an exec
    runs at once. ``exit_before_return`` makes create/exec return only
    after the reaper handed out the process's exit (an exit racing the pid).
    """

    def __init__(self, service: ProcessTaskService) -> None:
        self.service = service
        self.gates: dict[int, int] = {}
        self.exit_before_return = False
        self.fail_create: Exception | None = None
        self.deleted: list[str] = []

    async def _spawn(self, argv: list[str], io: ProcessIO, gate: int = -1) -> int:
        reaper = self.service.reaper()
        queue = reaper.subscribe()
        try:
            actions = [(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(io.fds)]
            if gate >= 0:
                actions.append((os.POSIX_SPAWN_DUP2, gate, 3))
            pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions)
            if self.exit_before_return:
                while (await queue.get()).pid != pid:
                    pass
            return pid
        finally:
            reaper.unsubscribe(queue)

    async def create(self, process: Process, io: ProcessIO, /) -> int:
        if self.fail_create is not None:
            raise self.fail_create
        with open(os.path.join(process.bundle, "config.json")) as f:
            args = json.load(f)["process"]["args"]
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            gated = ["/bin/sh", "-c", 'read _ <&3; exec 3<&-; exec "$@"', "init", *args]
            pid = await self._spawn(gated, io, gate=r)
        except BaseException:
            os.close(w)
            raise
        finally:
            os.close(r)
        self.gates[pid] = w
        return pid

    async def start(self, process: Process, /) -> None:
        w = self.gates.pop(process.pid)
        os.write(w, b"go\n")
        os.close(w)

    async def exec(self, process: Process, io: ProcessIO, /) -> int:
        args = json.loads(process.spec)["args"]
        return await self._spawn(["/bin/sh", "-c", 'exec "$@"', "exec", *args], io)

    async def kill(self, process: Process, signal: int, all: bool, /) -> None:
        try:
            os.kill(process.pid, signal)
        except ProcessLookupError:
            raise errdefs.NotFound(f"{process.id}: gone") from None

    async def delete(self, process: Process, /) -> None:
        self.deleted.append(process.id)
        w = self.gates.pop(process.pid, -1)
        if w >= 0:  # never started: it must go
            os.kill(process.pid, signal.SIGKILL)
            os.close(w)


class PausingOps(ShOps):
    async def pause(self, init: Process, /) -> None:
        os.kill(init.pid, signal.SIGSTOP)

    async def resume(self, init: Process, /) -> None:
        os.kill(init.pid, signal.SIGCONT)


def bundle_with(tmp: Path, *args: str) -> str:
    (tmp / "config.json").write_text(json.dumps({"process": {"args": list(args)}}))
    return str(tmp)


def context(bundle: str) -> ShimContext:
    return ShimContext(id=ID, namespace="t", bundle=bundle, address="", ttrpc_address="", containerd_binary="")


def run_with(
    bundle: str,
    body: Callable[[ProcessTaskService, Recorder], Awaitable[None]],
    ops_type: type[ShOps] = ShOps,
) -> Recorder:
    """Run ``body`` with a service whose runtime is ``ops_type``; checks nothing is left running."""
    recorder = Recorder()
    shut: list[bool] = []

    async def main() -> None:
        service = ProcessTaskService(context(bundle), recorder, lambda: shut.append(True), lambda c, s: ops_type(s))
        try:
            await body(service, recorder)
        finally:
            for proc in service.processes():
                if proc.pid and proc.state != ProcessState.STOPPED:
                    os.kill(proc.pid, signal.SIGKILL)

    asyncio.run(main())
    return recorder


def exec_spec(*args: str) -> AnyPB:
    return AnyPB(type_url="types.containerd.io/opencontainers/runtime-spec/1/Process", value=json.dumps({"args": list(args)}).encode())


async def expect_code(code: Code, call: Awaitable[object]) -> Exception:
    """The call fails with an error the ttrpc server answers as ``code`` (it maps with ``errdefs.code_of``)."""
    with pytest.raises(Exception) as info:
        await call
    assert errdefs.code_of(info.value) == code, repr(info.value)
    return info.value


def fifo(tmp: Path, name: str) -> tuple[str, int]:
    path = str(tmp / name)
    os.mkfifo(path)
    return path, os.open(path, os.O_RDONLY | os.O_NONBLOCK)


# -- the whole life, events and fields ----------------------------------------------


def test_create_start_wait_delete_states_events_and_output(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, "/bin/sh", "-c", "echo hello; exit 7")
    out, out_r = fifo(tmp_path, "out")
    before = time.time()
    seen: dict[str, object] = {}

    async def body(s: ProcessTaskService, rec: Recorder) -> None:
        created = await s.create(task.CreateTaskRequest(id=ID, bundle=bundle, stdout=out))
        state = await s.state(task.StateRequest(id=ID))
        assert (state.status, state.pid, state.stdout, state.bundle) == (types.CREATED, created.pid, out, bundle)
        waiting = asyncio.ensure_future(s.wait(task.WaitRequest(id=ID)))
        started = await s.start(task.StartRequest(id=ID))
        assert started.pid == created.pid
        waited = await asyncio.wait_for(waiting, 30)
        seen["output"] = await asyncio.get_running_loop().run_in_executor(None, read_until_eof, out_r)
        assert waited.exit_status == 7
        assert before <= waited.exited_at.ToNanoseconds() / 1e9 <= time.time()
        state = await s.state(task.StateRequest(id=ID))
        assert (state.status, state.exit_status, state.id) == (types.STOPPED, 7, ID)
        await expect_code(Code.NOT_FOUND, s.kill(task.KillRequest(id=ID, signal=9)))
        deleted = await s.delete(task.DeleteRequest(id=ID))
        assert (deleted.pid, deleted.exit_status, deleted.exited_at) == (created.pid, 7, waited.exited_at)
        assert s.processes() == []
        await expect_code(Code.NOT_FOUND, s.state(task.StateRequest(id=ID)))
        seen["pid"] = created.pid
        await s.shutdown(task.ShutdownRequest(id=ID))

    rec = run_with(bundle, body)
    assert seen["output"] == b"hello\n"
    assert rec.topics() == ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]
    create, start, exit_, delete = (e for _, e in rec.events)
    assert isinstance(create, events.TaskCreate) and isinstance(exit_, events.TaskExit)
    assert isinstance(start, events.TaskStart) and isinstance(delete, events.TaskDelete)
    assert (create.container_id, create.bundle, create.pid, create.io.stdout) == (ID, bundle, seen["pid"], out)
    assert (start.container_id, start.pid) == (ID, seen["pid"])
    assert (exit_.container_id, exit_.id, exit_.pid, exit_.exit_status) == (ID, ID, seen["pid"], 7)
    assert (delete.container_id, delete.id, delete.pid, delete.exit_status) == (ID, ID, seen["pid"], 7)
    assert delete.exited_at == exit_.exited_at


def test_exit_during_start_is_published_after_task_start(tmp_path: Path) -> None:
    """The process is gone before ``start`` returns: TaskStart still comes first."""
    bundle = bundle_with(tmp_path, "/bin/true")

    class ExitsDuringStart(ShOps):
        async def start(self, process: Process, /) -> None:
            reaper = self.service.reaper()
            queue = reaper.subscribe()
            try:
                await super().start(process)
                while (await queue.get()).pid != process.pid:
                    pass
            finally:
                reaper.unsubscribe(queue)

    async def body(s: ProcessTaskService, rec: Recorder) -> None:
        await s.create(task.CreateTaskRequest(id=ID, bundle=bundle))
        await s.start(task.StartRequest(id=ID))
        assert (await asyncio.wait_for(s.wait(task.WaitRequest(id=ID)), 30)).exit_status == 0

    rec = run_with(bundle, body, ExitsDuringStart)
    assert rec.topics() == ["/tasks/create", "/tasks/start", "/tasks/exit"]


def test_exec_that_exits_before_its_pid_is_known(tmp_path: Path) -> None:
    """An exec's exit reaped while ``exec`` still runs is matched once the pid is known."""
    bundle = bundle_with(tmp_path, "/bin/sleep", "60")

    async def body(s: ProcessTaskService, rec: Recorder) -> None:
        await s.create(task.CreateTaskRequest(id=ID, bundle=bundle))
        await s.start(task.StartRequest(id=ID))
        ops = s.ops
        assert isinstance(ops, ShOps)
        ops.exit_before_return = True
        await s.exec(task.ExecProcessRequest(id=ID, exec_id="e1", spec=exec_spec("/bin/sh", "-c", "exit 5")))
        started = await s.start(task.StartRequest(id=ID, exec_id="e1"))
        waited = await asyncio.wait_for(s.wait(task.WaitRequest(id=ID, exec_id="e1")), 30)
        assert waited.exit_status == 5
        state = await s.state(task.StateRequest(id=ID, exec_id="e1"))
        assert (state.status, state.pid, state.id, state.exec_id) == (types.STOPPED, started.pid, "e1", "e1")
        deleted = await s.delete(task.DeleteRequest(id=ID, exec_id="e1"))
        assert (deleted.pid, deleted.exit_status) == (started.pid, 5)
        await expect_code(Code.NOT_FOUND, s.state(task.StateRequest(id=ID, exec_id="e1")))
        await s.kill(task.KillRequest(id=ID, signal=signal.SIGKILL))
        assert (await asyncio.wait_for(s.wait(task.WaitRequest(id=ID)), 30)).exit_status == 137
        await s.delete(task.DeleteRequest(id=ID))
        assert ops.deleted == ["e1", ID]

    rec = run_with(bundle, body)
    assert rec.topics() == [
        "/tasks/create",
        "/tasks/start",
        "/tasks/exec-added",
        "/tasks/exec-started",
        "/tasks/exit",
        "/tasks/exit",
        "/tasks/delete",
    ]
    added, started, exec_exit = rec.events[2][1], rec.events[3][1], rec.events[4][1]
    assert isinstance(added, events.TaskExecAdded) and (added.container_id, added.exec_id) == (ID, "e1")
    assert isinstance(started, events.TaskExecStarted) and started.exec_id == "e1" and started.pid
    assert isinstance(exec_exit, events.TaskExit)
    assert (exec_exit.container_id, exec_exit.id, exec_exit.pid, exec_exit.exit_status) == (ID, "e1", started.pid, 5)


def test_delete_of_a_never_started_task_kills_it_and_reports_137(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, "/bin/sleep", "60")

    async def body(s: ProcessTaskService, rec: Recorder) -> None:
        created = await s.create(task.CreateTaskRequest(id=ID, bundle=bundle))
        deleted = await s.delete(task.DeleteRequest(id=ID))
        assert (deleted.pid, deleted.exit_status) == (created.pid, 137)
        with pytest.raises(ProcessLookupError):
            os.kill(created.pid, 0)

    rec = run_with(bundle, body)
    assert rec.topics() == ["/tasks/create", "/tasks/exit", "/tasks/delete"]


def test_close_io_ends_stdin(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, "cat")
    stdin = str(tmp_path / "in")
    os.mkfifo(stdin)

    async def body(s: ProcessTaskService, rec: Recorder) -> None:
        loop = asyncio.get_running_loop()
        await s.create(task.CreateTaskRequest(id=ID, bundle=bundle, stdin=stdin))
        await s.start(task.StartRequest(id=ID))
        writer = await loop.run_in_executor(None, lambda: os.open(stdin, os.O_WRONLY))
        try:
            await s.close_io(task.CloseIORequest(id=ID, stdin=True))
            waited = await asyncio.wait_for(s.wait(task.WaitRequest(id=ID)), 30)
        finally:
            os.close(writer)
        assert waited.exit_status == 0, "cat saw EOF although the client kept its writer"

    run_with(bundle, body)


def test_pause_and_resume_when_the_runtime_supports_them(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, "/bin/sleep", "60")

    async def body(s: ProcessTaskService, rec: Recorder) -> None:
        assert isinstance(s.ops, SupportsPause)
        await s.create(task.CreateTaskRequest(id=ID, bundle=bundle))
        await expect_code(Code.FAILED_PRECONDITION, s.pause(task.PauseRequest(id=ID)))
        await s.start(task.StartRequest(id=ID))
        await s.pause(task.PauseRequest(id=ID))
        assert (await s.state(task.StateRequest(id=ID))).status == types.PAUSED
        await expect_code(Code.FAILED_PRECONDITION, s.delete(task.DeleteRequest(id=ID)))
        await s.resume(task.ResumeRequest(id=ID))
        assert (await s.state(task.StateRequest(id=ID))).status == types.RUNNING
        pids = await s.pids(task.PidsRequest(id=ID))
        assert [p.pid for p in pids.processes] == [(await s.state(task.StateRequest(id=ID))).pid]
        await s.kill(task.KillRequest(id=ID, signal=signal.SIGTERM))
        assert (await asyncio.wait_for(s.wait(task.WaitRequest(id=ID)), 30)).exit_status == 128 + signal.SIGTERM

    rec = run_with(bundle, body, PausingOps)
    assert rec.topics() == ["/tasks/create", "/tasks/start", "/tasks/paused", "/tasks/resumed", "/tasks/exit"]
    assert all(getattr(e, "container_id") == ID for _, e in rec.events)


# -- errors, mapped once to ttrpc codes ---------------------------------------------------


def test_errors_map_to_containerds_codes(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, "/bin/sleep", "60")

    async def body(s: ProcessTaskService, rec: Recorder) -> None:
        err = await expect_code(Code.NOT_FOUND, s.create(task.CreateTaskRequest(id=ID, bundle=str(tmp_path / "gone"))))
        assert str(tmp_path / "gone") in str(err)
        await expect_code(Code.INVALID_ARGUMENT, s.create(task.CreateTaskRequest(id="other/x", bundle=bundle)))
        await expect_code(Code.INVALID_ARGUMENT, s.create(task.CreateTaskRequest(id="other", bundle="rel")))
        await expect_code(
            Code.NOT_FOUND, s.create(task.CreateTaskRequest(id=ID, bundle=bundle, stdout=str(tmp_path / "no-fifo")))
        )
        await expect_code(Code.UNIMPLEMENTED, s.create(task.CreateTaskRequest(id=ID, bundle=bundle, terminal=True)))
        ops = s.ops
        assert isinstance(ops, ShOps)
        ops.fail_create = errdefs.InvalidArgument("the runtime says no")
        err = await expect_code(Code.INVALID_ARGUMENT, s.create(task.CreateTaskRequest(id=ID, bundle=bundle)))
        assert str(err) == "the runtime says no"
        ops.fail_create = ValueError("a bug")
        await expect_code(Code.UNKNOWN, s.create(task.CreateTaskRequest(id=ID, bundle=bundle)))
        ops.fail_create = None
        assert s.processes() == [], "failed creates leave nothing behind"
        await expect_code(Code.NOT_FOUND, s.start(task.StartRequest(id=ID)))
        await s.create(task.CreateTaskRequest(id=ID, bundle=bundle))
        await expect_code(Code.ALREADY_EXISTS, s.create(task.CreateTaskRequest(id=ID, bundle=bundle)))
        await s.start(task.StartRequest(id=ID))
        await expect_code(Code.FAILED_PRECONDITION, s.start(task.StartRequest(id=ID)))
        await expect_code(Code.FAILED_PRECONDITION, s.delete(task.DeleteRequest(id=ID)))
        await expect_code(Code.NOT_FOUND, s.start(task.StartRequest(id=ID, exec_id="nope")))
        await expect_code(Code.INVALID_ARGUMENT, s.exec(task.ExecProcessRequest(id=ID, exec_id="", spec=exec_spec("x"))))
        await expect_code(Code.INVALID_ARGUMENT, s.exec(task.ExecProcessRequest(id=ID, exec_id="../x", spec=exec_spec("x"))))
        bad = AnyPB(type_url="t", value=b"not json")
        err = await expect_code(Code.INVALID_ARGUMENT, s.exec(task.ExecProcessRequest(id=ID, exec_id="e", spec=bad)))
        assert "not JSON" in str(err)
        await expect_code(
            Code.UNIMPLEMENTED, s.exec(task.ExecProcessRequest(id=ID, exec_id="e", terminal=True, spec=exec_spec("x")))
        )
        await s.exec(task.ExecProcessRequest(id=ID, exec_id="e", spec=exec_spec("/bin/true")))
        await expect_code(Code.ALREADY_EXISTS, s.exec(task.ExecProcessRequest(id=ID, exec_id="e", spec=exec_spec("x"))))
        await s.delete(task.DeleteRequest(id=ID, exec_id="e"))  # never started: just forgotten
        for call in (
            s.pause(task.PauseRequest(id=ID)),
            s.resume(task.ResumeRequest(id=ID)),
            s.checkpoint(task.CheckpointTaskRequest(id=ID)),
            s.update(task.UpdateTaskRequest(id=ID)),
            s.stats(task.StatsRequest(id=ID)),
        ):
            await expect_code(Code.UNIMPLEMENTED, call)
        await expect_code(Code.NOT_FOUND, s.wait(task.WaitRequest(id="other")))
        await s.shutdown(task.ShutdownRequest(id=ID))
        await s.kill(task.KillRequest(id=ID, signal=signal.SIGKILL))
        assert (await asyncio.wait_for(s.wait(task.WaitRequest(id=ID)), 30)).exit_status == 137

    rec = run_with(bundle, body)
    assert rec.topics() == [
        "/tasks/create",
        "/tasks/start",
        "/tasks/exec-added",
        "/tasks/exit",
    ]


def test_shutdown_only_once_no_task_is_left(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, "/bin/true")
    calls: list[str] = []

    async def main() -> None:
        s = ProcessTaskService(context(bundle), Recorder(), lambda: calls.append("shutdown"), lambda c, svc: ShOps(svc))
        await s.create(task.CreateTaskRequest(id=ID, bundle=bundle))
        await s.shutdown(task.ShutdownRequest(id=ID))
        assert calls == []
        await s.start(task.StartRequest(id=ID))
        await asyncio.wait_for(s.wait(task.WaitRequest(id=ID)), 30)
        await s.delete(task.DeleteRequest(id=ID))
        await s.shutdown(task.ShutdownRequest(id=ID))
        assert calls == ["shutdown"]
        connect = await s.connect(task.ConnectRequest(id=ID))
        assert (connect.shim_pid, connect.task_pid) == (os.getpid(), 0)

    asyncio.run(main())


def test_task_shim_is_a_task_service_built_lazily(tmp_path: Path) -> None:
    made: list[ProcessTaskService] = []

    def factory(c: ShimContext, s: ProcessTaskService) -> ProcessOps:
        made.append(s)
        return ShOps(s)

    shim = TaskShim(context(str(tmp_path)), Recorder(), lambda: None, factory)
    assert isinstance(shim, TaskService) and made == []
    assert isinstance(shim.service, ProcessTaskService) and made == [shim.service]
    response = shim.cleanup()
    assert (response.pid, response.exit_status) == (0, 137)


# -- one shim, many containers (a pod) --------------------------------------------------


def test_one_service_serves_a_pod_and_shuts_down_after_the_last(tmp_path: Path) -> None:
    """Containers keyed by id, each with its own bundle and events; ``Shutdown`` waits for the last."""
    bundles = {}
    for id, args in (("sandbox", ("/bin/sleep", "60")), ("app", ("/bin/sh", "-c", "exit 7"))):
        (tmp_path / id).mkdir()
        bundles[id] = bundle_with(tmp_path / id, *args)
    recorder = Recorder()
    shut: list[bool] = []

    async def main() -> None:
        ctx = ShimContext(
            id="sandbox", namespace="t", bundle=bundles["sandbox"], address="", ttrpc_address="", containerd_binary=""
        )
        s = ProcessTaskService(ctx, recorder, lambda: shut.append(True), lambda c, svc: ShOps(svc))
        try:
            pids = {}
            for id in ("sandbox", "app"):
                pids[id] = (await s.create(task.CreateTaskRequest(id=id, bundle=bundles[id]))).pid
                await s.start(task.StartRequest(id=id))
            assert pids["sandbox"] != pids["app"]
            assert (await s.wait(task.WaitRequest(id="app"))).exit_status == 7
            state = await s.state(task.StateRequest(id="sandbox"))
            assert (state.status, state.bundle) == (types.RUNNING, bundles["sandbox"])
            assert (await s.state(task.StateRequest(id="app"))).bundle == bundles["app"]
            assert (await s.connect(task.ConnectRequest(id="app"))).task_pid == pids["app"]
            await s.delete(task.DeleteRequest(id="app"))
            await s.shutdown(task.ShutdownRequest(id="app"))
            assert shut == [], "Shutdown with a container left does nothing"
            await expect_code(Code.NOT_FOUND, s.state(task.StateRequest(id="app")))
            await s.kill(task.KillRequest(id="sandbox", signal=signal.SIGKILL))
            await s.wait(task.WaitRequest(id="sandbox"))
            await s.delete(task.DeleteRequest(id="sandbox"))
            await s.shutdown(task.ShutdownRequest(id="sandbox"))
            assert shut == [True]
        finally:
            for proc in s.processes():
                if proc.pid and proc.state != ProcessState.STOPPED:
                    os.kill(proc.pid, signal.SIGKILL)

    asyncio.run(main())
    exits = {getattr(e, "container_id"): getattr(e, "exit_status") for e in recorder.of("/tasks/exit")}
    assert exits == {"app": 7, "sandbox": 128 + signal.SIGKILL}
    for topic in ("/tasks/create", "/tasks/start", "/tasks/delete"):
        assert sorted(getattr(e, "container_id") for e in recorder.of(topic)) == ["app", "sandbox"], topic


# -- kill: as the Go shim, `all` on a stopped init still runs, and exits wait for kills -------


def test_exit_is_held_until_the_kill_returns(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, "/bin/sleep", "60")

    class ReapedBeforeKillReturns(ShOps):
        state_seen_in_kill: ProcessState | None = None

        async def kill(self, process: Process, signal: int, all: bool, /) -> None:
            reaper = self.service.reaper()
            queue = reaper.subscribe()
            try:
                await super().kill(process, signal, all)
                while (await queue.get()).pid != process.pid:
                    pass
                # The service has the exit by now (subscribers are served in order)...
                await asyncio.sleep(0)
                self.state_seen_in_kill = process.state
            finally:
                reaper.unsubscribe(queue)

    async def body(s: ProcessTaskService, rec: Recorder) -> None:
        await s.create(task.CreateTaskRequest(id=ID, bundle=bundle))
        await s.start(task.StartRequest(id=ID))
        await s.kill(task.KillRequest(id=ID, signal=signal.SIGKILL))
        ops = s.ops
        assert isinstance(ops, ReapedBeforeKillReturns)
        # ...but it is not reported while the kill is in flight.
        assert ops.state_seen_in_kill == ProcessState.RUNNING
        assert (await asyncio.wait_for(s.wait(task.WaitRequest(id=ID)), 30)).exit_status == 137
        await s.delete(task.DeleteRequest(id=ID))

    rec = run_with(bundle, body, ReapedBeforeKillReturns)
    assert rec.topics() == ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]


def test_kill_all_on_a_stopped_init_reaches_the_runtime(tmp_path: Path) -> None:
    bundle = bundle_with(tmp_path, "/bin/true")

    class RecordsKills(ShOps):
        kills: list[tuple[str, int, bool]] = []

        async def kill(self, process: Process, signal: int, all: bool, /) -> None:
            self.kills.append((process.id, signal, all))

    async def body(s: ProcessTaskService, rec: Recorder) -> None:
        await s.create(task.CreateTaskRequest(id=ID, bundle=bundle))
        await s.start(task.StartRequest(id=ID))
        assert (await asyncio.wait_for(s.wait(task.WaitRequest(id=ID)), 30)).exit_status == 0
        await expect_code(Code.NOT_FOUND, s.kill(task.KillRequest(id=ID, signal=signal.SIGTERM)))
        await s.kill(task.KillRequest(id=ID, signal=signal.SIGKILL, all=True))
        ops = s.ops
        assert isinstance(ops, RecordsKills)
        assert ops.kills == [(ID, signal.SIGKILL, True)]
        await s.delete(task.DeleteRequest(id=ID))

    run_with(bundle, body, RecordsKills)
