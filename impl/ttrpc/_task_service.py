"""containerd.task.v2.Task as a typed ttrpc service: spec, binder, client stub."""

from __future__ import annotations

from typing import Final

from google.protobuf.empty_pb2 import Empty

from shimtypes import TASK_SERVICE_NAME, TaskService, TTRPCMethod, TTRPCServer
from shimtypes.pb.task_pb2 import (
    CheckpointTaskRequest,
    CloseIORequest,
    ConnectRequest,
    ConnectResponse,
    CreateTaskRequest,
    CreateTaskResponse,
    DeleteRequest,
    DeleteResponse,
    ExecProcessRequest,
    KillRequest,
    PauseRequest,
    PidsRequest,
    PidsResponse,
    ResizePtyRequest,
    ResumeRequest,
    ShutdownRequest,
    StartRequest,
    StartResponse,
    StateRequest,
    StateResponse,
    StatsRequest,
    StatsResponse,
    UpdateTaskRequest,
    WaitRequest,
    WaitResponse,
)

from ._client import Client, Metadata
from ._spec import MethodSpec, ServiceSpec, call_unary, unary_handler

__all__ = ["TASK_SERVICE", "TaskClient", "TaskMethods", "bind_task_service", "register_task_service"]


class TaskMethods:
    """The 17 methods of the task service, one typed spec each."""

    STATE: Final = MethodSpec("State", StateRequest, StateResponse)
    CREATE: Final = MethodSpec("Create", CreateTaskRequest, CreateTaskResponse)
    START: Final = MethodSpec("Start", StartRequest, StartResponse)
    DELETE: Final = MethodSpec("Delete", DeleteRequest, DeleteResponse)
    PIDS: Final = MethodSpec("Pids", PidsRequest, PidsResponse)
    PAUSE: Final = MethodSpec("Pause", PauseRequest, Empty)
    RESUME: Final = MethodSpec("Resume", ResumeRequest, Empty)
    CHECKPOINT: Final = MethodSpec("Checkpoint", CheckpointTaskRequest, Empty)
    KILL: Final = MethodSpec("Kill", KillRequest, Empty)
    EXEC: Final = MethodSpec("Exec", ExecProcessRequest, Empty)
    RESIZE_PTY: Final = MethodSpec("ResizePty", ResizePtyRequest, Empty)
    CLOSE_IO: Final = MethodSpec("CloseIO", CloseIORequest, Empty)
    UPDATE: Final = MethodSpec("Update", UpdateTaskRequest, Empty)
    WAIT: Final = MethodSpec("Wait", WaitRequest, WaitResponse)
    STATS: Final = MethodSpec("Stats", StatsRequest, StatsResponse)
    CONNECT: Final = MethodSpec("Connect", ConnectRequest, ConnectResponse)
    SHUTDOWN: Final = MethodSpec("Shutdown", ShutdownRequest, Empty)


TASK_SERVICE: Final = ServiceSpec(
    TASK_SERVICE_NAME,
    {
        "State": TaskMethods.STATE,
        "Create": TaskMethods.CREATE,
        "Start": TaskMethods.START,
        "Delete": TaskMethods.DELETE,
        "Pids": TaskMethods.PIDS,
        "Pause": TaskMethods.PAUSE,
        "Resume": TaskMethods.RESUME,
        "Checkpoint": TaskMethods.CHECKPOINT,
        "Kill": TaskMethods.KILL,
        "Exec": TaskMethods.EXEC,
        "ResizePty": TaskMethods.RESIZE_PTY,
        "CloseIO": TaskMethods.CLOSE_IO,
        "Update": TaskMethods.UPDATE,
        "Wait": TaskMethods.WAIT,
        "Stats": TaskMethods.STATS,
        "Connect": TaskMethods.CONNECT,
        "Shutdown": TaskMethods.SHUTDOWN,
    },
)


