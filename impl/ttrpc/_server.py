"""asyncio ttrpc server over unix sockets, on top of ServerConnection.

Owns listeners and the set of live connections (``ServerProtocol``, one per
connection), and the shutdown/close sequence across them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import stat
from collections.abc import Callable, Mapping

from shimtypes import PeerCredentials, TTRPCMethod

from ._server_protocol import Connections, ServerProtocol
from ._stream import StreamMethod
from ._unix import listen_backlog, sockaddr

__all__ = ["Server"]

log = logging.getLogger("impl.ttrpc")

PeerCheck = Callable[[PeerCredentials], bool]


class Server:
    """A ttrpc server; satisfies ``shimtypes.TTRPCServer``.

    ``serve`` may be called for several listeners; each call returns once the
    server has been shut down or closed. Handlers run concurrently inside
    worker tasks (``asyncio.current_task()``, ``asyncio.timeout`` and
    cancellation behave as usual); calls on one connection may share a
    contextvars context, so set context variables per call, not once.
    """

    def __init__(
        self,
        *,
        peer_check: PeerCheck | None = None,
        logger: logging.Logger | None = None,
        legacy: bool = False,
    ) -> None:
        """``legacy=True`` applies Go ttrpc 1.1.1's rules to incoming frames
        (see ServerConnection): reused stream ids accepted, Data ignored."""
        self._services: dict[str, dict[str, TTRPCMethod | StreamMethod]] = {}
        self._log = logger or log
        self._shared = Connections(self._services, peer_check, self._log, legacy)
        self._listeners: list[asyncio.AbstractServer] = []
        self._paths: list[tuple[str, int, int]] = []
        self._done: asyncio.Event | None = None
        self._finished = False

    # -- registration ---------------------------------------------------

    def register_service(self, name: str, methods: Mapping[str, TTRPCMethod | StreamMethod], /) -> None:
        """Add a service: unary methods and StreamMethods by wire name.

        Registering the same name twice is an error (as in Go).
        """
        if name in self._services:
            raise ValueError(f"ttrpc: duplicate service {name} registered")
        self._services[name] = dict(methods)

    # -- lifecycle ------------------------------------------------------

    async def serve(self, target: str | os.PathLike[str] | socket.socket) -> None:
        """Serve on a path, an ``@abstract`` name, or a bound listening socket.

        Returns after ``shutdown()`` or ``close()``.
        """
        await self.listen(target)
        await self.wait_closed()

    async def listen(self, target: str | os.PathLike[str] | socket.socket) -> None:
        """Start accepting on ``target`` and return once it is listening.

        ``serve`` is ``listen`` + ``wait_closed``; this split lets a caller
        publish the address only after the socket accepts connections.
        """
        if self._shared.closing:
            raise RuntimeError("ttrpc: server closed")
        loop = asyncio.get_running_loop()
        if self._done is None:
            self._done = asyncio.Event()
        backlog = listen_backlog()  # also re-listens an inherited socket with it
        if isinstance(target, socket.socket):
            listener = await loop.create_unix_server(self._protocol, sock=target, backlog=backlog)
        else:
            addr = sockaddr(os.fspath(target))
            if addr.startswith("\0"):
                # Bound here: uvloop takes no abstract name as a path.
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.bind(addr)
                except BaseException:
                    sock.close()
                    raise
                listener = await loop.create_unix_server(self._protocol, sock=sock, backlog=backlog)
            else:
                listener = await loop.create_unix_server(self._protocol, path=addr, backlog=backlog)
                st = os.stat(addr)
                self._paths.append((addr, st.st_dev, st.st_ino))
        self._listeners.append(listener)
        if self.closing:  # closed while we were binding
            self._stop_listening()

    async def wait_closed(self) -> None:
        """Return once ``shutdown()`` has finished or ``close()`` was called."""
        if self._finished:
            return
        if self._done is None:
            self._done = asyncio.Event()
        await self._done.wait()

    async def shutdown(self, *, timeout: float | None = None) -> None:
        """Stop accepting, let in-flight calls finish, then close connections.

        A connection closes once it has no call running, after its responses
        are written; like Go, a busy connection still takes new requests.
        With ``timeout``, whatever still runs after that many seconds is
        ended as by ``close()``.
        """
        shared = self._shared
        shared.closing = True
        self._stop_listening()
        if shared.idle is None:
            shared.idle = asyncio.Event()
        for conn in list(shared.live):
            conn.close_when_idle()
        if shared.live:
            try:
                await asyncio.wait_for(shared.idle.wait(), timeout)
            except TimeoutError:
                self._log.warning("ttrpc: shutdown timed out; closing busy connections")
                self.close()
        self._finish()

    def close(self) -> None:
        """Close listeners and connections now; running handlers are cancelled.

        Replies already written are flushed, except to a peer that has stopped
        reading them: that connection is dropped rather than left open.
        """
        self._shared.closing = True
        self._stop_listening()
        for conn in list(self._shared.live):
            conn.abort()
        self._finish()

    @property
    def closing(self) -> bool:
        """True once shutdown() or close() has begun."""
        return self._shared.closing

    # -- internals ------------------------------------------------------

    def _protocol(self) -> ServerProtocol:
        return ServerProtocol(self._shared)

    def _stop_listening(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        for path, dev, ino in self._paths:
            try:
                st = os.stat(path)
                if st.st_dev == dev and st.st_ino == ino and stat.S_ISSOCK(st.st_mode):
                    os.unlink(path)
            except OSError:
                pass
        self._paths.clear()

    def _finish(self) -> None:
        self._finished = True
        if self._done is not None:
            self._done.set()

    @property
    def _conns(self) -> set[ServerProtocol]:
        """The live connections (for tests and debugging)."""
        return self._shared.live
