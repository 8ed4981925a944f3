"""The task service of ``containerd-shim-pyrunc-v1``: one container, via runc.

Process states follow containerd's runc shim: an init process (exec id "")
and exec'd processes, each CREATED -> RUNNING -> STOPPED. Exits come from
the reaper's subscription: the container's init and exec'd processes are
re-parented to this subreaper once runc exits. An exit that arrives while
``runc create``/``runc exec`` is still running (pid not known yet) is kept
until the pid is; an exit that arrives during ``Start`` is held back until
TaskStart is published, so TaskStart always precedes TaskExit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from google.protobuf.empty_pb2 import Empty
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from impl.ttrpc import Code, TTRPCError
from shimtypes.pb import task_events_pb2 as events
from shimtypes.pb import task_pb2 as task
from shimtypes.pb import task_types_pb2 as types

from ._reaper import Exit, Reaper
from ._runc import RUNC_ROOT, Runc, RuncError
from ._runc_io import Stdio, open_stdio
from ._runc_mount import MountSpec, mount_all, unmount_all

if TYPE_CHECKING:
    from shimtypes import Publisher, ShimContext

__all__ = ["RuncTaskService"]

log = logging.getLogger("impl.shim.pyrunc")

CREATED = types.Status.CREATED
RUNNING = types.Status.RUNNING
STOPPED = types.Status.STOPPED


def _timestamp(t: float | None) -> Timestamp | None:
    if t is None:
        return None
    ts = Timestamp()
    ts.FromNanoseconds(int(t * 1e9))
    return ts


class _Process:
    """The init process (exec id "") or one exec'd process."""

    def __init__(self, exec_id: str, stdin: str, stdout: str, stderr: str, terminal: bool) -> None:
        self.exec_id = exec_id
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.terminal = terminal
        self.pid = 0
        self.status: types.Status.ValueType = CREATED
        self.exit_status = 0
        self.exited_at: float | None = None
        self.exited = asyncio.Event()
        self.starting = False
        self.held_exit: Exit | None = None
        self.stdio: Stdio | None = None
        self.spec_file = ""


