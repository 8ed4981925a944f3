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

from ._options import RuncOptions
from ._runc import RUNC_BINARY, RUNC_ROOT, Runc, RuncError

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
    """Create, start, exec, kill, delete and list the processes of runc containers (one shim, a pod)."""

    def __init__(self, context: ShimContext, service: ProcessTaskService) -> None:
        self._context = context
        self._service = service
        self._clis: dict[str, tuple[Runc, RuncOptions]] = {}
        """Per container id: its runc command line and options (one shim may serve a pod)."""

    def _runc(self, process: Process) -> Runc:
        """The container's runc command line, made at its create from the runtime options (binary, root, flags)."""
        return self._cli(process)[0]

    def _cli(self, process: Process) -> tuple[Runc, RuncOptions]:
        made = self._clis.get(process.container_id)
        if made is None:
            try:
                opts = RuncOptions.from_any(process.options)
            except ValueError as err:
                raise errdefs.InvalidArgument(f"runtime options: {err}") from None
            runc = Runc(
                self._service.reaper(),
                root=os.path.join(opts.root or RUNC_ROOT, self._context.namespace),
                log_path=os.path.join(process.bundle, "log.json"),
                binary=opts.binary_name or RUNC_BINARY,
                systemd_cgroup=opts.systemd_cgroup,
                no_pivot=opts.no_pivot_root,
                no_new_keyring=opts.no_new_keyring,
            )
            made = self._clis[process.container_id] = (runc, opts)
        return made

    def _chown_io(self, process: Process) -> None:
        """IoUid/IoGid: the container's stdio FIFOs belong to that user (as the Go shim's pipes)."""
        opts = self._cli(process)[1]
        if not (opts.io_uid or opts.io_gid):
            return
        for path in (process.stdin, process.stdout, process.stderr):
            if path and "://" not in path:
                try:
                    os.chown(path, opts.io_uid, opts.io_gid, follow_symlinks=False)
                except OSError as err:
                    raise errdefs.Internal(f"chown {path!r} to {opts.io_uid}:{opts.io_gid}: {err}") from None

    async def create(self, process: Process, io: ProcessIO, /) -> int:
        runc = self._runc(process)
        self._chown_io(process)
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
            await self._runc(process).start(process.container_id)
        except RuncError as err:
            raise _error("start", process, err) from None

    async def exec(self, process: Process, io: ProcessIO, /) -> int:
        spec_file = self._spec_file(process)
        with open(spec_file, "wb") as f:
            f.write(process.spec)
        self._chown_io(process)
        try:
            return await self._runc(process).exec(
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
            await self._runc(process).kill(process.container_id, signal, all=all)
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
        await self._delete_container(process)
        self._clis.pop(process.container_id, None)

    async def _delete_container(self, process: Process) -> None:
        runc = self._runc(process)
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
            return await self._runc(init).ps(init.container_id)
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
