"""Child reaping for a subreaper shim, driven by SIGCHLD inside the asyncio loop.

A shim is a child subreaper: the container's processes are its children,
or re-parented to it once the tool that started them (``runc``) exits, so it
must ``waitpid`` for them. One ``waitpid(-1, WNOHANG)`` loop sees every
exit; asyncio's own child watchers would race it for the runtime's helper
commands, so those are started with ``subprocess.Popen`` and registered here
synchronously right after the fork (the handler only runs between loop
iterations, so nothing is lost): a runtime waits for its own children by
pid (``wait``, ``run``) without racing any other waiter.

Exits of registered pids resolve their waiter; all other exits (processes
the runtime did not start, or did not ``wait`` for) go to every subscriber
queue, as the task service's exit matching does. Consequence: nothing else in the serving process may wait
for its own children (``subprocess.run``, asyncio subprocesses); spawn them
with ``Reaper.run`` instead. ``Exit`` is a NamedTuple (not a dataclass) to keep the
serving process's start-up imports cheap.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import ClassVar, NamedTuple
from weakref import WeakKeyDictionary

__all__ = ["Exit", "Reaper", "exit_status"]


class Exit(NamedTuple):
    """A reaped process: ``status`` is the exit code, or 128+signal."""

    pid: int
    status: int
    timestamp: float
    """Wall-clock time (``time.time()``) at which the exit was reaped."""


def exit_status(wait_status: int) -> int:
    """Shell convention: the exit code, or 128 + the signal that killed it."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


class Reaper:
    """Reaps every child of this process and hands out the exits.

    Get one with ``Reaper.install(loop)``; installing twice on the same loop
    returns the same reaper, so the runner and the runtime can both ask.
    """

    _by_loop: ClassVar[WeakKeyDictionary[asyncio.AbstractEventLoop, Reaper]] = WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiters: dict[int, asyncio.Future[int]] = {}
        self._subscribers: list[asyncio.Queue[Exit]] = []
        self._closed = False

    @classmethod
    def install(cls, loop: asyncio.AbstractEventLoop | None = None) -> Reaper:
        """Handle SIGCHLD on ``loop`` (default: the running loop); idempotent."""
        if loop is None:
            loop = asyncio.get_running_loop()
        existing = cls._by_loop.get(loop)
        if existing is not None and not existing._closed:
            return existing
        reaper = cls(loop)
        loop.add_signal_handler(signal.SIGCHLD, reaper.reap)
        cls._by_loop[loop] = reaper
        # Children may have exited before the handler was in place.
        loop.call_soon(reaper.reap)
        return reaper

    def close(self) -> None:
        """Stop handling SIGCHLD; pending waiters fail with ``ChildProcessError``."""
        if self._closed:
            return
        self._closed = True
        if Reaper._by_loop.get(self._loop) is self:
            del Reaper._by_loop[self._loop]
        if not self._loop.is_closed():
            self._loop.remove_signal_handler(signal.SIGCHLD)
        for pid, fut in self._waiters.items():
            if not fut.done():
                fut.set_exception(ChildProcessError(f"reaper closed while waiting for pid {pid}"))
        self._waiters.clear()

    def wait(self, pid: int) -> asyncio.Future[int]:
        """Register ``pid`` now and return a future of its exit status.

        The registration happens at call time, not at the first ``await``, so
        ``proc = Popen(...); fut = reaper.wait(proc.pid)`` cannot miss the exit.
        """
        if self._closed:
            raise RuntimeError("reaper is closed")
        fut = self._waiters.get(pid)
        if fut is None:
            fut = self._loop.create_future()
            self._waiters[pid] = fut
        return fut

    def subscribe(self) -> asyncio.Queue[Exit]:
        """A queue receiving every exit of a pid nobody ``wait``-ed for."""
        queue: asyncio.Queue[Exit] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Exit]) -> None:
        """Stop delivering to ``queue``; unknown queues are ignored."""
        try:
            self._subscribers.remove(queue)
        except ValueError:
            pass

    def reap(self) -> None:
        """Collect every exited child now (the SIGCHLD handler)."""
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            status = exit_status(wait_status)
            fut = self._waiters.pop(pid, None)
            if fut is not None:
                if not fut.done():
                    fut.set_result(status)
                continue
            event = Exit(pid, status, time.time())
            for queue in self._subscribers:
                queue.put_nowait(event)

    async def run(
        self,
        argv: Sequence[str],
        *,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        capture: bool = False,
        cwd: str | None = None,
    ) -> tuple[int, bytes]:
        """Run ``argv`` to completion; returns (exit status, captured stdout).

        ``stdin``/``stdout``/``stderr`` are file descriptors handed to the
        child (default: ``/dev/null``). With ``capture``, stdout goes to an
        anonymous memory file instead, read back after the exit (no pipe, so
        no deadlock on large output, and no ``tempfile`` import).
        """
        capture_fd = os.memfd_create("reaper-capture", os.MFD_CLOEXEC) if capture else -1
        try:
            out: int = subprocess.DEVNULL if stdout is None else stdout
            if capture_fd >= 0:
                out = capture_fd
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL if stdin is None else stdin,
                stdout=out,
                stderr=subprocess.DEVNULL if stderr is None else stderr,
                cwd=cwd,
            )
            exited = self.wait(proc.pid)  # no await between fork and registration
            try:
                status = await asyncio.shield(exited)
            finally:
                # Tell Popen the child is gone, so it never waits for the pid itself.
                proc.returncode = exited.result() if exited.done() and not exited.exception() else -1
            output = b""
            if capture_fd >= 0:
                chunks: list[bytes] = []
                os.lseek(capture_fd, 0, os.SEEK_SET)
                while chunk := os.read(capture_fd, 1 << 16):
                    chunks.append(chunk)
                output = b"".join(chunks)
            return status, output
        finally:
            if capture_fd >= 0:
                os.close(capture_fd)