class RuncTaskService:
    """All of ``containerd.task.v2.Task`` for one runc container."""

    def __init__(self, context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> None:
        self._context = context
        self._publisher = publisher
        self._shutdown = shutdown
        self._id = context.id
        self._bundle = context.bundle
        self._processes: dict[str, _Process] = {}
        self._mounted_rootfs = ""
        self._reaper: Reaper | None = None
        self._runc_cli: Runc | None = None
        self._exits: asyncio.Task[None] | None = None
        self._inflight = 0
        self._unmatched: dict[int, Exit] = {}

    # -- plumbing ---------------------------------------------------------

    def _runc(self) -> Runc:
        """Start reaping (synchronously, before any runc command) and return the CLI."""
        if self._runc_cli is None:
            self._reaper = Reaper.install(asyncio.get_running_loop())
            queue = self._reaper.subscribe()
            self._exits = asyncio.get_running_loop().create_task(self._consume_exits(queue))
            self._runc_cli = Runc(
                self._reaper,
                root=os.path.join(RUNC_ROOT, self._context.namespace),
                log_path=os.path.join(self._bundle, "log.json"),
            )
        return self._runc_cli

    async def _consume_exits(self, queue: asyncio.Queue[Exit]) -> None:
        while True:
            ev = await queue.get()
            try:
                await self._on_exit(ev)
            except Exception:
                log.exception("handling the exit of pid %d failed", ev.pid)

    def _find_pid(self, pid: int) -> _Process | None:
        for proc in self._processes.values():
            if proc.pid == pid and proc.status != STOPPED:
                return proc
        return None

    async def _on_exit(self, ev: Exit) -> None:
        proc = self._find_pid(ev.pid)
        if proc is None:
            if self._inflight:
                self._unmatched[ev.pid] = ev
            return
        if proc.starting:
            proc.held_exit = ev
            return
        await self._finish(proc, ev)

    async def _claim_early_exit(self, proc: _Process) -> None:
        """After learning ``proc.pid``: handle an exit that raced ahead of it."""
        ev = self._unmatched.pop(proc.pid, None)
        if not self._inflight:
            self._unmatched.clear()
        if ev is not None:
            await self._finish(proc, ev)

    async def _finish(self, proc: _Process, ev: Exit) -> None:
        if proc.status == STOPPED:
            return
        proc.status = STOPPED
        proc.exit_status = ev.status
        proc.exited_at = ev.timestamp
        await self._publish(
            "/tasks/exit",
            events.TaskExit(
                container_id=self._id,
                id=proc.exec_id or self._id,
                pid=proc.pid,
                exit_status=ev.status,
                exited_at=_timestamp(ev.timestamp),
            ),
        )
        proc.exited.set()
        if proc.stdio is not None and proc.stdio.pump is not None:
            proc.stdio.pump.close()

    async def _publish(self, topic: str, event: Message) -> None:
        try:
            await self._publisher.publish(topic, event)
        except Exception:
            log.exception("publishing %s for %s failed", topic, self._id)

    def _process(self, id: str, exec_id: str = "") -> _Process:
        if id != self._id:
            raise TTRPCError(Code.NOT_FOUND, f"task {id!r} not found (this shim serves {self._id!r})")
        proc = self._processes.get(exec_id)
        if proc is None:
            what = f"exec {exec_id!r} of task {id!r}" if exec_id else f"task {id!r}"
            raise TTRPCError(Code.NOT_FOUND, f"{what} not found")
        return proc

    def _init(self) -> _Process | None:
        return self._processes.get("")

    # -- lifecycle ----------------------------------------------------------

    async def create(self, request: task.CreateTaskRequest) -> task.CreateTaskResponse:
        if request.id != self._id:
            raise TTRPCError(Code.INVALID_ARGUMENT, f"create: id {request.id!r} is not this shim's {self._id!r}")
        if "" in self._processes:
            raise TTRPCError(Code.ALREADY_EXISTS, f"task {request.id!r} already exists")
        if request.terminal:
            raise TTRPCError(Code.UNIMPLEMENTED, "create: terminal is not supported by pyrunc")
        if request.checkpoint:
            raise TTRPCError(Code.UNIMPLEMENTED, "create: restoring a checkpoint is not supported by pyrunc")
        bundle = request.bundle or self._bundle
        self._bundle = bundle
        runc = self._runc()
        proc = _Process("", request.stdin, request.stdout, request.stderr, False)
        self._processes[""] = proc  # reserve the id while runc works
        rootfs = os.path.join(bundle, "rootfs")
        try:
            if request.rootfs:
                specs = [MountSpec(m.type, m.source, list(m.options)) for m in request.rootfs]
                try:
                    mount_all(specs, rootfs)
                except OSError as err:
                    raise TTRPCError(Code.INTERNAL, f"create {request.id!r}: {err}") from None
                self._mounted_rootfs = rootfs
            try:
                stdio = open_stdio(asyncio.get_running_loop(), request.stdin, request.stdout, request.stderr)
            except OSError as err:
                raise TTRPCError(Code.INTERNAL, f"create {request.id!r}: opening stdio: {err}") from None
            self._inflight += 1
            try:
                proc.pid = await runc.create(
                    request.id, bundle=bundle, pid_file=os.path.join(bundle, "init.pid"), stdio=stdio.fds
                )
            except BaseException as err:
                stdio.close()
                if isinstance(err, (RuncError, OSError)):
                    raise TTRPCError(Code.UNKNOWN, f"create {request.id!r}: {err}") from None
                raise
            finally:
                self._inflight -= 1
            stdio.close_child_ends()
            proc.stdio = stdio
        except BaseException:
            del self._processes[""]
            if self._mounted_rootfs:
                self._unmount()
            raise
        await self._publish(
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
        await self._claim_early_exit(proc)
        return task.CreateTaskResponse(pid=proc.pid)

    async def start(self, request: task.StartRequest) -> task.StartResponse:
        proc = self._process(request.id, request.exec_id)
        if proc.status != CREATED or proc.starting:
            raise TTRPCError(Code.FAILED_PRECONDITION, f"start {request.id!r}: process is not in the created state")
        if proc.exec_id:
            return await self._start_exec(request.id, proc)
        proc.starting = True
        try:
            try:
                await self._runc().start(request.id)
            except RuncError as err:
                raise TTRPCError(Code.UNKNOWN, f"start {request.id!r}: {err}") from None
            proc.status = RUNNING
            await self._publish("/tasks/start", events.TaskStart(container_id=self._id, pid=proc.pid))
        finally:
            proc.starting = False
            held, proc.held_exit = proc.held_exit, None
            if held is not None:
                await self._finish(proc, held)
        return task.StartResponse(pid=proc.pid)

    async def _start_exec(self, id: str, proc: _Process) -> task.StartResponse:
        init = self._init()
        if init is None or init.status != RUNNING:
            raise TTRPCError(Code.FAILED_PRECONDITION, f"exec {proc.exec_id!r}: task {id!r} is not running")
        runc = self._runc()
        try:
            stdio = open_stdio(asyncio.get_running_loop(), proc.stdin, proc.stdout, proc.stderr)
        except OSError as err:
            raise TTRPCError(Code.INTERNAL, f"exec {proc.exec_id!r}: opening stdio: {err}") from None
        proc.starting = True
        self._inflight += 1
        try:
            proc.pid = await runc.exec(
                id,
                process_file=proc.spec_file,
                pid_file=os.path.join(self._bundle, f"exec-{proc.exec_id}.pid"),
                stdio=stdio.fds,
            )
        except BaseException as err:
            stdio.close()
            proc.starting = False
            if isinstance(err, (RuncError, OSError)):
                raise TTRPCError(Code.UNKNOWN, f"exec {proc.exec_id!r} in {id!r}: {err}") from None
            raise
        finally:
            self._inflight -= 1
        stdio.close_child_ends()
        proc.stdio = stdio
        proc.status = RUNNING
        await self._publish(
            "/tasks/exec-started",
            events.TaskExecStarted(container_id=self._id, exec_id=proc.exec_id, pid=proc.pid),
        )
        proc.starting = False
        held, proc.held_exit = proc.held_exit, None
        if held is not None:
            await self._finish(proc, held)
        await self._claim_early_exit(proc)
        return task.StartResponse(pid=proc.pid)

    async def exec(self, request: task.ExecProcessRequest) -> Empty:
        init = self._process(request.id)
        if not request.exec_id:
            raise TTRPCError(Code.INVALID_ARGUMENT, f"exec in {request.id!r}: exec_id is empty")
        if request.exec_id in self._processes:
            raise TTRPCError(Code.ALREADY_EXISTS, f"exec {request.exec_id!r} already exists in {request.id!r}")
        if init.status == STOPPED:
            raise TTRPCError(Code.FAILED_PRECONDITION, f"exec in {request.id!r}: task is stopped")
        if request.terminal:
            raise TTRPCError(Code.UNIMPLEMENTED, "exec: terminal is not supported by pyrunc")
        import json  # only exec needs it; keeps the common serving shim smaller

        try:
            spec = json.loads(request.spec.value)
        except ValueError as err:
            raise TTRPCError(
                Code.INVALID_ARGUMENT, f"exec {request.exec_id!r}: spec ({request.spec.type_url}) is not JSON: {err}"
            ) from None
        if not isinstance(spec, dict):
            raise TTRPCError(Code.INVALID_ARGUMENT, f"exec {request.exec_id!r}: spec is not a JSON object")
        if "/" in request.exec_id or request.exec_id in (".", ".."):
            raise TTRPCError(Code.INVALID_ARGUMENT, f"exec id {request.exec_id!r} is not a valid identifier")
        proc = _Process(request.exec_id, request.stdin, request.stdout, request.stderr, False)
        proc.spec_file = os.path.join(self._bundle, f"exec-{request.exec_id}.json")
        with open(proc.spec_file, "wb") as f:
            f.write(request.spec.value)
        self._processes[request.exec_id] = proc
        await self._publish(
            "/tasks/exec-added", events.TaskExecAdded(container_id=self._id, exec_id=request.exec_id)
        )
        return Empty()

    async def delete(self, request: task.DeleteRequest) -> task.DeleteResponse:
        proc = self._process(request.id, request.exec_id)
        if proc.status == RUNNING or proc.starting:
            raise TTRPCError(Code.FAILED_PRECONDITION, f"delete {request.id!r}: process is running")
        if proc.exec_id:
            del self._processes[proc.exec_id]
            self._remove_files(proc)
            return task.DeleteResponse(
                pid=proc.pid, exit_status=proc.exit_status, exited_at=_timestamp(proc.exited_at)
            )
        runc = self._runc()
        if proc.status == CREATED:
            await self._runc_delete(runc, request.id, force=True)
            try:
                await asyncio.wait_for(proc.exited.wait(), 2)
            except TimeoutError:
                await self._finish(proc, Exit(proc.pid, 128 + signal.SIGKILL, time.time()))
        else:
            await self._runc_delete(runc, request.id, force=False)
        for other in list(self._processes.values()):
            self._remove_files(other)
        self._processes.clear()
        if proc.stdio is not None:
            proc.stdio.close()
        self._unmount()
        exited_at = _timestamp(proc.exited_at)
        await self._publish(
            "/tasks/delete",
            events.TaskDelete(
                container_id=self._id, pid=proc.pid, exit_status=proc.exit_status, exited_at=exited_at, id=self._id
            ),
        )
        return task.DeleteResponse(pid=proc.pid, exit_status=proc.exit_status, exited_at=exited_at)

    async def _runc_delete(self, runc: Runc, id: str, *, force: bool) -> None:
        try:
            await runc.delete(id, force=force)
            return
        except RuncError as err:
            first = err
        if not os.path.exists(os.path.join(runc.root, id)):
            return  # runc no longer knows it: already deleted
        try:
            await runc.delete(id, force=True)
        except RuncError:
            raise TTRPCError(Code.UNKNOWN, f"delete {id!r}: {first}") from None

    def _remove_files(self, proc: _Process) -> None:
        if proc.exec_id:
            for path in (proc.spec_file, os.path.join(self._bundle, f"exec-{proc.exec_id}.pid")):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    def _unmount(self) -> None:
        if self._mounted_rootfs:
            try:
                unmount_all(self._mounted_rootfs)
            except OSError:
                log.exception("unmounting %s failed", self._mounted_rootfs)
            else:
                self._mounted_rootfs = ""

    # -- queries and signals --------------------------------------------------

    async def state(self, request: task.StateRequest) -> task.StateResponse:
        proc = self._process(request.id, request.exec_id)
        return task.StateResponse(
            id=proc.exec_id or self._id,
            bundle=self._bundle,
            pid=proc.pid,
            status=proc.status,
            stdin=proc.stdin,
            stdout=proc.stdout,
            stderr=proc.stderr,
            terminal=proc.terminal,
            exit_status=proc.exit_status,
            exited_at=_timestamp(proc.exited_at),
            exec_id=proc.exec_id,
        )

    async def wait(self, request: task.WaitRequest) -> task.WaitResponse:
        proc = self._process(request.id, request.exec_id)
        await proc.exited.wait()
        return task.WaitResponse(exit_status=proc.exit_status, exited_at=_timestamp(proc.exited_at))

    async def kill(self, request: task.KillRequest) -> Empty:
        proc = self._process(request.id, request.exec_id)
        if proc.status == STOPPED:
            raise TTRPCError(Code.NOT_FOUND, f"kill {request.id!r}: process already finished")
        if proc.exec_id:
            if not proc.pid:
                raise TTRPCError(Code.FAILED_PRECONDITION, f"kill exec {proc.exec_id!r}: process not started")
            try:
                os.kill(proc.pid, request.signal)
            except ProcessLookupError:
                raise TTRPCError(Code.NOT_FOUND, f"kill exec {proc.exec_id!r}: process already finished") from None
            return Empty()
        try:
            await self._runc().kill(request.id, request.signal, all=request.all)
        except RuncError as err:
            if proc.status == STOPPED:
                raise TTRPCError(Code.NOT_FOUND, f"kill {request.id!r}: process already finished") from None
            raise TTRPCError(Code.UNKNOWN, f"kill {request.id!r}: {err}") from None
        return Empty()

    async def pids(self, request: task.PidsRequest) -> task.PidsResponse:
        self._process(request.id)
        try:
            pids = await self._runc().ps(request.id)
        except (RuncError, ValueError) as err:
            raise TTRPCError(Code.UNKNOWN, f"pids {request.id!r}: {err}") from None
        return task.PidsResponse(processes=[types.ProcessInfo(pid=p) for p in pids])

    async def connect(self, request: task.ConnectRequest) -> task.ConnectResponse:
        init = self._init()
        return task.ConnectResponse(shim_pid=os.getpid(), task_pid=init.pid if init else 0)

    async def shutdown(self, request: task.ShutdownRequest) -> Empty:
        if self._processes:
            return Empty()  # containerd asks again once the task is deleted
        if self._exits is not None:
            self._exits.cancel()
        self._shutdown()
        return Empty()

    async def close_io(self, request: task.CloseIORequest) -> Empty:
        proc = self._process(request.id, request.exec_id)
        if request.stdin and proc.stdio is not None and proc.stdio.pump is not None:
            proc.stdio.pump.close()
        return Empty()

    async def resize_pty(self, request: task.ResizePtyRequest) -> Empty:
        proc = self._process(request.id, request.exec_id)
        if proc.terminal:  # pragma: no cover - terminals are refused at create/exec
            raise TTRPCError(Code.UNIMPLEMENTED, "resize_pty: terminals are not supported by pyrunc")
        return Empty()  # no console: nothing to resize, as runc's shim does

    # -- not supported ------------------------------------------------------

    async def pause(self, request: task.PauseRequest) -> Empty:
        raise TTRPCError(Code.UNIMPLEMENTED, "pause is not implemented by pyrunc")

    async def resume(self, request: task.ResumeRequest) -> Empty:
        raise TTRPCError(Code.UNIMPLEMENTED, "resume is not implemented by pyrunc")

    async def checkpoint(self, request: task.CheckpointTaskRequest) -> Empty:
        raise TTRPCError(Code.UNIMPLEMENTED, "checkpoint is not implemented by pyrunc")

    async def update(self, request: task.UpdateTaskRequest) -> Empty:
        raise TTRPCError(Code.UNIMPLEMENTED, "update is not implemented by pyrunc")

    async def stats(self, request: task.StatsRequest) -> task.StatsResponse:
        raise TTRPCError(Code.UNIMPLEMENTED, "stats is not implemented by pyrunc")
