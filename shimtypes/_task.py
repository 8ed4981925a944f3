"""The shim v2 task service (``containerd.task.v2.Task``) as a Python protocol.

Each of the 17 RPCs is an ``async`` method taking the request message and
returning the response message; the method names are the RPC names in
snake_case. Unsupported methods raise ``impl.ttrpc.TTRPCError`` with
``Code.UNIMPLEMENTED``, which containerd maps to ErrNotImplemented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

if TYPE_CHECKING:
    from google.protobuf.empty_pb2 import Empty

    from .pb.task_pb2 import (
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

__all__ = ["EVENTS_SERVICE_NAME", "TASK_SERVICE_NAME", "TaskService"]

TASK_SERVICE_NAME: Final = "containerd.task.v2.Task"
"""The ttrpc service name containerd 1.6 calls on a shim."""

EVENTS_SERVICE_NAME: Final = "containerd.services.events.ttrpc.v1.Events"
"""The ttrpc service on ``TTRPC_ADDRESS`` that a shim forwards events to."""


@runtime_checkable
class TaskService(Protocol):
    """All of ``containerd.task.v2.Task``; the shim serves it over ttrpc."""

    async def state(self, request: StateRequest, /) -> StateResponse: ...
    async def create(self, request: CreateTaskRequest, /) -> CreateTaskResponse: ...
    async def start(self, request: StartRequest, /) -> StartResponse: ...
    async def delete(self, request: DeleteRequest, /) -> DeleteResponse: ...
    async def pids(self, request: PidsRequest, /) -> PidsResponse: ...
    async def pause(self, request: PauseRequest, /) -> Empty: ...
    async def resume(self, request: ResumeRequest, /) -> Empty: ...
    async def checkpoint(self, request: CheckpointTaskRequest, /) -> Empty: ...
    async def kill(self, request: KillRequest, /) -> Empty: ...
    async def exec(self, request: ExecProcessRequest, /) -> Empty: ...
    async def resize_pty(self, request: ResizePtyRequest, /) -> Empty: ...
    async def close_io(self, request: CloseIORequest, /) -> Empty: ...
    async def update(self, request: UpdateTaskRequest, /) -> Empty: ...
    async def wait(self, request: WaitRequest, /) -> WaitResponse: ...
    async def stats(self, request: StatsRequest, /) -> StatsResponse: ...
    async def connect(self, request: ConnectRequest, /) -> ConnectResponse: ...
    async def shutdown(self, request: ShutdownRequest, /) -> Empty: ...
