"""TaskService: all 17 methods of containerd.task.v2.Task, structurally.

Each RPC lives in its own one-method mixin so that every "missing" and
"wrongly typed" case below differs from the accepted FullTask in exactly one
method. Lines ending in ``# type: ignore[...]`` must be rejected.
"""

from google.protobuf.empty_pb2 import Empty
from google.protobuf.message import Message
from typing import assert_type

from shimtypes import TaskService
from shimtypes import (
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


def expects_task(service: TaskService) -> None: ...


# One mixin per RPC, each correct.


class HasState:
    async def state(self, request: StateRequest, /) -> StateResponse:
        return StateResponse()


class HasCreate:
    async def create(self, request: CreateTaskRequest, /) -> CreateTaskResponse:
        return CreateTaskResponse()


class HasStart:
    async def start(self, request: StartRequest, /) -> StartResponse:
        return StartResponse()


class HasDelete:
    async def delete(self, request: DeleteRequest, /) -> DeleteResponse:
        return DeleteResponse()


class HasPids:
    async def pids(self, request: PidsRequest, /) -> PidsResponse:
        return PidsResponse()


class HasPause:
    async def pause(self, request: PauseRequest, /) -> Empty:
        return Empty()


class HasResume:
    async def resume(self, request: ResumeRequest, /) -> Empty:
        return Empty()


class HasCheckpoint:
    async def checkpoint(self, request: CheckpointTaskRequest, /) -> Empty:
        return Empty()


class HasKill:
    async def kill(self, request: KillRequest, /) -> Empty:
        return Empty()


class HasExec:
    async def exec(self, request: ExecProcessRequest, /) -> Empty:
        return Empty()


class HasResizePty:
    async def resize_pty(self, request: ResizePtyRequest, /) -> Empty:
        return Empty()


class HasCloseIO:
    async def close_io(self, request: CloseIORequest, /) -> Empty:
        return Empty()


class HasUpdate:
    async def update(self, request: UpdateTaskRequest, /) -> Empty:
        return Empty()


class HasWait:
    async def wait(self, request: WaitRequest, /) -> WaitResponse:
        return WaitResponse()


class HasStats:
    async def stats(self, request: StatsRequest, /) -> StatsResponse:
        return StatsResponse()


class HasConnect:
    async def connect(self, request: ConnectRequest, /) -> ConnectResponse:
        return ConnectResponse()


class HasShutdown:
    async def shutdown(self, request: ShutdownRequest, /) -> Empty:
        return Empty()


class FullTask(
    HasState,
    HasCreate,
    HasStart,
    HasDelete,
    HasPids,
    HasPause,
    HasResume,
    HasCheckpoint,
    HasKill,
    HasExec,
    HasResizePty,
    HasCloseIO,
    HasUpdate,
    HasWait,
    HasStats,
    HasConnect,
    HasShutdown,
):
    """All 17 RPCs, assembled from the mixins."""


expects_task(FullTask())
assert isinstance(FullTask(), TaskService)


class PlainTask:
    """Written the way an integrator would: one class, keyword-capable names."""

    async def state(self, request: StateRequest) -> StateResponse:
        return StateResponse()

    async def create(self, request: CreateTaskRequest) -> CreateTaskResponse:
        return CreateTaskResponse()

    async def start(self, request: StartRequest) -> StartResponse:
        return StartResponse()

    async def delete(self, request: DeleteRequest) -> DeleteResponse:
        return DeleteResponse()

    async def pids(self, request: PidsRequest) -> PidsResponse:
        return PidsResponse()

    async def pause(self, request: PauseRequest) -> Empty:
        return Empty()

    async def resume(self, request: ResumeRequest) -> Empty:
        return Empty()

    async def checkpoint(self, request: CheckpointTaskRequest) -> Empty:
        return Empty()

    async def kill(self, request: KillRequest) -> Empty:
        return Empty()

    async def exec(self, request: ExecProcessRequest) -> Empty:
        return Empty()

    async def resize_pty(self, request: ResizePtyRequest) -> Empty:
        return Empty()

    async def close_io(self, request: CloseIORequest) -> Empty:
        return Empty()

    async def update(self, request: UpdateTaskRequest) -> Empty:
        return Empty()

    async def wait(self, request: WaitRequest) -> WaitResponse:
        return WaitResponse()

    async def stats(self, request: StatsRequest) -> StatsResponse:
        return StatsResponse()

    async def connect(self, request: ConnectRequest) -> ConnectResponse:
        return ConnectResponse()

    async def shutdown(self, request: ShutdownRequest) -> Empty:
        return Empty()


expects_task(PlainTask())


class WidenedKill(FullTask):
    """A wider request type is fine (parameters are contravariant)."""

    async def kill(self, request: Message, /) -> Empty:
        return Empty()


expects_task(WidenedKill())


# Missing: each class lacks exactly one of the 17 RPCs.


class MissingState(HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No state."""


class MissingCreate(HasState, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No create."""


class MissingStart(HasState, HasCreate, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No start."""


class MissingDelete(HasState, HasCreate, HasStart, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No delete."""


class MissingPids(HasState, HasCreate, HasStart, HasDelete, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No pids."""


class MissingPause(HasState, HasCreate, HasStart, HasDelete, HasPids, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No pause."""


class MissingResume(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No resume."""


class MissingCheckpoint(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No checkpoint."""


class MissingKill(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No kill."""


class MissingExec(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No exec."""


class MissingResizePty(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No resize_pty."""


class MissingCloseIO(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """No close_io."""


class MissingUpdate(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasWait, HasStats, HasConnect, HasShutdown):
    """No update."""


class MissingWait(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasStats, HasConnect, HasShutdown):
    """No wait."""


class MissingStats(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasConnect, HasShutdown):
    """No stats."""


class MissingConnect(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasShutdown):
    """No connect."""


class MissingShutdown(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect):
    """No shutdown."""


expects_task(MissingState())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingCreate())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingStart())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingDelete())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingPids())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingPause())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingResume())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingCheckpoint())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingKill())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingExec())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingResizePty())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingCloseIO())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingUpdate())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingWait())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingStats())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingConnect())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MissingShutdown())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


# Misnamed: Go's method names, or a near miss, instead of snake_case.


class MisnamedCamelResizePty(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    async def resizePty(self, request: ResizePtyRequest, /) -> Empty:
        return Empty()


class MisnamedGoCloseIO(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    async def CloseIO(self, request: CloseIORequest, /) -> Empty:
        return Empty()


class MisnamedNoUnderscoreCloseIO(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    async def closeio(self, request: CloseIORequest, /) -> Empty:
        return Empty()


class MisnamedGoState(HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    async def State(self, request: StateRequest, /) -> StateResponse:
        return StateResponse()


class MisnamedExecProcess(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    async def exec_process(self, request: ExecProcessRequest, /) -> Empty:
        return Empty()


class MisnamedCheckpointTask(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    async def checkpoint_task(self, request: CheckpointTaskRequest, /) -> Empty:
        return Empty()


expects_task(MisnamedCamelResizePty())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MisnamedGoCloseIO())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MisnamedNoUnderscoreCloseIO())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MisnamedGoState())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MisnamedExecProcess())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(MisnamedCheckpointTask())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


# Wrongly typed: exactly one method of the 17 has a bad signature.


class BadState(HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """state: synchronous."""

    def state(self, request: StateRequest, /) -> StateResponse:
        return StateResponse()


class BadCreate(HasState, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """create: takes StartRequest."""

    async def create(self, request: StartRequest, /) -> CreateTaskResponse:
        return CreateTaskResponse()


class BadStart(HasState, HasCreate, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """start: returns Empty."""

    async def start(self, request: StartRequest, /) -> Empty:
        return Empty()


class BadDelete(HasState, HasCreate, HasStart, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """delete: needs an extra argument."""

    async def delete(self, request: DeleteRequest, timeout: float, /) -> DeleteResponse:
        return DeleteResponse()


class BadPids(HasState, HasCreate, HasStart, HasDelete, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """pids: keyword-only request."""

    async def pids(self, *, request: PidsRequest) -> PidsResponse:
        return PidsResponse()


class BadPause(HasState, HasCreate, HasStart, HasDelete, HasPids, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """pause: synchronous."""

    def pause(self, request: PauseRequest, /) -> Empty:
        return Empty()


class BadResume(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """resume: takes CheckpointTaskRequest."""

    async def resume(self, request: CheckpointTaskRequest, /) -> Empty:
        return Empty()


class BadCheckpoint(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """checkpoint: returns StateResponse."""

    async def checkpoint(self, request: CheckpointTaskRequest, /) -> StateResponse:
        return StateResponse()


class BadKill(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """kill: needs an extra argument."""

    async def kill(self, request: KillRequest, timeout: float, /) -> Empty:
        return Empty()


class BadExec(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """exec: keyword-only request."""

    async def exec(self, *, request: ExecProcessRequest) -> Empty:
        return Empty()


class BadResizePty(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """resize_pty: synchronous."""

    def resize_pty(self, request: ResizePtyRequest, /) -> Empty:
        return Empty()


class BadCloseIO(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasUpdate, HasWait, HasStats, HasConnect, HasShutdown):
    """close_io: takes UpdateTaskRequest."""

    async def close_io(self, request: UpdateTaskRequest, /) -> Empty:
        return Empty()


class BadUpdate(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasWait, HasStats, HasConnect, HasShutdown):
    """update: returns StateResponse."""

    async def update(self, request: UpdateTaskRequest, /) -> StateResponse:
        return StateResponse()


class BadWait(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasStats, HasConnect, HasShutdown):
    """wait: needs an extra argument."""

    async def wait(self, request: WaitRequest, timeout: float, /) -> WaitResponse:
        return WaitResponse()


class BadStats(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasConnect, HasShutdown):
    """stats: keyword-only request."""

    async def stats(self, *, request: StatsRequest) -> StatsResponse:
        return StatsResponse()


class BadConnect(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasShutdown):
    """connect: synchronous."""

    def connect(self, request: ConnectRequest, /) -> ConnectResponse:
        return ConnectResponse()


class BadShutdown(HasState, HasCreate, HasStart, HasDelete, HasPids, HasPause, HasResume, HasCheckpoint, HasKill, HasExec, HasResizePty, HasCloseIO, HasUpdate, HasWait, HasStats, HasConnect):
    """shutdown: takes StateRequest."""

    async def shutdown(self, request: StateRequest, /) -> Empty:
        return Empty()


expects_task(BadState())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadCreate())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadStart())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadDelete())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadPids())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadPause())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadResume())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadCheckpoint())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadKill())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadExec())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadResizePty())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadCloseIO())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadUpdate())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadWait())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadStats())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadConnect())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_task(BadShutdown())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


async def integrator(task: TaskService) -> None:
    """What a caller of the protocol sees."""
    assert_type(await task.state(StateRequest(id="c1")), StateResponse)
    assert_type(await task.create(CreateTaskRequest(id="c1", bundle="/b")), CreateTaskResponse)
    assert_type((await task.create(CreateTaskRequest())).pid, int)
    assert_type((await task.delete(DeleteRequest(id="c1"))).exit_status, int)
    assert_type(await task.kill(KillRequest(id="c1", signal=9)), Empty)
    assert_type(await task.wait(WaitRequest(id="c1")), WaitResponse)
    assert_type((await task.connect(ConnectRequest(id="c1"))).shim_pid, int)
    assert_type(await task.shutdown(ShutdownRequest(id="c1")), Empty)
    await task.kill(DeleteRequest(id="c1"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await task.state()  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


def narrow(candidate: object) -> None:
    if isinstance(candidate, TaskService):
        assert_type(candidate, TaskService)
