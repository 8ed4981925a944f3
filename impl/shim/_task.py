"""``ProcessTaskService``: all of ``containerd.task.v2.Task`` around a runtime's ``ProcessOps``.

Process states follow containerd's own shims: an init process (exec id "")
and exec'd processes, each CREATED -> RUNNING -> STOPPED (PAUSED while the
container is paused). Exits come from the reaper's subscription: a shim is a
subreaper, so the container's processes are its children or re-parented to
it. An exit that arrives while ``create``/``exec`` is still running (pid not
known yet) is kept until the pid is; an exit that arrives during ``Start``
is held back until TaskStart is published, so TaskStart always precedes
TaskExit. Events go out in containerd's order with the fields it expects
(TaskExit's ``id`` is the container id for the init process).

Methods raise ``impl.errdefs`` kinds; the ttrpc server maps them (and OS
errors) to codes with ``errdefs.code_of``, as for every other service.
Every method checks its request's ids first (``_ids_checked``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine
from types import CoroutineType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from google.protobuf.empty_pb2 import Empty
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from impl import errdefs
from shimtypes.pb import task_events_pb2 as events
from shimtypes.pb import task_pb2 as task
from shimtypes.pb import task_types_pb2 as types

from ._bootstrap import read_options_file
from ._identifiers import validate_id, validate_path, validate_stdio
from ._mount import MountSpec, mount_all, unmount_all
from ._ops import (
    Process,
    ProcessOps,
    ProcessState,
    SupportsExited,
    SupportsPause,
    SupportsPids,
    SupportsStats,
    SupportsTerminal,
    SupportsUpdate,
)
from ._reaper import Exit, Reaper
from ._stdio import ConsoleIO, open_stdio

if TYPE_CHECKING:
    from shimtypes import Publisher, ShimContext

    from ._stdio import ProcessIO

__all__ = ["DELETE_EXIT_TIMEOUT", "ProcessTaskService"]

log = logging.getLogger("impl.shim.task")

CREATED = ProcessState.CREATED
RUNNING = ProcessState.RUNNING
STOPPED = ProcessState.STOPPED
PAUSED = ProcessState.PAUSED

DELETE_EXIT_TIMEOUT = 2.0
"""Seconds ``Delete`` of a never-started task waits for its exit before recording a kill."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _timestamp(t: float | None) -> Timestamp | None:
    if t is None:
        return None
    ts = Timestamp()
    ts.FromNanoseconds(int(t * 1e9))
    return ts


