"""A process's terminal: runc's console socket, and the pty master copied to and from the FIFOs.

With ``process.terminal = true`` runc creates the pty itself and sends the
master over a unix socket (``runc create/exec --console-socket PATH``) as an
``SCM_RIGHTS`` message. ``ConsoleSocket`` is that socket; ``Console`` copies
the master to the stdout FIFO and the stdin FIFO to the master, both
non-blocking in the event loop with backpressure.

Output ends when reading the master fails with ``EIO``: the kernel returns
what the slave wrote before that, so every byte written before the last
slave fd closed (the process and its children exited) reaches the FIFO
before ``wait_output`` returns. Input ends at the stdin FIFO's EOF or on
``close_stdin`` (``CloseIO``); the tty then gets its EOF character when in
canonical mode, as if the user had typed it, so a shell reading a piped
script exits.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct

from ._stdio import drain

__all__ = ["Console", "ConsoleError", "ConsoleSocket", "TerminalIO", "resize_pty"]

_CHUNK = 65536
_MAX_NAME = 4096


class ConsoleError(OSError):
    """The console socket or the pty could not be set up (the path and the step are named)."""


def resize_pty(master: int, width: int, height: int) -> None:
    """``ResizePty``: set the window size (columns, rows) of the pty behind ``master``."""
    import fcntl
    import termios

    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


class ConsoleSocket:
    """The unix socket runc sends a new pty master to; one per process with a terminal.

    It lives in a fresh private directory (runc needs a path, and the
    directory keeps it short and unguessable); ``close`` removes both.
    """

    def __init__(self, directory: str | None = None) -> None:
        import tempfile  # only terminals need it: it would cost every serving shim shutil, bz2, lzma, random

        self._dir = tempfile.mkdtemp(prefix="pty", dir=directory)
        self.path: str = os.path.join(self._dir, "pty.sock")
        """The socket's path (for ``--console-socket``)."""
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            self._sock.bind(self.path)
            self._sock.listen(1)
        except OSError as e:
            self.close()
            raise ConsoleError(e.errno, f"console socket {self.path}: bind/listen: {e.strerror}") from e
        self._sock.setblocking(False)

    async def receive_master(self) -> int:
        """Accept runc's connection and return the pty master it sends (caller owns the fd)."""
        loop = asyncio.get_running_loop()
        conn, _ = await loop.sock_accept(self._sock)
        with conn:
            conn.setblocking(False)
            while True:
                try:
                    _, ancdata, _, _ = conn.recvmsg(_MAX_NAME, socket.CMSG_SPACE(struct.calcsize("i")))
                    break
                except BlockingIOError:
                    readable = loop.create_future()
                    loop.add_reader(conn.fileno(), readable.set_result, None)
                    try:
                        await readable
                    finally:
                        loop.remove_reader(conn.fileno())
        fds: list[int] = []
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(data) - len(data) % 4
                fds += list(struct.unpack(f"{usable // 4}i", data[:usable]))
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise ConsoleError(errno.EPROTO, f"console socket {self.path}: expected one fd, got {len(fds)}")
        os.set_inheritable(fds[0], False)
        return fds[0]

    def close(self) -> None:
        """Close the listener and remove the socket and its directory (idempotent)."""
        self._sock.close()
        for remove, path in ((os.unlink, self.path), (os.rmdir, self._dir)):
            try:
                remove(path)
            except FileNotFoundError:
                pass


def _open_output(path: str) -> int:
    if not path:
        return os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    if path.startswith("file://"):
        target = path.removeprefix("file://")
        os.makedirs(os.path.dirname(target) or "/", exist_ok=True)
        return os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
    if "://" in path:
        raise ConsoleError(errno.EINVAL, f"unsupported stdout URI {path!r} (only FIFO paths and file:// are)")
    # O_RDWR never blocks on a FIFO without a reader, and we stay its only writer.
    return os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK)


