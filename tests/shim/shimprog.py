"""A real shim program for the runner tests: ``python shimprog.py <containerd flags>``.

``SHIMTEST_MODE`` picks what ``init`` returns:

- ``task`` (default): ``MemShim``, an in-memory ``TaskService`` that publishes
  task events and exits on ``Shutdown``;
- ``plugin``: ``PlainShim``, *not* a task service, plus a third-party ttrpc
  plugin (``shimtest.Echo``) registered with ``impl.plugin.register`` before
  ``run``; it requires the event plugin type and publishes through it;
- ``none``: ``PlainShim`` alone, so nothing is served (the runner must fail);
- ``startfail``: ``start_shim`` raises.

``SHIMTEST_SERVING`` (``exec``/``fork``/``zygote``) runs it with
``ShimOptions(serving=...)``; ``SHIMTEST_CLEANUP=1`` adds a ``cleanup``
option answering ``CLEANUP_RESULT``; ``SHIMTEST_INIT_ONLY_TO_SERVE=1``
makes ``init`` fail in ``start`` and ``delete``.

Like a real shim, the module is cheap to import: messages and ttrpc are
imported inside the methods that need them, so ``start``/``delete`` stay lean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from impl.shim import run, start_serving_shim
from shimtypes import Publisher, ShimContext, StartOpts

if TYPE_CHECKING:
    import asyncio
    from typing import Literal

    from google.protobuf.empty_pb2 import Empty

    from impl.plugin import InitContext
    from shimtypes import TTRPCMethodContext, TTRPCServer
    from shimtypes.pb import task_pb2

RUNTIME_ID = "io.containerd.shimtest.v1"
ECHO_SERVICE = "shimtest.Echo"
PID_FILE = "shimtest.pid"
"""Written into the bundle by the serving process; read back by ``delete``."""


def _unimplemented(name: str) -> NoReturn:
    from impl.ttrpc import Code, TTRPCError

    raise TTRPCError(Code.UNIMPLEMENTED, f"{name} not implemented")


class PlainShim:
    """Only the two short-lived actions: not a task service."""

    def __init__(self, context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> None:
        self.context = context
        self.publisher = publisher
        self.shutdown_cb = shutdown

    def start_shim(self, opts: StartOpts, /) -> str:
        if os.environ.get("SHIMTEST_MODE") == "startfail":
            raise RuntimeError("start refused on purpose")
        return start_serving_shim(opts)

    def cleanup(self) -> task_pb2.DeleteResponse:
        from shimtypes.pb.task_pb2 import DeleteResponse

        path = os.path.join(self.context.bundle, PID_FILE)
        try:
            with open(path) as f:
                pid = int(f.read())
        except FileNotFoundError:
            pid = 0
        response = DeleteResponse(pid=pid, exit_status=128 + 9)
        response.exited_at.GetCurrentTime()
        return response


class MemShim(PlainShim):
    """An in-memory task service: a pretend process that runs until killed.

    It keeps the task's status as runc would (created, running, stopped),
    answers Wait when it is killed, and publishes create/start/exit/delete.
    """

    def __init__(self, context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> None:
        super().__init__(context, publisher, shutdown)
        self.task_id = ""
        self.status = 0  # UNKNOWN: no task
        self.exit_status = 0
        self.exited_ns = 0
        self.io: tuple[str, str, str] = ("", "", "")
        self.deleted = False
        self._stopped: asyncio.Event | None = None

    def _stopped_event(self) -> asyncio.Event:
        if self._stopped is None:
            import asyncio

            self._stopped = asyncio.Event()
        return self._stopped

    async def state(self, request: task_pb2.StateRequest, /) -> task_pb2.StateResponse:
        from shimtypes.pb.task_pb2 import StateResponse

        self._check(request.id)
        resp = StateResponse(
            id=request.id,
            bundle=self.context.bundle,
            pid=os.getpid(),
            status=self.status,  # type: ignore[arg-type]
            stdin=self.io[0],
            stdout=self.io[1],
            stderr=self.io[2],
            exit_status=self.exit_status,
        )
        if self.exited_ns:
            resp.exited_at.FromNanoseconds(self.exited_ns)
        return resp

    def _check(self, id: str) -> None:
        if not self.task_id or id != self.task_id or self.deleted:
            from impl.ttrpc import Code, TTRPCError

            raise TTRPCError(Code.NOT_FOUND, f"task {id}: not found")

    async def create(self, request: task_pb2.CreateTaskRequest, /) -> task_pb2.CreateTaskResponse:
        from shimtypes.pb.task_events_pb2 import TaskCreate, TaskIO
        from shimtypes.pb.task_pb2 import CreateTaskResponse

        self.task_id = request.id
        self.status = 1  # CREATED
        self.io = (request.stdin, request.stdout, request.stderr)
        io = TaskIO(stdin=request.stdin, stdout=request.stdout, stderr=request.stderr)
        await self.publisher.publish(
            "/tasks/create", TaskCreate(container_id=request.id, bundle=request.bundle, io=io, pid=os.getpid())
        )
        return CreateTaskResponse(pid=os.getpid())

    async def start(self, request: task_pb2.StartRequest, /) -> task_pb2.StartResponse:
        from shimtypes.pb.task_events_pb2 import TaskStart
        from shimtypes.pb.task_pb2 import StartResponse

        self._check(request.id)
        self.status = 2  # RUNNING
        await self.publisher.publish("/tasks/start", TaskStart(container_id=request.id, pid=os.getpid()))
        return StartResponse(pid=os.getpid())

    async def kill(self, request: task_pb2.KillRequest, /) -> Empty:
        import time

        from google.protobuf.empty_pb2 import Empty

        from shimtypes.pb.task_events_pb2 import TaskExit

        self._check(request.id)
        if self.status != 3:
            self.status = 3  # STOPPED
            self.exit_status = 128 + request.signal
            self.exited_ns = time.time_ns()
            event = TaskExit(container_id=self.task_id, id=self.task_id, pid=os.getpid(), exit_status=self.exit_status)
            event.exited_at.FromNanoseconds(self.exited_ns)
            await self.publisher.publish("/tasks/exit", event)
            self._stopped_event().set()
        return Empty()

    async def wait(self, request: task_pb2.WaitRequest, /) -> task_pb2.WaitResponse:
        from shimtypes.pb.task_pb2 import WaitResponse

        self._check(request.id)
        await self._stopped_event().wait()
        resp = WaitResponse(exit_status=self.exit_status)
        resp.exited_at.FromNanoseconds(self.exited_ns)
        return resp

    async def delete(self, request: task_pb2.DeleteRequest, /) -> task_pb2.DeleteResponse:
        from shimtypes.pb.task_events_pb2 import TaskDelete
        from shimtypes.pb.task_pb2 import DeleteResponse

        self._check(request.id)
        self.deleted = True
        event = TaskDelete(container_id=request.id, id=request.id, pid=os.getpid(), exit_status=self.exit_status)
        if self.exited_ns:
            event.exited_at.FromNanoseconds(self.exited_ns)
        else:
            event.exited_at.GetCurrentTime()
        await self.publisher.publish("/tasks/delete", event)
        return DeleteResponse(pid=os.getpid(), exit_status=self.exit_status, exited_at=event.exited_at)

    async def pids(self, request: task_pb2.PidsRequest, /) -> task_pb2.PidsResponse:
        _unimplemented("Pids")

    async def pause(self, request: task_pb2.PauseRequest, /) -> Empty:
        _unimplemented("Pause")

    async def resume(self, request: task_pb2.ResumeRequest, /) -> Empty:
        _unimplemented("Resume")

    async def checkpoint(self, request: task_pb2.CheckpointTaskRequest, /) -> Empty:
        _unimplemented("Checkpoint")

    async def exec(self, request: task_pb2.ExecProcessRequest, /) -> Empty:
        _unimplemented("Exec")

    async def resize_pty(self, request: task_pb2.ResizePtyRequest, /) -> Empty:
        _unimplemented("ResizePty")

    async def close_io(self, request: task_pb2.CloseIORequest, /) -> Empty:
        _unimplemented("CloseIO")

    async def update(self, request: task_pb2.UpdateTaskRequest, /) -> Empty:
        _unimplemented("Update")

    async def stats(self, request: task_pb2.StatsRequest, /) -> task_pb2.StatsResponse:
        _unimplemented("Stats")

    async def connect(self, request: task_pb2.ConnectRequest, /) -> task_pb2.ConnectResponse:
        from shimtypes.pb.task_pb2 import ConnectResponse

        with open(os.path.join(self.context.bundle, PID_FILE), "w") as f:
            f.write(str(os.getpid()))
        return ConnectResponse(shim_pid=os.getpid(), version=RUNTIME_ID)

    async def shutdown(self, request: task_pb2.ShutdownRequest, /) -> Empty:
        from google.protobuf.empty_pb2 import Empty

        if request.now or not self.task_id or self.deleted:
            self.shutdown_cb()  # as runc's shim: only once no task is left
        return Empty()


class EchoPlugin:
    """A third-party ttrpc plugin: ``Echo`` returns the payload, ``Publish`` sends an event."""

    def __init__(self, publisher: Publisher, state: str, root: str) -> None:
        self.publisher = publisher
        self.state = state
        self.root = root

    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        server.register_service(
            ECHO_SERVICE, {"Echo": self.echo, "Publish": self.publish, "Where": self.where, "Orphan": self.orphan}
        )

    async def echo(self, ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return payload

    async def where(self, ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return f"{self.root}\n{self.state}\n{os.getpid()}".encode()

    async def orphan(self, ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        """Leave a grandchild behind (its parent exits), as runc leaves a container's init."""
        from impl.shim import Reaper

        status, out = await Reaper.install().run(["/bin/sh", "-c", "sleep 60 & echo $!"], capture=True)
        assert status == 0
        return f"{os.getpid()} {int(out)}".encode()

    async def publish(self, ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        from shimtypes.pb.task_events_pb2 import TaskOOM

        await self.publisher.publish("/tasks/oom", TaskOOM(container_id=payload.decode()))
        return b""


def _echo_init(ic: InitContext) -> EchoPlugin:
    from shimtypes import EVENT_PLUGIN, Publisher

    publisher = ic.get_by_id(EVENT_PLUGIN, "publisher", Publisher)
    return EchoPlugin(publisher, ic.state, ic.root)


def init(context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> PlainShim:
    if os.environ.get("SHIMTEST_INIT_ONLY_TO_SERVE") == "1" and sys.argv[-1:] in (["start"], ["delete"]):
        raise RuntimeError("init called by start/delete although ShimOptions do without it")
    if os.environ.get("SHIMTEST_MODE", "task") == "task":
        return MemShim(context, publisher, shutdown)
    return PlainShim(context, publisher, shutdown)


CLEANUP_RESULT = (4242, 3, 1_700_000_000_123_456_789)
"""(pid, exit status, exited_at ns) of the ``cleanup`` option."""


def _cleanup(bundle: str, namespace: str, id: str) -> tuple[int, int, int]:
    return CLEANUP_RESULT


def main() -> NoReturn:
    from impl.shim import ShimOptions

    if os.environ.get("SHIMTEST_MODE") == "plugin" and "start" not in sys.argv and "delete" not in sys.argv:
        from impl.plugin import Registration, register
        from shimtypes import EVENT_PLUGIN, TTRPC_PLUGIN

        register(Registration(TTRPC_PLUGIN, "echo", init=_echo_init, requires=(EVENT_PLUGIN,)))
    modes: dict[str, Literal["zygote", "fork", "exec"]] = {"zygote": "zygote", "fork": "fork", "exec": "exec"}
    serving = modes.get(os.environ.get("SHIMTEST_SERVING", ""))
    cleanup = _cleanup if os.environ.get("SHIMTEST_CLEANUP") == "1" else None
    run(RUNTIME_ID, init, options=ShimOptions(serving=serving, cleanup=cleanup))


if __name__ == "__main__":
    main()
