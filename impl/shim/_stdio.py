"""A process's stdio: the FIFOs containerd's client created, as the child's fds.

stdout/stderr are opened ``O_RDWR``: that never blocks (no reader needed yet)
and keeps the FIFO writable if the client goes away, as the Go shim does by
also holding a reader. The container holds the only long-lived copies, so
the client sees EOF exactly when the process (and its children) exit.

stdin gets a pipe: the container reads its end, and a pump in the event loop
copies the FIFO into the other end, closing it at the FIFO's EOF or on
``CloseIO`` (after what the FIFO already holds: the client wrote that before
it asked). The FIFO is opened non-blocking, so Create never waits for the
client; epoll does not report a FIFO whose writer has not connected yet, so
an early open is not mistaken for EOF.
"""

from __future__ import annotations

import asyncio
import os
from typing import Protocol, runtime_checkable

__all__ = ["ConsoleIO", "ProcessIO", "StdinPump", "Stdio", "drain", "open_stdio"]


@runtime_checkable
class ProcessIO(Protocol):
    """A process's I/O as the task service handles it; ``Stdio`` is the FIFO one.

    The seam for terminals: a console (a pty whose master is copied to the
    FIFOs) implements the same five members, and ``wait_output`` then waits
    for the copy to drain, so output written just before the exit reaches the
    client before ``TaskExit`` is published and ``Wait`` answers.
    """

    @property
    def fds(self) -> tuple[int, int, int]:
        """stdin, stdout, stderr for the child process (the runtime passes them on)."""
        ...

    def close_child_ends(self) -> None:
        """Drop this process's copies of the child's fds once the child has them."""
        ...

    def close_stdin(self) -> None:
        """Give the child EOF on stdin (``CloseIO``); idempotent."""
        ...

    async def wait_output(self) -> None:
        """Return once everything the child wrote has reached its destination."""
        ...

    def close(self) -> None:
        """Release everything (after the exit, or a failed start); idempotent."""
        ...

_CHUNK = 65536


def drain(fd: int) -> bytes:
    """Everything a non-blocking FIFO or pipe holds now (at most its capacity)."""
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(fd, _CHUNK)
        except OSError:  # EAGAIN: nothing more now
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


@runtime_checkable
class ConsoleIO(ProcessIO, Protocol):
    """A terminal's ``ProcessIO`` (from ``SupportsTerminal.open_terminal``): it can be resized."""

    def resize(self, width: int, height: int) -> None:
        """Set the console's window size (``ResizePty``)."""
        ...


class StdinPump:
    """Copies a stdin FIFO into the container's stdin pipe, with backpressure."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fifo_fd: int, pipe_w: int) -> None:
        self._loop = loop
        self._fifo = fifo_fd
        self._pipe = pipe_w
        self._pending = b""
        self._closed = False
        self._finishing = False
        os.set_blocking(pipe_w, False)
        loop.add_reader(fifo_fd, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fifo, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        self._pending = data
        self._loop.remove_reader(self._fifo)
        self._on_writable()

    def _on_writable(self) -> None:
        try:
            n = os.write(self._pipe, self._pending)
        except BlockingIOError:
            n = 0
        except OSError:  # the container closed its stdin
            self.close()
            return
        self._pending = self._pending[n:]
        if self._pending:
            self._loop.add_writer(self._pipe, self._on_writable)
        elif self._finishing:
            self.close()
        else:
            self._loop.remove_writer(self._pipe)
            self._loop.add_reader(self._fifo, self._on_readable)

    def finish(self) -> None:
        """``CloseIO``: copy what the FIFO holds now, then give the container
        EOF (idempotent). The loop may not have run the FIFO's reader since
        the client wrote, so closing at once could drop those bytes."""
        if self._closed or self._finishing:
            return
        self._finishing = True
        self._loop.remove_reader(self._fifo)
        self._pending += drain(self._fifo)
        if self._pending:
            self._on_writable()
        else:
            self.close()

    def close(self) -> None:
        """Give the container EOF on stdin (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if not self._loop.is_closed():
            self._loop.remove_reader(self._fifo)
            self._loop.remove_writer(self._pipe)
        os.close(self._fifo)
        os.close(self._pipe)


class Stdio:
    """``ProcessIO`` on containerd's FIFOs: the child writes to them directly.

    stdout/stderr are the FIFOs (or ``file://`` log files) themselves, so
    nothing the child wrote can be lost in a copy; stdin goes through a
    ``StdinPump`` so that ``CloseIO`` can end it.
    """

    def __init__(self, fds: tuple[int, int, int], pump: StdinPump | None) -> None:
        self._fds = fds
        self.pump = pump
        """The stdin copier, if the process has a stdin FIFO."""
        self._child_ends_open = True

    @property
    def fds(self) -> tuple[int, int, int]:
        """stdin (a pipe's read end, or /dev/null), stdout, stderr for the child."""
        return self._fds

    def close_stdin(self) -> None:
        """Give the child EOF on stdin (``CloseIO``) after what the FIFO holds; idempotent."""
        if self.pump is not None:
            self.pump.finish()

    async def wait_output(self) -> None:
        """Nothing to wait for: the child's output fds are the destinations themselves."""
        return None

    def close_child_ends(self) -> None:
        """Drop our copies of the child's ends, once the child (or the tool starting it) has them."""
        if not self._child_ends_open:
            return
        self._child_ends_open = False
        for fd in self._fds:
            os.close(fd)

    def close(self) -> None:
        """Everything, e.g. after a failed create."""
        self.close_child_ends()
        if self.pump is not None:
            self.pump.close()


def _open_output(path: str) -> int:
    if not path:
        return os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    if path.startswith("file://"):  # ctr --log-uri file:///path: append to a plain file
        target = path.removeprefix("file://")
        os.makedirs(os.path.dirname(target) or "/", exist_ok=True)
        return os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    if "://" in path:
        raise OSError(f"unsupported stdio URI {path!r} (only FIFO paths and file:// are)")
    return os.open(path, os.O_RDWR | os.O_CLOEXEC)


def open_stdio(loop: asyncio.AbstractEventLoop, stdin: str, stdout: str, stderr: str) -> Stdio:
    """Open a process's stdio as containerd's client named them.

    Empty means /dev/null; ``file:///path`` appends to a plain file (``ctr
    --log-uri``); anything else is a FIFO path. Other URI schemes (binary
    loggers) raise ``OSError``. Never blocks on a FIFO without a peer.
    """
    opened: list[int] = []
    try:
        pump: StdinPump | None = None
        pumped: tuple[int, int] | None = None  # (fifo, pipe's write end)
        if stdin:
            fifo = os.open(stdin, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            opened.append(fifo)
            r, w = os.pipe2(os.O_CLOEXEC)
            opened += [r, w]
            pumped = (fifo, w)
            in_fd = r
        else:
            in_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            opened.append(in_fd)
        out_fd = _open_output(stdout)
        opened.append(out_fd)
        err_fd = _open_output(stderr)
        opened.append(err_fd)
        if pumped is not None:
            pump = StdinPump(loop, *pumped)
        return Stdio((in_fd, out_fd, err_fd), pump)
    except BaseException:
        for fd in opened:
            os.close(fd)
        raise
