"""``run``: the shim's main, dispatching containerd's three invocations.

``start`` and ``delete`` are short-lived processes on containerd's critical
path, so they import only flags, address helpers and what the shim itself
needs; the event loop, ttrpc and the plugin loader are imported by the
serving process alone (``_serve``).

On ``start`` stdout and stderr are one pipe whose whole content containerd
takes as the address (exit 0) or as the error text (non-zero exit): nothing
is written to either except the address, or the error on failure.
"""

from __future__ import annotations

import os
import sys

from ._flags import FlagError, HelpRequested, ShimFlags, parse_flags, usage

# ``typing`` alone is ~14 ms of a 15 ms interpreter start: the runtime path
# of start/delete does without it (mypy treats this name as always true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn, Protocol

    from google.protobuf.message import Message

    from shimtypes._shim import Init, ShimContext

    class DirectActions(Protocol):
        """``start`` and ``delete`` done without ``init`` (see ``run``)."""

        def start(self, flags: ShimFlags, /) -> str: ...

        def delete(self, flags: ShimFlags, bundle: str, /) -> bytes: ...

__all__ = ["run"]

TTRPC_ADDRESS_ENV = "TTRPC_ADDRESS"


class _OfflinePublisher:
    """The publisher ``start``/``delete`` get: there is no event loop there."""

    async def publish(self, topic: str, event: Message, /) -> None:
        raise RuntimeError(
            f"cannot publish {topic}: events are published by the serving shim, not by start/delete"
        )

    async def close(self) -> None:
        return None


def _no_shutdown() -> None:
    return None


def run(
    runtime_id: str,
    init: Init,
    *,
    argv: Sequence[str] | None = None,
    direct: DirectActions | None = None,
    preload: Sequence[str] = (),
) -> NoReturn:
    """Run the shim for ``runtime_id`` (e.g. ``io.containerd.pyrunc.v1``); never returns.

    ``argv`` defaults to ``sys.argv[1:]``. Exit status: 0 on success, 1 when
    the action failed, 2 for a bad command line. ``direct``, if given, runs
    ``start`` (returns the address) and ``delete`` (returns the encoded
    ``DeleteResponse``) instead of ``init(...).start_shim``/``.cleanup``: a
    runtime whose Shim does exactly that anyway can so keep ``shimtypes``
    (hence ``typing``) and protobuf out of those two short-lived processes.
    ``preload`` names modules a zygote (``_zygote``) imports besides the
    serving path, so the shims it forks find them imported.
    """
    zygote = os.environ.get("SHIMTYPES_ZYGOTE_SOCKET")  # _zygote.ENV_SOCKET
    if zygote:
        sys.exit(_run_zygote(runtime_id, init, zygote, preload))
    args = list(sys.argv[1:] if argv is None else argv)
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else runtime_id
    try:
        flags = parse_flags(args)
    except HelpRequested:
        sys.stderr.write(usage(prog))
        sys.exit(0)
    except FlagError as exc:
        sys.stderr.write(f"{prog}: {exc}\n{usage(prog)}")
        sys.exit(2)
    if flags.version:
        _print_version(prog, runtime_id)
        sys.exit(0)
    if flags.action == "start":
        global _serving
        _serving = (runtime_id, init)
        sys.exit(_start(runtime_id, init, flags, direct))
    if flags.action == "delete":
        sys.exit(_delete(runtime_id, init, flags, direct))
    _note_early_exit_signals()
    _import_asyncio_without_ssl()
    from ._serve import serve

    sys.exit(serve(runtime_id, init, flags))


def _run_zygote(runtime_id: str, init: Init, path: str, preload: Sequence[str]) -> int:
    """This process is a fork server: import the serving path, fork a shim per request."""
    from ._zygote import run_zygote

    def load() -> None:
        import importlib

        _import_asyncio_without_ssl()
        import impl.shim._serve  # noqa: F401

        for name in preload:
            importlib.import_module(name)

    def become(args: list[str]) -> int:
        from ._serve import serve

        flags = parse_flags(args)
        _note_early_exit_signals()
        return serve(runtime_id, init, flags)

    return run_zygote(path, become, preload=load)


_serving: tuple[str, Init] | None = None
"""What ``fork_serving`` runs: set by ``run`` for ``start`` only."""


def fork_serving(args: list[str], listener_fd: int) -> int:
    """Fork the serving process off ``start`` (no new interpreter); its pid, or 0 when not possible.

    Only under ``run``'s ``start``: the child then does what a re-executed
    ``<program> <args>`` would (new session, stdio on /dev/null, the listener
    as fd 3, SIGTERM/SIGINT held until handled), minus the interpreter
    start-up and the start path's imports (~18 ms).
    """
    if _serving is None:
        return 0
    if TYPE_CHECKING:
        import signal as _signal
    else:
        import _signal  # ``signal`` imports enum: ~5 ms of the start path
    old = _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGTERM, _signal.SIGINT})
    try:
        pid = os.fork()
        if pid == 0:
            _serve_forked(_serving, args, listener_fd)
    finally:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, old)
    return pid