def bind_task_service(svc: TaskService) -> dict[str, TTRPCMethod]:
    """Raw ttrpc methods, by wire name, that decode, call ``svc`` and encode."""
    return {
        "State": unary_handler(TaskMethods.STATE, svc.state),
        "Create": unary_handler(TaskMethods.CREATE, svc.create),
        "Start": unary_handler(TaskMethods.START, svc.start),
        "Delete": unary_handler(TaskMethods.DELETE, svc.delete),
        "Pids": unary_handler(TaskMethods.PIDS, svc.pids),
        "Pause": unary_handler(TaskMethods.PAUSE, svc.pause),
        "Resume": unary_handler(TaskMethods.RESUME, svc.resume),
        "Checkpoint": unary_handler(TaskMethods.CHECKPOINT, svc.checkpoint),
        "Kill": unary_handler(TaskMethods.KILL, svc.kill),
        "Exec": unary_handler(TaskMethods.EXEC, svc.exec),
        "ResizePty": unary_handler(TaskMethods.RESIZE_PTY, svc.resize_pty),
        "CloseIO": unary_handler(TaskMethods.CLOSE_IO, svc.close_io),
        "Update": unary_handler(TaskMethods.UPDATE, svc.update),
        "Wait": unary_handler(TaskMethods.WAIT, svc.wait),
        "Stats": unary_handler(TaskMethods.STATS, svc.stats),
        "Connect": unary_handler(TaskMethods.CONNECT, svc.connect),
        "Shutdown": unary_handler(TaskMethods.SHUTDOWN, svc.shutdown),
    }


def register_task_service(server: TTRPCServer, svc: TaskService) -> None:
    """Register ``svc`` as ``containerd.task.v2.Task`` on ``server``."""
    server.register_service(TASK_SERVICE_NAME, bind_task_service(svc))


class TaskClient:
    """Typed stub for the task service; structurally a ``TaskService`` too."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    async def state(
        self, request: StateRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> StateResponse:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.STATE, request,
            timeout=timeout, metadata=metadata,
        )

    async def create(
        self, request: CreateTaskRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> CreateTaskResponse:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.CREATE, request,
            timeout=timeout, metadata=metadata,
        )

    async def start(
        self, request: StartRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> StartResponse:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.START, request,
            timeout=timeout, metadata=metadata,
        )

    async def delete(
        self, request: DeleteRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> DeleteResponse:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.DELETE, request,
            timeout=timeout, metadata=metadata,
        )

    async def pids(
        self, request: PidsRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> PidsResponse:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.PIDS, request,
            timeout=timeout, metadata=metadata,
        )

    async def pause(
        self, request: PauseRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Empty:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.PAUSE, request,
            timeout=timeout, metadata=metadata,
        )

    async def resume(
        self, request: ResumeRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Empty:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.RESUME, request,
            timeout=timeout, metadata=metadata,
        )

    async def checkpoint(
        self, request: CheckpointTaskRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Empty:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.CHECKPOINT, request,
            timeout=timeout, metadata=metadata,
        )

    async def kill(
        self, request: KillRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Empty:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.KILL, request,
            timeout=timeout, metadata=metadata,
        )

    async def exec(
        self, request: ExecProcessRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Empty:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.EXEC, request,
            timeout=timeout, metadata=metadata,
        )

    async def resize_pty(
        self, request: ResizePtyRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Empty:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.RESIZE_PTY, request,
            timeout=timeout, metadata=metadata,
        )

    async def close_io(
        self, request: CloseIORequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Empty:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.CLOSE_IO, request,
            timeout=timeout, metadata=metadata,
        )

    async def update(
        self, request: UpdateTaskRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Empty:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.UPDATE, request,
            timeout=timeout, metadata=metadata,
        )

    async def wait(
        self, request: WaitRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> WaitResponse:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.WAIT, request,
            timeout=timeout, metadata=metadata,
        )

    async def stats(
        self, request: StatsRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> StatsResponse:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.STATS, request,
            timeout=timeout, metadata=metadata,
        )

    async def connect(
        self, request: ConnectRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> ConnectResponse:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.CONNECT, request,
            timeout=timeout, metadata=metadata,
        )

    async def shutdown(
        self, request: ShutdownRequest, /, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> Empty:
        return await call_unary(
            self._client, TASK_SERVICE_NAME, TaskMethods.SHUTDOWN, request,
            timeout=timeout, metadata=metadata,
        )
