"""``WasmOps``: pywasm's ``ProcessOps``, each process a forked module child.

The SDK's task service does the task API (states, exits, ``Wait``, stdio,
events, mounts); this says how a process is created (resolve, compile or
load from the cache, fork, wait until instantiated), started, signalled
(by pidfd) and deleted. What a child reports after Start (a trap) goes to
the shim's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
from signal import SIGKILL, pidfd_send_signal

from impl import errdefs
from impl.shim import Process, ProcessIO, ProcessState, ProcessTaskService, parse_spec, read_spec, rootfs_path
from shimtypes import ShimContext

from ._child import WasmChild, readiness, spawn, start
from ._engine import WasmEngine
from ._resolve import WasmProcess, memory_limit, resolve_process

__all__ = ["READY_TIMEOUT", "WasmOps"]

READY_TIMEOUT = 30.0
"""Seconds a child may take to instantiate its module before Create fails."""

log = logging.getLogger("impl.pywasm")


class WasmOps:
    """Create, start, exec, kill, list and delete the module processes of one container."""

    def __init__(self, context: ShimContext, service: ProcessTaskService) -> None:
        self._engine = WasmEngine()
        self._rootfs: str | None = None
        self._memory_limit: int | None = None
        self._children: dict[str, WasmChild] = {}
        self._relays: set[asyncio.Task[None]] = set()

    async def create(self, process: Process, io: ProcessIO, /) -> int:
        spec = read_spec(process.bundle)
        self._rootfs = rootfs_path(spec, process.bundle)
        self._memory_limit = memory_limit(spec)
        return await self._spawn(process, io, resolve_process(spec.get("process"), self._rootfs))

    async def start(self, process: Process, /) -> None:
        self._start(process.id, self._child(process))

    async def exec(self, process: Process, io: ProcessIO, /) -> int:
        if self._rootfs is None:
            raise errdefs.FailedPrecondition(f"exec {process.id!r}: the container has no init process")
        spec = parse_spec(process.spec, f"exec {process.id!r}: process spec")
        pid = await self._spawn(process, io, resolve_process(spec, self._rootfs))
        self._start(process.id, self._children[process.id])
        return pid

    async def kill(self, process: Process, signal: int, all: bool, /) -> None:
        for child in list(self._children.values()) if all else [self._child(process)]:
            try:
                pidfd_send_signal(child.pidfd, signal)
            except ProcessLookupError:
                if not all:
                    raise errdefs.NotFound(f"kill {process.id!r}: process already finished") from None

    async def pids(self, init: Process, /) -> list[int]:
        """The module processes still running (a pidfd polls readable once its process exited)."""
        return [c.pid for c in self._children.values() if not select.select([c.pidfd], [], [], 0)[0]]

    async def delete(self, process: Process, /) -> None:
        child = self._children.pop(process.id, None)
        if child is not None:
            os.close(child.pidfd)
            if process.state == ProcessState.CREATED:
                child.channel.close()  # the child exits without running (UNSTARTED_STATUS)

    async def _spawn(self, process: Process, io: ProcessIO, wasm: WasmProcess) -> int:
        """Fork the child and wait until it has instantiated its module."""
        wasm = wasm._replace(memory_limit=self._memory_limit)  # for execs too, as the container's cgroup
        child = spawn(self._engine, wasm, self._engine.prepare(wasm), io.fds)
        child.channel.setblocking(False)
        said = asyncio.get_running_loop().sock_recv(child.channel, 65536)
        problem: errdefs.Error | None = errdefs.Canceled(f"{process.id!r}: cancelled")
        try:
            why = readiness(await asyncio.wait_for(said, READY_TIMEOUT))
            problem = None if why is None else errdefs.InvalidArgument(f"{process.id!r}: {why}")
        except TimeoutError:
            problem = errdefs.DeadlineExceeded(f"{process.id!r}: module not instantiated in {READY_TIMEOUT} s")
        finally:
            if problem is not None:  # the exit reaches the SDK's reaper like any other
                with contextlib.suppress(ProcessLookupError):  # exited (and reaped) already
                    pidfd_send_signal(child.pidfd, SIGKILL)
                os.close(child.pidfd)
                child.channel.close()
        if problem is not None:
            raise problem
        self._children[process.id] = child
        return child.pid

    def _start(self, id: str, child: WasmChild) -> None:
        start(child)
        relay = asyncio.get_running_loop().create_task(_relay_reports(child, id))
        self._relays.add(relay)
        relay.add_done_callback(self._relays.discard)

    def _child(self, process: Process) -> WasmChild:
        child = self._children.get(process.id)
        if child is None:
            raise errdefs.NotFound(f"{process.id!r}: no such module process")
        return child


async def _relay_reports(child: WasmChild, id: str) -> None:
    """The child's messages after Start (traps) into the shim log, until it exits."""
    loop = asyncio.get_running_loop()
    try:
        while message := await loop.sock_recv(child.channel, 65536):
            log.error("%s (process %s, pid %d)", message.decode(errors="replace"), id, child.pid)
    finally:
        child.channel.close()