def _ids_checked(
    method: Callable[Concatenate[ProcessTaskService, _P], Coroutine[Any, Any, _R]],
) -> Callable[Concatenate[ProcessTaskService, _P], CoroutineType[Any, Any, _R]]:
    """Check the request's ids before the method sees them (``errdefs.InvalidArgument`` if hostile).

    Typed as returning ``CoroutineType``, what an ``async def`` is to pyright,
    so the service is a ``shimtypes.TaskService`` to mypy and pyright alike.
    """

    name = method.__name__
    id_optional = name in ("connect", "shutdown")  # asked of the shim, not of one task

    @functools.wraps(method)
    async def call(self: ProcessTaskService, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        request = args[0] if args else None
        id = getattr(request, "id", "")
        if id or not id_optional:
            validate_id(id, f"{name}: id")
        exec_id = getattr(request, "exec_id", "")
        if exec_id:
            validate_id(exec_id, f"{name}: exec id")
        return await method(self, *args, **kwargs)

    # Sound: ``call`` is an ``async def``, so it returns a CoroutineType; mypy
    # types it as returning the wider ``Coroutine``.
    return cast("Callable[Concatenate[ProcessTaskService, _P], CoroutineType[Any, Any, _R]]", call)


def _check_process_spec(exec_id: str, type_url: str, value: bytes) -> None:
    """An exec's spec is an OCI process as JSON (containerd sends nothing else)."""
    import json  # only exec needs it; keeps the common serving shim smaller

    try:
        spec = json.loads(value)
    except ValueError as err:
        raise errdefs.InvalidArgument(f"exec {exec_id!r}: spec ({type_url}) is not JSON: {err}") from None
    if not isinstance(spec, dict):
        raise errdefs.InvalidArgument(f"exec {exec_id!r}: spec is not a JSON object")


class _Record:
    """The service's private bookkeeping next to a ``Process``."""

    __slots__ = ("exited", "held_exit", "killing", "process", "starting")

    def __init__(self, process: Process) -> None:
        self.process = process
        self.exited = asyncio.Event()
        self.starting = False
        self.killing = 0  # kills in flight: the exit waits for them, as the Go shim's process lock makes it
        self.held_exit: Exit | None = None


class _Container:
    """One container the shim serves: its bundle, processes by exec id ("" = init), mounted rootfs."""

    __slots__ = ("bundle", "id", "mounted_rootfs", "records")

    def __init__(self, id: str, bundle: str) -> None:
        self.id = id
        self.bundle = bundle
        self.records: dict[str, _Record] = {}
        self.mounted_rootfs = ""


class ProcessTaskService:
    """``shimtypes.TaskService`` for the containers whose processes ``ops`` runs.

    One shim may serve several containers (a pod: containerd's ``start``
    answered the group's shim, or a 2.x sandbox connection): each
    ``Create`` adds one, keyed by its id; ``Shutdown`` waits for the last.

    ``ops(context, service)`` makes the runtime (a ``ProcessOps``, plus any
    of the optional ``Supports*`` protocols). Build the service in the
    serving process; ``TaskShim`` does so lazily, on the first task call.
    """

    def __init__(
        self,
        context: ShimContext,
        publisher: Publisher,
        shutdown: Callable[[], None],
        ops: Callable[[ShimContext, ProcessTaskService], ProcessOps],
    ) -> None:
        self.context = context
        self.id: str = context.id
        """The id the shim was started for (the first container, the pod's sandbox)."""
        self._publisher = publisher
        self._shutdown = shutdown
        self.bundle: str = context.bundle
        """The bundle the shim was started in."""
        self._containers: dict[str, _Container] = {}
        self._exits: asyncio.Task[None] | None = None
        self._inflight = 0
        self._unmatched: dict[int, Exit] = {}
        self.ops: ProcessOps = ops(context, self)
        """The runtime, made by the ``ops`` factory with this service (for ``publish_oom``, ``reaper``)."""

    # -- what a runtime may use ---------------------------------------------

    def processes(self) -> list[Process]:
        """Every served container's processes (each init first), in every state until deleted."""
        return [r.process for c in self._containers.values() for r in c.records.values()]

    async def publish(self, topic: str, event: Message) -> None:
        """Publish ``event``; a failure is logged, never raised (events are best effort)."""
        try:
            await self._publisher.publish(topic, event)
        except Exception:
            log.exception("publishing %s for %s failed", topic, self.id)

    async def publish_oom(self, container_id: str = "") -> None:
        """Tell containerd a container (default: the first) hit its memory limit (``/tasks/oom``; CRI's only OOM signal)."""
        await self.publish("/tasks/oom", events.TaskOOM(container_id=container_id or self.id))

    def reaper(self) -> Reaper:
        """The shim's reaper, with this service's exit subscription in place (call in the loop)."""
        reaper = Reaper.install(asyncio.get_running_loop())
        if self._exits is None:
            queue = reaper.subscribe()
            self._exits = asyncio.get_running_loop().create_task(self._consume_exits(queue))
        return reaper

    # -- exits ----------------------------------------------------------------

    async def _consume_exits(self, queue: asyncio.Queue[Exit]) -> None:
        while True:
            ev = await queue.get()
            try:
                await self._on_exit(ev)
            except Exception:
                log.exception("handling the exit of pid %d failed", ev.pid)

    def _find_pid(self, pid: int) -> _Record | None:
        for rec in (r for c in self._containers.values() for r in c.records.values()):
            if rec.process.pid == pid and rec.process.state != STOPPED:
                return rec
        return None

    async def _on_exit(self, ev: Exit) -> None:
        rec = self._find_pid(ev.pid)
        if rec is None:
            if self._inflight:
                self._unmatched[ev.pid] = ev
            return
        if rec.starting or rec.killing:
            rec.held_exit = ev
            return
        await self._finish(rec, ev)

    async def _claim_early_exit(self, rec: _Record) -> None:
        """After learning the pid: handle an exit that raced ahead of it."""
        ev = self._unmatched.pop(rec.process.pid, None)
        if not self._inflight:
            self._unmatched.clear()
        if ev is not None:
            await self._finish(rec, ev)

    async def _release_held_exit(self, rec: _Record) -> None:
        rec.starting = False
        if rec.killing:
            return  # the last kill to return releases it
        held, rec.held_exit = rec.held_exit, None
        if held is not None:
            await self._finish(rec, held)

    async def _finish(self, rec: _Record, ev: Exit) -> None:
        proc = rec.process
        if proc.state == STOPPED:
            return
        if isinstance(self.ops, SupportsExited):  # before the process is seen as stopped
            try:
                await self.ops.exited(proc)
            except Exception:
                log.exception("after the exit of %s", proc)
            # exited() may have stopped it; pyright keeps the narrowing of
            # proc.state from above across the await, which no annotation undoes.
            if proc.state == STOPPED:  # pyright: ignore[reportUnnecessaryComparison]
                return
        proc.state = STOPPED
        proc.exit_status = ev.status
        proc.exited_at = ev.timestamp
        if proc.io is not None:
            try:
                await proc.io.wait_output()
            except Exception:
                log.exception("draining the output of %s failed", proc)
        await self.publish(
            "/tasks/exit",
            events.TaskExit(
                container_id=proc.container_id,
                id=proc.id,
                pid=proc.pid,
                exit_status=ev.status,
                exited_at=_timestamp(ev.timestamp),
            ),
        )
        rec.exited.set()
        if proc.io is not None:
            proc.io.close_stdin()

    # -- lookups ----------------------------------------------------------------

    def _container(self, id: str) -> _Container:
        container = self._containers.get(id)
        if container is None:
            raise errdefs.NotFound(f"task {id!r} not found")
        return container

    def _record(self, id: str, exec_id: str = "") -> _Record:
        rec = self._container(id).records.get(exec_id)
        if rec is None:
            what = f"exec {exec_id!r} of task {id!r}" if exec_id else f"task {id!r}"
            raise errdefs.NotFound(f"{what} not found")
        return rec

    def _init(self, id: str) -> _Record | None:
        container = self._containers.get(id)
        return container.records.get("") if container is not None else None

    def _open_io(self, proc: Process) -> ProcessIO:
        if proc.terminal:
            if not isinstance(self.ops, SupportsTerminal):
                raise errdefs.NotImplemented(f"{proc.id!r}: terminal is not supported by this runtime")
            return self.ops.open_terminal(proc)
        try:
            return open_stdio(asyncio.get_running_loop(), proc.stdin, proc.stdout, proc.stderr)
        except FileNotFoundError as err:
            raise errdefs.NotFound(f"{proc.id!r}: opening stdio: {err}") from None
        except OSError as err:
            raise errdefs.Internal(f"{proc.id!r}: opening stdio: {err}") from None

    # -- lifecycle ----------------------------------------------------------------

    @_ids_checked
    async def create(self, request: task.CreateTaskRequest, /) -> task.CreateTaskResponse:
        """Create the init process: mount the rootfs, open stdio, ``ops.create``; publishes TaskCreate."""
        if request.id in self._containers:
            raise errdefs.AlreadyExists(f"task {request.id!r} already exists")
        if request.checkpoint:
            raise errdefs.NotImplemented("create: restoring a checkpoint is not supported")
        if request.bundle:
            validate_path(request.bundle, f"create {request.id!r}: bundle")
        for field in ("stdin", "stdout", "stderr"):
            validate_stdio(getattr(request, field), f"create {request.id!r}: {field}")
        bundle = request.bundle or (self.bundle if request.id == self.id else "")
        if not bundle:
            raise errdefs.InvalidArgument(f"create {request.id!r}: no bundle")
        if not os.path.isdir(bundle):
            raise errdefs.NotFound(f"create {request.id!r}: bundle {bundle!r} not found")
        if not os.path.isfile(os.path.join(bundle, "config.json")):
            raise errdefs.NotFound(f"create {request.id!r}: {os.path.join(bundle, 'config.json')!r} not found")
        self.reaper()  # reaping starts before the runtime starts anything
        proc = Process(
            request.id,
            "",
            bundle,
            stdin=request.stdin,
            stdout=request.stdout,
            stderr=request.stderr,
            terminal=request.terminal,
            options=(
                (request.options.type_url, request.options.value)
                if request.options.type_url
                else read_options_file(bundle)
            ),
        )
        rec = _Record(proc)
        container = _Container(request.id, bundle)
        container.records[""] = rec
        self._containers[request.id] = container  # reserve the id while the runtime works
        rootfs = os.path.join(bundle, "rootfs")
        try:
            if request.rootfs:
                specs = [MountSpec(m.type, m.source, list(m.options)) for m in request.rootfs]
                try:
                    mount_all(specs, rootfs)
                except OSError as err:
                    raise errdefs.Internal(f"create {request.id!r}: {err}") from None
                container.mounted_rootfs = rootfs
            io = self._open_io(proc)
            self._inflight += 1
            try:
                proc.pid = await self.ops.create(proc, io)
            except BaseException:
                io.close()
                raise
            finally:
                self._inflight -= 1
            io.close_child_ends()
            proc.io = io
        except BaseException:
            del self._containers[request.id]
            self._unmount(container)
            raise
        await self.publish(
            "/tasks/create",
            events.TaskCreate(
                container_id=request.id,
                bundle=bundle,
                rootfs=request.rootfs,
                io=events.TaskIO(
                    stdin=request.stdin, stdout=request.stdout, stderr=request.stderr, terminal=request.terminal
                ),
                checkpoint=request.checkpoint,
                pid=proc.pid,
            ),
        )
        await self._claim_early_exit(rec)
        return task.CreateTaskResponse(pid=proc.pid)

    @_ids_checked
    async def start(self, request: task.StartRequest, /) -> task.StartResponse:
        """Start the init process (TaskStart) or an exec (``ops.exec``; TaskExecStarted)."""
        rec = self._record(request.id, request.exec_id)
        proc = rec.process
        if proc.state != CREATED or rec.starting:
            raise errdefs.FailedPrecondition(f"start {proc.id!r}: process is not in the created state")
        if proc.exec_id:
            return await self._start_exec(rec)
        rec.starting = True
        try:
            await self.ops.start(proc)
            proc.state = RUNNING
            await self.publish("/tasks/start", events.TaskStart(container_id=proc.container_id, pid=proc.pid))
        finally:
            await self._release_held_exit(rec)
        return task.StartResponse(pid=proc.pid)

    async def _start_exec(self, rec: _Record) -> task.StartResponse:
        proc = rec.process
        init = self._init(proc.container_id)
        if init is None or init.process.state != RUNNING:
            raise errdefs.FailedPrecondition(f"exec {proc.exec_id!r}: task {proc.container_id!r} is not running")
        self.reaper()
        io = self._open_io(proc)
        rec.starting = True
        self._inflight += 1
        try:
            proc.pid = await self.ops.exec(proc, io)
        except BaseException:
            io.close()
            rec.starting = False
            raise
        finally:
            self._inflight -= 1
        io.close_child_ends()
        proc.io = io
        proc.state = RUNNING
        await self.publish(
            "/tasks/exec-started",
            events.TaskExecStarted(container_id=proc.container_id, exec_id=proc.exec_id, pid=proc.pid),
        )
        await self._release_held_exit(rec)
        await self._claim_early_exit(rec)
        return task.StartResponse(pid=proc.pid)

    @_ids_checked
    async def exec(self, request: task.ExecProcessRequest, /) -> Empty:
        """Add an exec process (its OCI process spec); publishes TaskExecAdded."""
        init = self._record(request.id)
        container = self._container(request.id)
        if not request.exec_id:  # a non-empty one was validated with every id (_ids_checked)
            raise errdefs.InvalidArgument(f"exec in {request.id!r}: exec id must not be empty")
        for field in ("stdin", "stdout", "stderr"):
            validate_stdio(getattr(request, field), f"exec {request.exec_id!r}: {field}")
        if request.exec_id in container.records:
            raise errdefs.AlreadyExists(f"exec {request.exec_id!r} already exists in {request.id!r}")
        if init.process.state == STOPPED:
            raise errdefs.FailedPrecondition(f"exec in {request.id!r}: task is stopped")
        if request.terminal and not isinstance(self.ops, SupportsTerminal):
            raise errdefs.NotImplemented(f"exec {request.exec_id!r}: terminal is not supported by this runtime")
        _check_process_spec(request.exec_id, request.spec.type_url, request.spec.value)
        proc = Process(
            request.id,
            request.exec_id,
            container.bundle,
            stdin=request.stdin,
            stdout=request.stdout,
            stderr=request.stderr,
            terminal=request.terminal,
            spec=request.spec.value,
        )
        container.records[request.exec_id] = _Record(proc)
        await self.publish(
            "/tasks/exec-added", events.TaskExecAdded(container_id=request.id, exec_id=request.exec_id)
        )
        return Empty()

    @_ids_checked
    async def delete(self, request: task.DeleteRequest, /) -> task.DeleteResponse:
        """Delete a stopped or never-started process; for init also the mounts and every exec (TaskDelete)."""
        rec = self._record(request.id, request.exec_id)
        container = self._container(request.id)
        proc = rec.process
        if proc.state in (RUNNING, PAUSED) or rec.starting:
            raise errdefs.FailedPrecondition(f"delete {proc.id!r}: process is running")
        if proc.exec_id:
            if proc.state == CREATED:
                del container.records[proc.exec_id]  # never started: nothing of it exists
            else:
                await self.ops.delete(proc)
                del container.records[proc.exec_id]
            if proc.io is not None:
                proc.io.close()
            return task.DeleteResponse(pid=proc.pid, exit_status=proc.exit_status, exited_at=_timestamp(proc.exited_at))
        await self.ops.delete(proc)
        if proc.state == CREATED:
            try:
                await asyncio.wait_for(rec.exited.wait(), DELETE_EXIT_TIMEOUT)
            except TimeoutError:
                await self._finish(rec, Exit(proc.pid, 128 + signal.SIGKILL, time.time()))
        for other in list(container.records.values()):
            if other.process.exec_id and other.process.state != CREATED:
                try:
                    await self.ops.delete(other.process)
                except Exception:
                    log.exception("deleting %s failed", other.process)
            if other.process.io is not None:
                other.process.io.close()
        container.records.clear()
        del self._containers[request.id]
        self._unmount(container)
        exited_at = _timestamp(proc.exited_at)
        await self.publish(
            "/tasks/delete",
            events.TaskDelete(
                container_id=proc.container_id,
                pid=proc.pid,
                exit_status=proc.exit_status,
                exited_at=exited_at,
                id=proc.container_id,
            ),
        )
        return task.DeleteResponse(pid=proc.pid, exit_status=proc.exit_status, exited_at=exited_at)

    @staticmethod
    def _unmount(container: _Container) -> None:
        if container.mounted_rootfs:
            try:
                unmount_all(container.mounted_rootfs)
            except OSError:
                log.exception("unmounting %s failed", container.mounted_rootfs)
            else:
                container.mounted_rootfs = ""

    # -- queries and signals ------------------------------------------------------

    @_ids_checked
    async def state(self, request: task.StateRequest, /) -> task.StateResponse:
        """The process's ``State``: status, pid, stdio, exit status and time."""
        proc = self._record(request.id, request.exec_id).process
        return task.StateResponse(
            id=proc.id,
            bundle=self._container(request.id).bundle,
            pid=proc.pid,
            status=types.Status.Value(proc.state.name),
            stdin=proc.stdin,
            stdout=proc.stdout,
            stderr=proc.stderr,
            terminal=proc.terminal,
            exit_status=proc.exit_status,
            exited_at=_timestamp(proc.exited_at),
            exec_id=proc.exec_id,
        )

    @_ids_checked
    async def wait(self, request: task.WaitRequest, /) -> task.WaitResponse:
        """Block until the process exits; its exit status and time."""
        rec = self._record(request.id, request.exec_id)
        await rec.exited.wait()
        proc = rec.process
        return task.WaitResponse(exit_status=proc.exit_status, exited_at=_timestamp(proc.exited_at))

    @_ids_checked
    async def kill(self, request: task.KillRequest, /) -> Empty:
        """Signal a process through ``ops.kill``; NOT_FOUND once it has exited (but ``all`` on the init still signals)."""
        rec = self._record(request.id, request.exec_id)
        proc = rec.process
        # ``all`` on a stopped init still reaches the runtime: processes left in the
        # container's cgroup (a shared pid namespace) are killed only that way.
        if proc.state == STOPPED and not (request.all and proc.is_init):
            raise errdefs.NotFound(f"kill {proc.id!r}: process already finished")
        if not proc.pid:
            raise errdefs.FailedPrecondition(f"kill {proc.id!r}: process not started")
        rec.killing += 1
        try:
            await self.ops.kill(proc, request.signal, request.all)
        except errdefs.Error:
            raise
        except Exception as err:
            if proc.state == STOPPED or rec.held_exit is not None:  # it exited while the signal was on its way
                raise errdefs.NotFound(f"kill {proc.id!r}: process already finished") from None
            raise errdefs.Unknown(f"kill {proc.id!r}: {err}") from None
        finally:
            rec.killing -= 1
            # TaskExit and Wait come only after the kill has returned.
            if not rec.killing and not rec.starting:
                await self._release_held_exit(rec)
        return Empty()

    @_ids_checked
    async def pids(self, request: task.PidsRequest, /) -> task.PidsResponse:
        """The container's pids (``SupportsPids``, else none), always with the init process's.

        containerd's restore deletes a task whose ``Pids`` lacks its init pid
        as a leaked shim, so the init pid is listed whatever the runtime says.
        """
        init = self._record(request.id).process
        pids: list[int] = []
        if isinstance(self.ops, SupportsPids) and init.state != STOPPED:
            pids = list(await self.ops.pids(init))
        if init.pid and init.pid not in pids:
            pids.insert(0, init.pid)
        return task.PidsResponse(processes=[types.ProcessInfo(pid=p) for p in pids])

    @_ids_checked
    async def connect(self, request: task.ConnectRequest, /) -> task.ConnectResponse:
        """The shim's pid and the init process's of ``request.id``."""
        init = self._init(request.id)
        return task.ConnectResponse(shim_pid=os.getpid(), task_pid=init.process.pid if init else 0)

    @_ids_checked
    async def shutdown(self, request: task.ShutdownRequest, /) -> Empty:
        """Stop serving once no task is left (containerd asks again after Delete)."""
        if self._containers:
            return Empty()  # containerd asks again once the task is deleted
        if self._exits is not None:
            self._exits.cancel()
        self._shutdown()
        return Empty()

    @_ids_checked
    async def close_io(self, request: task.CloseIORequest, /) -> Empty:
        """Close the process's stdin (``CloseIO``)."""
        proc = self._record(request.id, request.exec_id).process
        if request.stdin and proc.io is not None:
            proc.io.close_stdin()
        return Empty()

    @_ids_checked
    async def resize_pty(self, request: task.ResizePtyRequest, /) -> Empty:
        """Resize the console of a terminal process (``ConsoleIO``); a no-op without one."""
        proc = self._record(request.id, request.exec_id).process
        if isinstance(proc.io, ConsoleIO):
            proc.io.resize(request.width, request.height)
        return Empty()  # no console: nothing to resize, as containerd's shims answer

    # -- optional -----------------------------------------------------------------

    @_ids_checked
    async def pause(self, request: task.PauseRequest, /) -> Empty:
        """Pause the container (``SupportsPause``); publishes TaskPaused."""
        if not isinstance(self.ops, SupportsPause):
            raise errdefs.NotImplemented("pause is not supported by this runtime")
        init = self._record(request.id).process
        if init.state != RUNNING:
            raise errdefs.FailedPrecondition(f"pause {init.id!r}: task is not running")
        await self.ops.pause(init)
        init.state = PAUSED
        await self.publish("/tasks/paused", events.TaskPaused(container_id=init.container_id))
        return Empty()

    @_ids_checked
    async def resume(self, request: task.ResumeRequest, /) -> Empty:
        """Resume the paused container (``SupportsPause``); publishes TaskResumed."""
        if not isinstance(self.ops, SupportsPause):
            raise errdefs.NotImplemented("resume is not supported by this runtime")
        init = self._record(request.id).process
        if init.state != PAUSED:
            raise errdefs.FailedPrecondition(f"resume {init.id!r}: task is not paused")
        await self.ops.resume(init)
        init.state = RUNNING
        await self.publish("/tasks/resumed", events.TaskResumed(container_id=init.container_id))
        return Empty()

    @_ids_checked
    async def checkpoint(self, request: task.CheckpointTaskRequest, /) -> Empty:
        """Not supported by the SDK: UNIMPLEMENTED."""
        raise errdefs.NotImplemented("checkpoint is not supported by this runtime")

    @_ids_checked
    async def update(self, request: task.UpdateTaskRequest, /) -> Empty:
        """Update the container's resources (``SupportsUpdate``)."""
        if not isinstance(self.ops, SupportsUpdate):
            raise errdefs.NotImplemented("update is not supported by this runtime")
        init = self._record(request.id).process
        await self.ops.update(init, request.resources, dict(request.annotations))
        return Empty()

    @_ids_checked
    async def stats(self, request: task.StatsRequest, /) -> task.StatsResponse:
        """The container's metrics (``SupportsStats``)."""
        if not isinstance(self.ops, SupportsStats):
            raise errdefs.NotImplemented("stats is not supported by this runtime")
        init = self._record(request.id).process
        return task.StatsResponse(stats=await self.ops.stats(init))
