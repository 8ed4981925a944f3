"""``TaskShim``: a runtime's ``Shim`` and ``TaskService`` in one cheap object.

containerd runs the shim program for ``start`` and ``delete`` too, where
asyncio and protobuf must not be imported: constructing a ``TaskShim``
imports nothing; the ``ProcessTaskService`` behind it (and the runtime's
``ProcessOps``) are built on the first task call, in the serving process.
"""

from __future__ import annotations

# No ``typing`` at run time (it would double the start path). mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from google.protobuf.empty_pb2 import Empty

    from shimtypes._shim import Publisher, ShimContext, StartOpts
    from shimtypes.pb import task_pb2 as task

    from ._ops import ProcessOps
    from ._task import ProcessTaskService

__all__ = ["TaskShim"]


class TaskShim:
    """``shimtypes.Shim`` and ``shimtypes.TaskService`` for a runtime given as ``ProcessOps``.

    ``ops(context, service)`` makes the runtime in the serving process (import
    its heavy modules inside it). ``cleanup(bundle, namespace, id)`` is the
    ``delete`` action (default ``cleanup_bundle``: unmount the rootfs,
    report a killed task); pass the same callable as ``ShimOptions.cleanup``
    so that ``delete`` needs no ``init``. ``start_shim`` re-executes the
    program (``start_serving_shim``); ``ShimOptions.serving`` forks instead.
    """

    def __init__(
        self,
        context: ShimContext,
        publisher: Publisher,
        shutdown: Callable[[], None],
        ops: Callable[[ShimContext, ProcessTaskService], ProcessOps],
        *,
        cleanup: Callable[[str, str, str], tuple[int, int, int]] | None = None,
    ) -> None:
        self.context = context
        self._publisher = publisher
        self._shutdown = shutdown
        self._ops = ops
        self._cleanup = cleanup
        self._service: ProcessTaskService | None = None

    @property
    def service(self) -> ProcessTaskService:
        """The task service (built on first use; serving process only)."""
        if self._service is None:
            from ._task import ProcessTaskService

            self._service = ProcessTaskService(self.context, self._publisher, self._shutdown, self._ops)
        return self._service

    # -- Shim ------------------------------------------------------------------

    def start_shim(self, opts: StartOpts, /) -> str:
        """``start``: a re-executed serving process (``start_serving_shim``); its address."""
        from ._start import start_serving_shim

        return start_serving_shim(opts)

    def cleanup(self) -> task.DeleteResponse:
        """``delete``: the ``cleanup`` callable's result as a ``DeleteResponse``."""
        from shimtypes.pb.task_pb2 import DeleteResponse

        cleanup = self._cleanup
        if cleanup is None:
            from ._cleanup import cleanup_bundle

            cleanup = cleanup_bundle
        ctx = self.context
        pid, status, exited_ns = cleanup(ctx.bundle, ctx.namespace, ctx.id)
        response = DeleteResponse(pid=pid, exit_status=status)
        response.exited_at.FromNanoseconds(exited_ns)
        return response

    # -- TaskService (delegated) -----------------------------------------------

    async def state(self, request: task.StateRequest, /) -> task.StateResponse:
        """Delegated to ``ProcessTaskService.state``: the process's ``State``: status, pid, stdio, exit status and time."""
        return await self.service.state(request)

    async def create(self, request: task.CreateTaskRequest, /) -> task.CreateTaskResponse:
        """Delegated to ``ProcessTaskService.create``: create the init process: mount the rootfs, open stdio, ``ops.create``; publishes TaskCreate."""
        return await self.service.create(request)

    async def start(self, request: task.StartRequest, /) -> task.StartResponse:
        """Delegated to ``ProcessTaskService.start``: start the init process (TaskStart) or an exec (``ops.exec``; TaskExecStarted)."""
        return await self.service.start(request)

    async def delete(self, request: task.DeleteRequest, /) -> task.DeleteResponse:
        """Delegated to ``ProcessTaskService.delete``: delete a stopped or never-started process; for init also the mounts and every exec (TaskDelete)."""
        return await self.service.delete(request)

    async def pids(self, request: task.PidsRequest, /) -> task.PidsResponse:
        """Delegated to ``ProcessTaskService.pids``: the container's pids (``SupportsPids``, else the init process's alone)."""
        return await self.service.pids(request)

    async def pause(self, request: task.PauseRequest, /) -> Empty:
        """Delegated to ``ProcessTaskService.pause``: pause the container (``SupportsPause``); publishes TaskPaused."""
        return await self.service.pause(request)

    async def resume(self, request: task.ResumeRequest, /) -> Empty:
        """Delegated to ``ProcessTaskService.resume``: resume the paused container (``SupportsPause``); publishes TaskResumed."""
        return await self.service.resume(request)

    async def checkpoint(self, request: task.CheckpointTaskRequest, /) -> Empty:
        """Delegated to ``ProcessTaskService.checkpoint``: not supported by the SDK: UNIMPLEMENTED."""
        return await self.service.checkpoint(request)

    async def kill(self, request: task.KillRequest, /) -> Empty:
        """Delegated to ``ProcessTaskService.kill``: signal a process through ``ops.kill``; NOT_FOUND once it has exited."""
        return await self.service.kill(request)

    async def exec(self, request: task.ExecProcessRequest, /) -> Empty:
        """Delegated to ``ProcessTaskService.exec``: add an exec process (its OCI process spec); publishes TaskExecAdded."""
        return await self.service.exec(request)

    async def resize_pty(self, request: task.ResizePtyRequest, /) -> Empty:
        """Delegated to ``ProcessTaskService.resize_pty``: resize the console of a terminal process (``ConsoleIO``); a no-op without one."""
        return await self.service.resize_pty(request)

    async def close_io(self, request: task.CloseIORequest, /) -> Empty:
        """Delegated to ``ProcessTaskService.close_io``: close the process's stdin (``CloseIO``)."""
        return await self.service.close_io(request)

    async def update(self, request: task.UpdateTaskRequest, /) -> Empty:
        """Delegated to ``ProcessTaskService.update``: update the container's resources (``SupportsUpdate``)."""
        return await self.service.update(request)

    async def wait(self, request: task.WaitRequest, /) -> task.WaitResponse:
        """Delegated to ``ProcessTaskService.wait``: block until the process exits; its exit status and time."""
        return await self.service.wait(request)

    async def stats(self, request: task.StatsRequest, /) -> task.StatsResponse:
        """Delegated to ``ProcessTaskService.stats``: the container's metrics (``SupportsStats``)."""
        return await self.service.stats(request)

    async def connect(self, request: task.ConnectRequest, /) -> task.ConnectResponse:
        """Delegated to ``ProcessTaskService.connect``: the shim's pid and the init process's."""
        return await self.service.connect(request)

    async def shutdown(self, request: task.ShutdownRequest, /) -> Empty:
        """Delegated to ``ProcessTaskService.shutdown``: stop serving once no task is left (containerd asks again after Delete)."""
        return await self.service.shutdown(request)


if TYPE_CHECKING:  # type-check only; not in __all__
    from shimtypes import Shim, TaskService

    def check_task_shim_protocols(s: TaskShim, service: ProcessTaskService) -> tuple[Shim, TaskService, TaskService]:
        return s, s, service