class _Pump:
    """Copies ``src`` to ``dst`` in the loop until ``src`` ends; ``done`` then resolves."""

    def __init__(self, loop: asyncio.AbstractEventLoop, src: int, dst: int) -> None:
        self._loop = loop
        self._src, self._dst = src, dst
        self._pending = b""
        self._discard = False  # dst is gone: keep draining src so the writer never blocks
        self._finishing = False
        self.done: asyncio.Future[None] = loop.create_future()
        loop.add_reader(src, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._src, _CHUNK)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty's last slave fd closed and its buffer is drained
            data = b""
        if not data:
            self.stop()
            return
        if self._discard:
            return
        self._pending = data
        self._loop.remove_reader(self._src)
        self._on_writable()

    def _on_writable(self) -> None:
        try:
            n = os.write(self._dst, self._pending)
        except BlockingIOError:
            n = 0
        except OSError:
            self._discard, self._pending = True, b""
            self._loop.remove_writer(self._dst)
            if self._finishing:
                self.stop()
            else:
                self._loop.add_reader(self._src, self._on_readable)
            return
        self._pending = self._pending[n:]
        if self._pending:
            self._loop.add_writer(self._dst, self._on_writable)
        elif self._finishing:
            self.stop()
        else:
            self._loop.remove_writer(self._dst)
            self._loop.add_reader(self._src, self._on_readable)

    def finish(self) -> None:
        """Copy what ``src`` holds now, then stop (``CloseIO``: the client
        wrote those bytes before it asked; idempotent)."""
        if self.done.done() or self._finishing:
            return
        self._finishing = True
        self._loop.remove_reader(self._src)
        if not self._discard:
            self._pending += drain(self._src)
        if self._pending:
            self._on_writable()
        else:
            self.stop()

    def stop(self) -> None:
        """Stop copying (pending bytes are dropped; idempotent)."""
        if self.done.done():
            return
        if not self._loop.is_closed():
            self._loop.remove_reader(self._src)
            self._loop.remove_writer(self._dst)
        self.done.set_result(None)