def _serve_forked(serving: tuple[str, Init], args: list[str], listener_fd: int) -> NoReturn:
    from ._start import detach_serving_child, exit_with, program_command

    def body() -> int:
        detach_serving_child(listener_fd)
        command = [*program_command(), *args]
        sys.argv[1:] = args
        flags = parse_flags(args)
        _note_early_exit_signals()
        _import_asyncio_without_ssl()
        from ._serve import serve
        from ._zygote import set_cmdline

        set_cmdline(command)
        return serve(serving[0], serving[1], flags)

    exit_with(body)


EARLY_EXIT_SIGNALS: list[int] = []
"""SIGTERM/SIGINT received before the serving loop took over the signals."""


def _note_early_exit_signals() -> None:
    """Until the event loop handles them, record SIGTERM/SIGINT instead of dying.

    Imports take tens of milliseconds; a stop request arriving then is
    honoured once serving is set up, so the socket is still cleaned up.
    """
    import signal

    def note(signum: int, frame: object) -> None:
        EARLY_EXIT_SIGNALS.append(signum)

    signal.signal(signal.SIGTERM, note)
    signal.signal(signal.SIGINT, note)
    # ``start`` spawns us with both blocked, so none is lost before this point.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})


def _import_asyncio_without_ssl() -> None:
    """Import asyncio with ``ssl`` hidden: its TLS transports are never used by a shim.

    OpenSSL costs the serving process about 4 MiB of RSS (a sixth of it).
    asyncio treats a missing ``ssl`` as "no TLS"; the module is unhidden
    afterwards, so a plugin that really needs ``import ssl`` still gets it.
    """
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]
    try:
        import asyncio  # noqa: F401
    finally:
        del sys.modules["ssl"]


def shim_context(flags: ShimFlags) -> ShimContext:
    """What ``init`` is told about this invocation."""
    from shimtypes._shim import ShimContext

    return ShimContext(
        id=flags.id,
        namespace=flags.namespace,
        bundle=os.path.abspath(flags.bundle or os.getcwd()),
        address=flags.address,
        ttrpc_address=os.environ.get(TTRPC_ADDRESS_ENV, ""),
        containerd_binary=flags.publish_binary,
        debug=flags.debug,
    )


def _fail(runtime_id: str, action: str, exc: BaseException) -> int:
    detail = str(exc) or type(exc).__name__
    sys.stderr.write(f"{runtime_id}: {action}: {detail}\n")
    sys.stderr.flush()
    return 1


def _start(runtime_id: str, init: Init, flags: ShimFlags, direct: DirectActions | None) -> int:
    try:
        address = direct.start(flags) if direct is not None else _start_shim(init, flags)
        if not isinstance(address, str) or not address:
            raise RuntimeError(f"start_shim returned {address!r}, want a non-empty address")
    except Exception as exc:
        return _fail(runtime_id, "start", exc)
    sys.stdout.write(address)
    sys.stdout.flush()
    return 0


def _start_shim(init: Init, flags: ShimFlags) -> str:
    from shimtypes._shim import StartOpts

    ctx = shim_context(flags)
    shim = init(ctx, _OfflinePublisher(), _no_shutdown)
    return shim.start_shim(
        StartOpts(
            id=flags.id,
            namespace=flags.namespace,
            address=flags.address,
            ttrpc_address=ctx.ttrpc_address,
            containerd_binary=flags.publish_binary,
            debug=flags.debug,
        )
    )


def _delete(runtime_id: str, init: Init, flags: ShimFlags, direct: DirectActions | None) -> int:
    try:
        bundle = os.path.abspath(flags.bundle or os.getcwd())
        if direct is not None:
            data = direct.delete(flags, bundle)
        else:
            shim = init(shim_context(flags), _OfflinePublisher(), _no_shutdown)
            data = shim.cleanup().SerializeToString()
        _remove_dead_socket(bundle)
    except Exception as exc:
        return _fail(runtime_id, "delete", exc)
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


def _remove_dead_socket(bundle: str) -> None:
    """A shim that was killed leaves its socket behind: remove it unless someone still listens.

    A live listener is another container's shim sharing the socket (grouping)
    or a shim still shutting down, which removes its own socket.
    """
    from ._address import ADDRESS_FILE, can_connect, read_address, remove_socket

    try:
        address = read_address(os.path.join(bundle, ADDRESS_FILE))
    except OSError:
        return
    if address and not can_connect(address):
        remove_socket(address)


def _print_version(prog: str, runtime_id: str) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("shimtypes")
    except PackageNotFoundError:
        ver = "unknown"
    sys.stdout.write(
        f"{prog}:\n  Runtime:  {runtime_id}\n  Version:  {ver}\n"
        f"  Python version: {sys.version.split()[0]}\n"
    )

