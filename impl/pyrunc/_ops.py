"""``RuncOps``: the ``ProcessOps`` of pyrunc, one container via the ``runc`` command line.

The init process is ``runc create`` (its pid from ``--pid-file``) then
``runc start``; an exec is ``runc exec --detach`` with the process spec
written to ``exec-<id>.json`` in the bundle. runc's failures become
``impl.errdefs`` kinds where runc says which (a missing or existing
container), else UNKNOWN with runc's own message.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from impl import errdefs
from impl.shim import Process, ProcessIO, ProcessState, ProcessTaskService
from shimtypes import ShimContext

from ._runc import RUNC_ROOT, Runc, RuncError

__all__ = ["RuncOps"]


def _error(action: str, process: Process, err: RuncError) -> errdefs.Error:
    what = f"{action} {process.id!r}"
    text = err.runc_message.lower()
    if "does not exist" in text or "not found" in text:
        return errdefs.NotFound(f"{what}: {err}")
    if "already exists" in text:
        return errdefs.AlreadyExists(f"{what}: {err}")
    return errdefs.Unknown(f"{what}: {err}")


class RuncOps:
    """Create, start, exec, kill, delete and list the processes of one runc container."""

    def __init__(self, context: ShimContext, service: ProcessTaskService) -> None:
        self._context = context
        self._service = service
        self._cli: Runc | None = None

    def _runc(self, bundle: str) -> Runc:
        if self._cli is None:
            self._cli = Runc(
                self._service.reaper(),
                root=os.path.join(RUNC_ROOT, self._context.namespace),
                log_path=os.path.join(bundle, "log.json"),
            )
        return self._cli

    async def create(self, process: Process, io: ProcessIO, /) -> int:
        runc = self._runc(process.bundle)
        try:
            return await runc.create(
                process.container_id,
                bundle=process.bundle,
                pid_file=os.path.join(process.bundle, "init.pid"),
                stdio=io.fds,
            )
        except RuncError as err:
            raise _error("create", process, err) from None

    async def start(self, process: Process, /) -> None:
        try:
            await self._runc(process.bundle).start(process.container_id)
        except RuncError as err:
            raise _error("start", process, err) from None

    async def exec(self, process: Process, io: ProcessIO, /) -> int:
        spec_file = self._spec_file(process)
        with open(spec_file, "wb") as f:
            f.write(process.spec)
        try:
            return await self._runc(process.bundle).exec(
                process.container_id, process_file=spec_file, pid_file=self._pid_file(process), stdio=io.fds
            )
        except RuncError as err:
            raise _error("exec", process, err) from None

    async def kill(self, process: Process, signal: int, all: bool, /) -> None:
        if process.exec_id:
            try:
                os.kill(process.pid, signal)
            except ProcessLookupError:
                raise errdefs.NotFound(f"kill exec {process.exec_id!r}: process already finished") from None
            return
        try:
            await self._runc(process.bundle).kill(process.container_id, signal, all=all)
        except RuncError as err:
            raise _error("kill", process, err) from None

    async def delete(self, process: Process, /) -> None:
        if process.exec_id:
            for path in (self._spec_file(process), self._pid_file(process)):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            return
        runc = self._runc(process.bundle)
        force = process.state == ProcessState.CREATED  # never started: runc kills it
        try:
            await runc.delete(process.container_id, force=force)
            return
        except RuncError as err:
            first = err
        if not os.path.exists(os.path.join(runc.root, process.container_id)):
            return  # runc no longer knows it: already deleted
        try:
            await runc.delete(process.container_id, force=True)
        except RuncError:
            raise _error("delete", process, first) from None

    async def pids(self, init: Process, /) -> list[int]:
        try:
            return await self._runc(init.bundle).ps(init.container_id)
        except RuncError as err:
            raise _error("pids", init, err) from None

    @staticmethod
    def _spec_file(process: Process) -> str:
        return os.path.join(process.bundle, f"exec-{process.exec_id}.json")

    @staticmethod
    def _pid_file(process: Process) -> str:
        return os.path.join(process.bundle, f"exec-{process.exec_id}.pid")


if TYPE_CHECKING:
    from impl.shim import ProcessOps, SupportsPids

    def _structural_check(ops: RuncOps) -> tuple[ProcessOps, SupportsPids]:
        return ops, ops
