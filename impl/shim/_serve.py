"""The serving shim process: containerd's shim loader loop, on asyncio.

Order, as in containerd's "shim plugins" change: subreaper, logging, signal
handlers, the child reaper, the publisher, ``init``; then the plugins already
registered in the process (``impl.plugin.register``), the event plugin
``publisher`` and, if the shim is a ``TaskService``, the ttrpc plugin
``task``, are loaded in graph order with the shim policy (root ``""``, state
the bundle). Every ``TTRPCService`` is registered on one ttrpc server that
only admits the same user, served on the listener inherited as fd 3 (or on
``-socket``). On SIGTERM/SIGINT or the shim's ``shutdown`` callback the
server stops gracefully, the socket is removed and the publisher flushed.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import socket
import stat
from collections.abc import Iterable
from typing import Any, Final

from impl.loader import LoadPolicy, load
from impl.plugin import Registration, Registry, default_registry
from impl.ttrpc import Server, require_same_user
from shimtypes import EVENT_PLUGIN, TASK_SERVICE_NAME, TTRPC_PLUGIN, TaskService, TTRPCServer
from shimtypes._shim import Init, Publisher

from ._address import ADDRESS_FILE, UNIX_PREFIX, bind_socket, read_address, remove_socket, socket_address
from ._context import shim_context
from ._flags import ShimFlags
from ._log import setup_logging
from ._process import LISTENER_FD, EarlySignals
from ._publisher import RemotePublisher
from ._reaper import Reaper

__all__ = ["SHUTDOWN_GRACE", "TaskPlugin", "serve", "set_child_subreaper", "shim_plugins"]

PR_SET_CHILD_SUBREAPER: Final = 36

SHUTDOWN_GRACE: Final = 3.0
"""Seconds in-flight calls get to finish on exit (containerd's Shutdown RPC timeout)."""

_log = logging.getLogger("impl.shim")


def set_child_subreaper() -> None:
    """Make orphaned descendants (container processes) re-parent to this process."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


class TaskPlugin:
    """The ``task`` ttrpc plugin's instance: registers a ``TaskService``."""

    def __init__(self, service: TaskService) -> None:
        self.service = service

    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        """Serve the task service as ``containerd.task.v2.Task``."""
        from impl.ttrpc import bind_task_service

        server.register_service(TASK_SERVICE_NAME, bind_task_service(self.service))


def shim_plugins(
    shim: object, publisher: Publisher, registered: Iterable[Registration[Any]] = default_registry
) -> Registry:
    """The shim's plugins in registration order, as containerd's global registry holds them.

    First what the program registered (``impl.plugin.register``), then the
    event plugin ``publisher``, then, if ``shim`` is a ``TaskService``, the
    ttrpc plugin ``task``. A duplicate URI raises ``IDRegisteredError``.
    """
    registry = Registry()
    for reg in registered:
        registry.register(reg)
    registry.register(Registration(EVENT_PLUGIN, "publisher", init=lambda ic: publisher))
    if isinstance(shim, TaskService):
        task = TaskPlugin(shim)
        registry.register(Registration(TTRPC_PLUGIN, "task", init=lambda ic: task))
    return registry


def serve(runtime_id: str, init: Init, flags: ShimFlags, early: EarlySignals | None = None) -> int:
    """Run the serving process to completion; returns the exit status.

    ``early`` holds the stop requests that arrived while the process was
    starting (see ``EarlySignals``): serving then stops at once, cleanly.
    """
    ctx = shim_context(flags)
    setup_logging(ctx.bundle, runtime_id, debug=flags.debug)
    try:
        set_child_subreaper()
    except OSError as exc:
        _log.warning("cannot become a child subreaper: %s", exc)
    try:
        return asyncio.run(_serve(init, flags, early.received if early is not None else []))
    except Exception:
        _log.exception("shim failed")
        return 1


def _listener(flags: ShimFlags) -> tuple[socket.socket, str]:
    """The listening socket and the address it is known by.

    ``-socket`` wins; else the listener ``start`` handed over as fd 3; else
    (run by hand) the conventional address is bound here.
    """
    if not flags.socket:
        inherited = _inherited_listener()
        if inherited is not None:
            return inherited
    address = flags.socket or socket_address(flags.address, flags.namespace, flags.id)
    raw = bind_socket(address)
    return socket.socket(fileno=raw.detach()), address


def _inherited_listener() -> tuple[socket.socket, str] | None:
    try:
        if not stat.S_ISSOCK(os.fstat(LISTENER_FD).st_mode):
            return None
    except OSError:
        return None
    sock = socket.socket(fileno=LISTENER_FD)
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        _log.warning("fd %d is not a unix stream socket; not serving on it", LISTENER_FD)
        sock.detach()
        return None
    name = sock.getsockname()
    address = UNIX_PREFIX + name if isinstance(name, str) and name.startswith("/") else ""
    return sock, address


async def _serve(init: Init, flags: ShimFlags, early_signals: list[int]) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def request_stop() -> None:
        try:
            loop.call_soon_threadsafe(stop.set)
        except RuntimeError:  # the loop is already closed: we are exiting anyway
            pass

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if early_signals:
        _log.info("stop requested during start-up (signal %d)", early_signals[0])
        stop.set()
    Reaper.install(loop)

    ctx = shim_context(flags)
    listener, address = _listener(flags)
    publisher = RemotePublisher(ctx.ttrpc_address, ctx.namespace)
    server = Server(peer_check=require_same_user())
    stopped = loop.create_task(stop.wait())
    try:
        shim = init(ctx, publisher, request_stop)
        result = await load(
            shim_plugins(shim, publisher).graph(),
            policy=LoadPolicy.SHIM,
            root="",
            state=ctx.bundle,
            address=ctx.address,
            ttrpc_address=ctx.ttrpc_address,
            logger=_log,
        )
        if not result.ttrpc:
            raise RuntimeError(
                "no ttrpc service loaded: the shim is not a TaskService and no ttrpc plugin was registered"
            )
        for service in result.ttrpc:
            service.register_ttrpc(server)
            _log.debug("registered ttrpc service", extra={"service": type(service).__name__})
        serving = loop.create_task(server.serve(listener), name="ttrpc-serve")
        _log.info("shim serving", extra={"address": address, "namespace": ctx.namespace, "id": ctx.id})
        done, _ = await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if serving in done:
            serving.result()  # the server failing is an error exit
        _log.info("shim shutting down")
        try:
            await asyncio.wait_for(server.shutdown(), SHUTDOWN_GRACE)
        except TimeoutError:
            # A call that never ends (a Wait on a task still running) must not hold us.
            _log.warning("ttrpc calls still running after %ss; closing connections", SHUTDOWN_GRACE)
            server.close()
        await serving
        return 0
    finally:
        stopped.cancel()
        server.close()
        listener.close()
        _remove_own_socket(address, ctx.bundle)
        await publisher.close()


def _remove_own_socket(listener_address: str, bundle: str) -> None:
    """Unlink the listener's socket file; if its path is unknown, the one in ./address."""
    address = listener_address
    if not address:
        try:
            address = read_address(os.path.join(bundle, ADDRESS_FILE))
        except OSError:
            return
    remove_socket(address)