class Console:
    """One process's pty master, copied to ``stdout`` and from ``stdin`` (FIFO paths; empty: none)."""

    def __init__(self, master: int, *, stdin: str, stdout: str) -> None:
        self._loop = asyncio.get_running_loop()
        self.master: int = master
        """The pty master (owned: ``close`` closes it)."""
        self._closed = False
        opened: list[int] = []
        try:
            os.set_blocking(master, False)
            out = _open_output(stdout)
            opened.append(out)
            inp = os.open(stdin, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC) if stdin else -1
            if inp >= 0:
                opened.append(inp)
        except OSError as e:
            for fd in opened:
                os.close(fd)
            if isinstance(e, ConsoleError):
                raise
            raise ConsoleError(e.errno, f"console stdio {e.filename or stdin or stdout}: {e.strerror}") from e
        self._out = out
        self._in = inp
        self._output = _Pump(self._loop, master, out)
        self._input = _Pump(self._loop, inp, master) if inp >= 0 else None
        if self._input is not None:
            self._input.done.add_done_callback(lambda _: self._on_stdin_end())

    def _on_stdin_end(self) -> None:
        if self._in >= 0:
            os.close(self._in)
            self._in = -1
        if not self._closed:
            self._send_eof()

    def _send_eof(self) -> None:
        import termios

        try:
            attrs = termios.tcgetattr(self.master)
            if attrs[3] & termios.ICANON:
                eof = attrs[6][termios.VEOF]
                os.write(self.master, eof if isinstance(eof, bytes) else bytes([eof]))
        except OSError:
            pass

    def resize(self, width: int, height: int) -> None:
        """``ResizePty``."""
        resize_pty(self.master, width, height)

    def close_stdin(self) -> None:
        """``CloseIO``: what the stdin FIFO holds goes to the tty, then it sees EOF."""
        if self._input is not None:
            self._input.finish()

    async def wait_output(self) -> None:
        """Return once every byte the process wrote is in the stdout FIFO."""
        await asyncio.shield(self._output.done)

    def unread(self) -> int:
        """Bytes in the stdout FIFO its reader has not taken yet (0 for other outputs).

        A client may stop reading as soon as ``Wait`` answers (``ctr`` closes
        its FIFOs then), so the exit is best reported once this is 0.
        """
        import fcntl
        import termios

        if self._closed or self._out < 0:
            return 0
        try:
            buf = fcntl.ioctl(self._out, termios.FIONREAD, b"\0\0\0\0")
        except OSError:
            return 0
        return int.from_bytes(buf, "little", signed=True)

    def end_output(self) -> None:
        """Close our stdout FIFO writer once the output ended: the client's reader gets EOF.

        containerd's exec streaming (CRI) waits for that EOF after the exit,
        before it deletes the process; the Go shim closes it at the end of
        its copy too. Only after ``wait_output`` (else output would be lost).
        """
        if not self._output.done.done() or self._out < 0:
            return
        os.close(self._out)
        self._out = -1

    def close(self) -> None:
        """Stop copying and close the master and the FIFOs (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._output.stop()
        if self._input is not None:
            self._input.stop()
        for fd in (self._in, self._out, self.master):
            if fd >= 0:
                os.close(fd)
        self._in = -1


class TerminalIO:
    """A terminal process's I/O for the task service: a console socket, then the console.

    Made before the runtime's create/exec (``socket.path`` goes on runc's
    command line); ``attach`` receives the master while runc runs. The child
    gets no stdio fds of ours (``fds`` are /dev/null: runc gives it the pty).
    ``wait_output`` waits for the copy to drain, at most ``drain_timeout``
    seconds: a process that left the container (a shared pid namespace) may
    keep the pty open for good, and the exit must still be reported.
    """

    def __init__(self, *, stdin: str, stdout: str, drain_timeout: float = 2.0) -> None:
        self._stdin, self._stdout = stdin, stdout
        self._drain_timeout = drain_timeout
        self.socket: ConsoleSocket | None = ConsoleSocket()
        self.console: Console | None = None
        self._null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self._stdin_closed = False
        self._size: tuple[int, int] | None = None

    @property
    def fds(self) -> tuple[int, int, int]:
        """/dev/null three times: runc gives the process the pty, not these."""
        return (self._null, self._null, self._null)

    @property
    def socket_path(self) -> str:
        """Where runc must send the master (``--console-socket``)."""
        if self.socket is None:
            raise ConsoleError(errno.EBADF, "console socket already used")
        return self.socket.path

    async def attach(self) -> None:
        """Receive the master from runc and start copying; the socket is removed."""
        sock = self.socket
        if sock is None:
            raise ConsoleError(errno.EBADF, "console socket already used")
        try:
            master = await sock.receive_master()
        finally:  # ``close`` may have run meanwhile (runc failed): the socket is then gone already
            sock.close()
            self.socket = None
        try:
            self.console = Console(master, stdin=self._stdin, stdout=self._stdout)
        except BaseException:
            os.close(master)
            raise
        if self._size is not None:
            self.console.resize(*self._size)
        if self._stdin_closed:
            self.console.close_stdin()

    def close_child_ends(self) -> None:
        """Drop the /dev/null fd once runc has started."""
        if self._null >= 0:
            os.close(self._null)
            self._null = -1

    def resize(self, width: int, height: int) -> None:
        """``ResizePty`` (kept for the console if it has not arrived yet)."""
        if self.console is None:
            self._size = (width, height)
        else:
            self.console.resize(width, height)

    def close_stdin(self) -> None:
        """``CloseIO``: the tty gets EOF (now, or as soon as the console arrives)."""
        self._stdin_closed = True
        if self.console is not None:
            self.console.close_stdin()

    async def wait_output(self) -> None:
        """Wait until the output is copied and read by the client, at most ``drain_timeout`` seconds.

        Once drained, the stdout FIFO is closed: its reader sees EOF now, not at ``close``.
        """
        if self.console is None:
            return
        console = self.console

        async def drained() -> None:
            await console.wait_output()
            # The client reads the FIFO on its own schedule: no event says it has
            # caught up, so look again shortly until it has.
            while console.unread():
                await asyncio.sleep(0.005)

        try:
            await asyncio.wait_for(drained(), self._drain_timeout)
            console.end_output()
        except TimeoutError:
            import logging

            logging.getLogger("impl.shim.console").warning(
                "console output not drained after %.1fs (a process still holds the pty?)", self._drain_timeout)

    def close(self) -> None:
        """Release the socket, the console and its FIFOs (idempotent)."""
        self.close_child_ends()
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        if self.console is not None:
            self.console.close()
