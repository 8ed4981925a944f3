"""impl.shim: a runtime's ProcessOps is checked structurally; a wrong one is rejected."""
# requires: impl.shim

from google.protobuf.any_pb2 import Any as AnyPB

from impl.shim import (
    Process,
    ProcessIO,
    ProcessOps,
    ProcessTaskService,
    SupportsPause,
    SupportsStats,
    TaskShim,
)
from shimtypes import Publisher, ShimContext, TaskService


def expects_process_ops(ops: ProcessOps) -> None: ...
def expects_supports_pause(ops: SupportsPause) -> None: ...
def expects_supports_stats(ops: SupportsStats) -> None: ...
def expects_task(service: TaskService) -> None: ...


class Good:
    async def create(self, process: Process, io: ProcessIO, /) -> int:
        return process.pid + len(io.fds)

    async def start(self, process: Process, /) -> None: ...

    async def exec(self, process: Process, io: ProcessIO, /) -> int:
        return 2

    async def kill(self, process: Process, signal: int, all: bool, /) -> None: ...

    async def delete(self, process: Process, /) -> None: ...

    async def pause(self, init: Process, /) -> None: ...

    async def resume(self, init: Process, /) -> None: ...

    async def stats(self, init: Process, /) -> AnyPB:
        return AnyPB()


class NoExec:
    async def create(self, process: Process, io: ProcessIO, /) -> int:
        return 1

    async def start(self, process: Process, /) -> None: ...

    async def kill(self, process: Process, signal: int, all: bool, /) -> None: ...

    async def delete(self, process: Process, /) -> None: ...


class SyncCreate(NoExec):
    def create(self, process: Process, io: ProcessIO, /) -> int:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        return 1

    async def exec(self, process: Process, io: ProcessIO, /) -> int:
        return 2


class PidAsText(NoExec):
    async def exec(self, process: Process, io: ProcessIO, /) -> str:
        return "2"


class PauseOnly:
    async def pause(self, init: Process, /) -> None: ...


expects_process_ops(Good())
expects_supports_pause(Good())
expects_supports_stats(Good())
expects_process_ops(NoExec())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_process_ops(SyncCreate())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_process_ops(PidAsText())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_supports_pause(PauseOnly())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def good_ops(context: ShimContext, service: ProcessTaskService) -> Good:
    return Good()


def ops_without_service(context: ShimContext) -> Good:
    return Good()


def no_exec_ops(context: ShimContext, service: ProcessTaskService) -> NoExec:
    return NoExec()


def shims(context: ShimContext, publisher: Publisher) -> None:
    shim = TaskShim(context, publisher, lambda: None, good_ops)
    expects_task(shim)
    expects_task(shim.service)
    TaskShim(context, publisher, lambda: None, ops_without_service)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    TaskShim(context, publisher, lambda: None, no_exec_ops)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    TaskShim(context, publisher, lambda: None, good_ops, cleanup=lambda bundle: (0, 0, 0))  # type: ignore[arg-type,misc]  # pyright: ignore[reportArgumentType]
