"""``containerd-shim-pyrunc-v1``: the reference runtime, a shim that drives ``runc``.

``init`` returns a ``PyRunc``: a cheap facade, since containerd runs it for
``start`` and ``delete`` too, where asyncio and protobuf must not be
imported. The task service behind it (``_runc_service``) is imported on the
first task call, in the serving process only.
"""

from __future__ import annotations

import sys

# No ``typing`` at run time (~14 ms): ``start`` and ``delete`` import this
# module and little else. mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

    from google.protobuf.empty_pb2 import Empty

    from shimtypes._shim import Publisher, ShimContext, StartOpts
    from shimtypes.pb import task_pb2 as task

    from ._flags import ShimFlags
    from ._runc_service import RuncTaskService

__all__ = ["RUNTIME_ID", "PyRunc", "init", "main"]

RUNTIME_ID = "io.containerd.pyrunc.v1"


def init(context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> PyRunc:
    """The ``shimtypes.Init`` of this runtime."""
    return PyRunc(context, publisher, shutdown)


def main() -> NoReturn:
    # The shim never speaks TLS, but asyncio imports ``ssl`` when it can:
    # blocking it keeps libssl/libcrypto (~4.4 MiB RSS, ~10 ms) out of every
    # serving shim. For good, unlike the runner's hiding during the asyncio
    # import: pyrunc loads no plugin that could want it later.
    sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]
    from ._runner import run

    run(RUNTIME_ID, init, direct=_Direct(), preload=("impl.shim._runc_service",))


class _Direct:
    """``start`` and ``delete`` exactly as ``PyRunc`` does them, minus ``init``.

    The runner then never imports ``shimtypes`` (``typing``) nor protobuf in
    those two processes: the start path drops to the interpreter start plus
    a few milliseconds, and ``delete`` encodes its ``DeleteResponse`` by hand.
    """

    def start(self, flags: ShimFlags, /) -> str:
        from ._start import start_serving

        return start_serving(
            id=flags.id,
            namespace=flags.namespace,
            address=flags.address,
            containerd_binary=flags.publish_binary,
            debug=flags.debug,
            fork=True,
        )

    def delete(self, flags: ShimFlags, bundle: str, /) -> bytes:
        from ._delete_wire import encode_delete_response
        from ._runc_cleanup import cleanup

        pid, status, exited_ns = cleanup(bundle, flags.namespace, flags.id)
        return encode_delete_response(pid, status, divmod(exited_ns, 1_000_000_000))


class PyRunc:
    """``shimtypes.Shim`` and ``shimtypes.TaskService`` for one runc container."""

    def __init__(self, context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> None:
        self._context = context
        self._publisher = publisher
        self._shutdown = shutdown
        self._service: RuncTaskService | None = None

    def _svc(self) -> RuncTaskService:
        if self._service is None:
            from ._runc_service import RuncTaskService

            self._service = RuncTaskService(self._context, self._publisher, self._shutdown)
        return self._service

    # -- Shim ------------------------------------------------------------------

    def start_shim(self, opts: StartOpts, /) -> str:
        from ._start import start_serving

        return start_serving(
            id=opts.id,
            namespace=opts.namespace,
            address=opts.address,
            containerd_binary=opts.containerd_binary,
            debug=opts.debug,
            fork=True,
        )

    def cleanup(self) -> task.DeleteResponse:
        """``delete``: force-delete the runc container, unmount the rootfs.

        Idempotent and bounded (runc gets 4 s); the exit status is 137 as for
        a killed task, since the serving shim that knew better is gone.
        """
        from shimtypes.pb.task_pb2 import DeleteResponse

        from ._runc_cleanup import cleanup

        pid, status, exited_ns = cleanup(self._context.bundle, self._context.namespace, self._context.id)
        response = DeleteResponse(pid=pid, exit_status=status)
        response.exited_at.FromNanoseconds(exited_ns)
        return response

    # -- TaskService (delegated) -----------------------------------------------

    async def state(self, request: task.StateRequest, /) -> task.StateResponse:
        return await self._svc().state(request)

    async def create(self, request: task.CreateTaskRequest, /) -> task.CreateTaskResponse:
        return await self._svc().create(request)

    async def start(self, request: task.StartRequest, /) -> task.StartResponse:
        return await self._svc().start(request)

    async def delete(self, request: task.DeleteRequest, /) -> task.DeleteResponse:
        return await self._svc().delete(request)

    async def pids(self, request: task.PidsRequest, /) -> task.PidsResponse:
        return await self._svc().pids(request)

    async def pause(self, request: task.PauseRequest, /) -> Empty:
        return await self._svc().pause(request)

    async def resume(self, request: task.ResumeRequest, /) -> Empty:
        return await self._svc().resume(request)

    async def checkpoint(self, request: task.CheckpointTaskRequest, /) -> Empty:
        return await self._svc().checkpoint(request)

    async def kill(self, request: task.KillRequest, /) -> Empty:
        return await self._svc().kill(request)

    async def exec(self, request: task.ExecProcessRequest, /) -> Empty:
        return await self._svc().exec(request)

    async def resize_pty(self, request: task.ResizePtyRequest, /) -> Empty:
        return await self._svc().resize_pty(request)

    async def close_io(self, request: task.CloseIORequest, /) -> Empty:
        return await self._svc().close_io(request)

    async def update(self, request: task.UpdateTaskRequest, /) -> Empty:
        return await self._svc().update(request)

    async def wait(self, request: task.WaitRequest, /) -> task.WaitResponse:
        return await self._svc().wait(request)

    async def stats(self, request: task.StatsRequest, /) -> task.StatsResponse:
        return await self._svc().stats(request)

    async def connect(self, request: task.ConnectRequest, /) -> task.ConnectResponse:
        return await self._svc().connect(request)

    async def shutdown(self, request: task.ShutdownRequest, /) -> Empty:
        return await self._svc().shutdown(request)


if TYPE_CHECKING:
    from shimtypes import Init, Shim, TaskService

    _init_check: Init = init

    def _structural_check(p: PyRunc) -> tuple[Shim, TaskService]:
        return p, p
