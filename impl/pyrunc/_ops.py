"""``RuncOps``: the ``ProcessOps`` of pyrunc: runc containers (one shim may serve a pod) via the ``runc`` command line.

The init process is ``runc create`` (its pid from ``--pid-file``) then
``runc start``; an exec is ``runc exec --detach`` with the process spec
written to ``exec-<id>.json`` in the bundle. runc's failures become
``impl.errdefs`` kinds where runc says which (a missing or existing
container), else UNKNOWN with runc's own message.

Beyond the process life: terminals through runc's console socket
(``TerminalIO``), ``runc pause``/``resume``/``update``, ``Stats`` read from
the container's cgroup (v1 or v2, found from ``linux.cgroupsPath`` as runc
places it), and ``TaskOOM`` from an OOM watch on that cgroup.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from google.protobuf.any_pb2 import Any as AnyPB

from impl import errdefs
from impl._jsonvalue import is_array, is_object
from impl.shim import Process, ProcessIO, ProcessState, ProcessTaskService, TerminalIO, cgroups
from shimtypes import ShimContext

from ._options import RuncOptions
from ._runc import RUNC_BINARY, RUNC_ROOT, Runc, RuncError

__all__ = ["RuncOps"]

log = logging.getLogger("impl.pyrunc")

def exec_spec(spec: bytes, terminal: bool, exec_id: str) -> bytes:
    """The exec's process spec for runc, its ``terminal`` taken from the request, as the Go shim does.

    Clients send the container's process spec with ``Exec(terminal=true)``
    (containerd's client tests do): runc refuses a console socket for a
    spec without a terminal, so the request's flag wins over the spec's.
    """
    try:
        process: object = json.loads(spec)
    except ValueError as err:
        raise errdefs.InvalidArgument(f"exec {exec_id!r}: process spec is not JSON: {err}") from None
    if not is_object(process):
        raise errdefs.InvalidArgument(f"exec {exec_id!r}: process spec is not a JSON object")
    if bool(process.get("terminal", False)) == terminal:
        return spec
    process["terminal"] = terminal
    return json.dumps(process).encode()


CONSOLE_TIMEOUT = 10.0
"""Seconds to wait for the pty master once runc create/exec returned (runc sends it before exiting)."""


def _error(action: str, process: Process, err: RuncError) -> errdefs.Error:
    what = f"{action} {process.id!r}"
    text = err.runc_message.lower()
    if "does not exist" in text or "not found" in text:
        return errdefs.NotFound(f"{what}: {err}")
    if action == "kill" and ("not running" in text or "process already finished" in text or "no such process" in text):
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
        """Per container id: its runc command line and options."""
        self._cgroups: dict[str, str] = {}
        """Per container id: its cgroup ("" when unknown)."""
        self._kill_all_on_exit: dict[str, bool] = {}
        """Per container id: whether it shares another pid namespace (its init's exit must kill the rest)."""
        self._oom: cgroups.OOMWatcher | None = None
        self._oom_events: set[asyncio.Task[None]] = set()

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
        self._cgroups[process.container_id] = self._cgroup_of(process)

        async def create(console_socket: str) -> int:
            return await runc.create(
                process.container_id,
                bundle=process.bundle,
                pid_file=os.path.join(process.bundle, "init.pid"),
                stdio=io.fds,
                console_socket=console_socket,
            )

        try:
            pid = await self._with_console(io, create)
        except RuncError as err:
            raise _error("create", process, err) from None
        except BaseException:
            await self._forget(process)
            raise
        self._watch_oom(process)
        return pid

    async def _with_console(self, io: ProcessIO, run: Callable[[str], Awaitable[int]]) -> int:
        """Run ``run`` with the console socket of a terminal ``io`` (if it is one), then attach the console."""
        if not isinstance(io, TerminalIO):
            return await run("")
        path = io.socket_path
        attach = asyncio.ensure_future(io.attach())
        try:
            pid = await run(path)
        except BaseException:
            attach.cancel()
            raise
        try:
            await asyncio.wait_for(attach, CONSOLE_TIMEOUT)
        except Exception as err:
            try:  # no console, no process: nobody could see or feed it
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
            raise errdefs.Internal(f"console of pid {pid}: {err}") from None
        return pid

    async def _forget(self, process: Process) -> None:
        """After a failed create: runc may hold a created container; remove it."""
        try:
            await self._runc(process).delete(process.container_id, force=True)
        except RuncError:
            pass

    def _cgroup_of(self, process: Process) -> str:
        """The container's cgroup; also notes whether it has a pid namespace of its own."""
        try:
            with open(os.path.join(process.bundle, "config.json"), "rb") as f:
                spec: object = json.load(f)
            if not is_object(spec):
                raise ValueError("config.json is not a JSON object")
            linux = spec.get("linux")
            namespaces = linux.get("namespaces") if is_object(linux) else None
            self._kill_all_on_exit[process.container_id] = not any(
                is_object(ns) and ns.get("type") == "pid" and not ns.get("path")
                for ns in (namespaces if is_array(namespaces) else ())
            )
            systemd = self._cli(process)[1].systemd_cgroup
            return cgroups.cgroup_path_from_spec(spec, process.container_id, systemd=systemd)
        except (OSError, ValueError) as err:
            log.warning("cgroup of %s unknown: %s", process.container_id, err)
            return ""

    async def exited(self, process: Process, /) -> None:
        """As the Go shim: an init sharing another pid namespace leaves children behind; kill them."""
        if process.exec_id or not self._kill_all_on_exit.get(process.container_id, True):
            return
        try:
            await self._runc(process).kill(process.container_id, 9, all=True)
        except RuncError as err:
            log.warning("killing what %s left failed: %s", process.container_id, err)

    def _watch_oom(self, process: Process) -> None:
        cgroup = self._cgroups.get(process.container_id, "")
        if not cgroup:
            return
        if self._oom is None:
            self._oom = cgroups.OOMWatcher(self._on_oom)
        try:
            if cgroups.is_unified():
                self._oom.watch_v2(process.container_id, cgroups.v2_dir(cgroup))
            else:
                self._oom.watch_v1(process.container_id, cgroups.v1_controller_dir(cgroup, "memory"))
        except (OSError, ValueError) as err:
            log.warning("no OOM events for %s: %s", process.container_id, err)

    def _on_oom(self, container_id: str) -> None:
        event = asyncio.get_running_loop().create_task(self._service.publish_oom(container_id))
        self._oom_events.add(event)
        event.add_done_callback(self._oom_events.discard)

    async def start(self, process: Process, /) -> None:
        try:
            await self._runc(process).start(process.container_id)
        except RuncError as err:
            raise _error("start", process, err) from None

    async def exec(self, process: Process, io: ProcessIO, /) -> int:
        spec_file = self._spec_file(process)
        spec = exec_spec(process.spec, process.terminal, process.exec_id)
        with open(spec_file, "wb") as f:
            f.write(spec)
        self._chown_io(process)
        runc = self._runc(process)

        async def exec(console_socket: str) -> int:
            return await runc.exec(
                process.container_id,
                process_file=spec_file,
                pid_file=self._pid_file(process),
                stdio=io.fds,
                console_socket=console_socket,
            )

        try:
            return await self._with_console(io, exec)
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
        if not process.exec_id and self._oom is not None:
            self._oom.unwatch(process.container_id)
        if process.exec_id:
            for path in (self._spec_file(process), self._pid_file(process)):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            return
        await self._delete_container(process)
        for per_container in (self._clis, self._cgroups, self._kill_all_on_exit):
            per_container.pop(process.container_id, None)

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

    # -- terminals, pause, update, stats ------------------------------------------

    def open_terminal(self, process: Process, /) -> TerminalIO:
        """A console socket for runc; the pty master is copied to and from the FIFOs."""
        return TerminalIO(stdin=process.stdin, stdout=process.stdout)

    async def pause(self, init: Process, /) -> None:
        try:
            await self._runc(init).pause(init.container_id)
        except RuncError as err:
            raise _error("pause", init, err) from None

    async def resume(self, init: Process, /) -> None:
        try:
            await self._runc(init).resume(init.container_id)
        except RuncError as err:
            raise _error("resume", init, err) from None

    async def update(self, init: Process, resources: AnyPB, annotations: Mapping[str, str], /) -> None:
        try:
            call = cgroups.runc_update(init.container_id, resources)
        except cgroups.ResourcesError as err:
            raise errdefs.InvalidArgument(f"update {init.id!r}: {err}") from None
        try:
            await self._runc(init).update(call.args, call.stdin)
        except RuncError as err:
            raise _error("update", init, err) from None

    async def stats(self, init: Process, /) -> AnyPB:
        cgroup = self._cgroups.get(init.container_id, "")
        if not cgroup:
            raise errdefs.NotFound(f"stats {init.id!r}: the container's cgroup is unknown")
        try:
            if cgroups.is_unified():
                return cgroups.metrics_any(cgroups.read_v2_metrics(cgroups.v2_dir(cgroup)))
            return cgroups.metrics_any(cgroups.read_v1_metrics(cgroup))
        except cgroups.CgroupNotFound as err:
            raise errdefs.NotFound(f"stats {init.id!r}: {err}") from None
        except (OSError, cgroups.CgroupFormatError) as err:
            raise errdefs.Internal(f"stats {init.id!r}: {err}") from None

    @staticmethod
    def _spec_file(process: Process) -> str:
        return os.path.join(process.bundle, f"exec-{process.exec_id}.json")

    @staticmethod
    def _pid_file(process: Process) -> str:
        return os.path.join(process.bundle, f"exec-{process.exec_id}.pid")


if TYPE_CHECKING:  # type-check only; not in __all__
    from impl.shim import (
        ProcessOps,
        SupportsExited,
        SupportsPause,
        SupportsPids,
        SupportsStats,
        SupportsTerminal,
        SupportsUpdate,
    )

    def check_runc_ops_protocols(
        ops: RuncOps,
    ) -> tuple[ProcessOps, SupportsPids, SupportsPause, SupportsUpdate, SupportsStats, SupportsTerminal, SupportsExited]:
        return ops, ops, ops, ops, ops, ops, ops
