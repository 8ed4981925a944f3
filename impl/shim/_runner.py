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
from ._options import ShimOptions
from .zygote._client import ENV_SOCKET

# ``typing`` alone costs about as much as the interpreter's own start: the runtime path
# of start/delete does without it (mypy treats this name as always true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import NoReturn

    from google.protobuf.message import Message

    from shimtypes._shim import Init

__all__ = ["run"]

_DEFAULT_OPTIONS = ShimOptions()


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
    options: ShimOptions = _DEFAULT_OPTIONS,
) -> NoReturn:
    """Run the shim for ``runtime_id`` (e.g. ``io.containerd.pyrunc.v1``); never returns.

    ``argv`` defaults to ``sys.argv[1:]``. Exit status: 0 on success, 1 when
    the action failed, 2 for a bad command line. ``options`` (see
    ``ShimOptions``) make ``start`` and ``delete`` cheaper: the standard
    start with a forked or zygote-made serving process, a ``cleanup`` that
    needs no ``init``, modules a zygote preloads. Run as the program (``argv``
    omitted), ``start``, ``delete`` and ``-info`` end with ``os._exit`` once
    ``atexit`` handlers ran and stdio is flushed: no interpreter teardown.
    """
    _Runner(runtime_id, init, options).main(argv)


class _Runner:
    """What one program's ``run`` was given; every action gets it explicitly from here."""

    def __init__(self, runtime_id: str, init: Init, options: ShimOptions) -> None:
        self.runtime_id = runtime_id
        self.init = init
        self.options = options

    def main(self, argv: Sequence[str] | None) -> NoReturn:
        zygote = os.environ.get(ENV_SOCKET)
        if zygote:
            sys.exit(self.zygote(zygote))
        args = list(sys.argv[1:] if argv is None else argv)
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else self.runtime_id
        try:
            flags = parse_flags(args)
        except HelpRequested:
            sys.stderr.write(usage(prog))
            sys.exit(0)
        except FlagError as exc:
            sys.stderr.write(f"{prog}: {exc}\n{usage(prog)}")
            sys.exit(2)
        if flags.version:
            _print_version(prog, self.runtime_id)
            sys.exit(0)
        # The short-lived actions skip the interpreter's teardown when this is the
        # program's own command line (an in-process caller gets SystemExit).
        leave: Callable[[int], NoReturn] = sys.exit
        if argv is None:
            leave = _leave
        if flags.info:
            leave(self.info())
        if flags.action == "start":
            leave(self.start(flags))
        if flags.action == "delete":
            leave(self.delete(flags))
        sys.exit(self.serve(flags))

    # -- the serving process ---------------------------------------------------

    def serve(self, flags: ShimFlags) -> int:
        from ._process import EarlySignals, import_asyncio_without_ssl

        early = EarlySignals.install()
        import_asyncio_without_ssl()
        from ._serve import serve

        return serve(self.runtime_id, self.init, flags, early, before=self.options.before_serve)

    def become(self, args: list[str]) -> int:
        """The body of a forked serving process (from ``start`` or a zygote)."""
        return self.serve(parse_flags(args))

    def zygote(self, path: str) -> int:
        """This process is a fork server: import the serving path, fork a shim per request."""
        from .zygote import Zygote

        return Zygote(path, self.become, preload=self.preload).serve()

    def preload(self) -> None:
        import importlib

        from ._process import import_asyncio_without_ssl

        import_asyncio_without_ssl()
        # What every serving shim imports before its first reply: the serving
        # path, the usual ``Shim`` (``TaskShim``) and the cgroup helper.
        for name in ("impl.shim._serve", "impl.shim._task_shim", "impl.shim._cgroup"):
            importlib.import_module(name)
        for name in self.options.preload:
            importlib.import_module(name)

    # -- start -------------------------------------------------------------------

    def start(self, flags: ShimFlags) -> int:
        try:
            received = None
            data = _read_stdin()
            if data:
                from ._bootstrap import parse_start_stdin, write_options_file

                received = parse_start_stdin(data, flags.id, flags.namespace)
                write_options_file(os.path.abspath(flags.bundle or os.getcwd()), received.options)
            if self.options.serving is not None:
                from ._address import SOCKET_DIR
                from ._start import start_serving

                address = start_serving(
                    socket_dir=received.socket_dir if received is not None and received.socket_dir else SOCKET_DIR,
                    id=flags.id,
                    namespace=flags.namespace,
                    address=flags.address,
                    containerd_binary=flags.publish_binary,
                    debug=flags.debug,
                    serving=self.options.serving,
                    become=self.become,
                )
            else:
                address = self._start_shim(flags)
            if not _is_address(address):  # untyped runtimes exist: check what really came back
                raise RuntimeError(f"start_shim returned {address!r}, want a non-empty address")
            version = _shim_version(self.options.shim_version)
        except Exception as exc:
            return _fail(self.runtime_id, "start", exc)
        if received is not None and received.bootstrap:
            from ._bootstrap import encode_bootstrap_result

            sys.stdout.buffer.write(encode_bootstrap_result(version, address))
        elif version == 3:
            sys.stdout.write(f'{{"version":3,"address":"{_json_escape(address)}","protocol":"ttrpc"}}')
        else:
            sys.stdout.write(address)
        sys.stdout.flush()
        return 0

    # -- -info -------------------------------------------------------------------

    def info(self) -> int:
        """``-info`` (containerd 2.x): a ``RuntimeInfo`` on stdout, the stdin options echoed; no asyncio."""
        from ._bootstrap import encode_runtime_info

        try:
            data = _read_stdin()
            sys.stdout.buffer.write(encode_runtime_info(self.runtime_id, _package_version(), options=data or None))
        except Exception as exc:
            return _fail(self.runtime_id, "info", exc)
        sys.stdout.buffer.flush()
        return 0

    def _start_shim(self, flags: ShimFlags) -> str:
        from shimtypes._shim import StartOpts

        from ._context import shim_context

        ctx = shim_context(flags)
        shim = self.init(ctx, _OfflinePublisher(), _no_shutdown)
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

    # -- delete ------------------------------------------------------------------

    def delete(self, flags: ShimFlags) -> int:
        try:
            bundle = os.path.abspath(flags.bundle or os.getcwd())
            cleanup = self.options.cleanup
            if cleanup is not None:
                from ._delete_wire import encode_delete_response

                pid, status, exited_ns = cleanup(bundle, flags.namespace, flags.id)
                data = encode_delete_response(pid, status, divmod(exited_ns, 1_000_000_000))
            else:
                from ._context import shim_context

                shim = self.init(shim_context(flags), _OfflinePublisher(), _no_shutdown)
                data = shim.cleanup().SerializeToString()
            _remove_dead_socket(bundle)
        except Exception as exc:
            return _fail(self.runtime_id, "delete", exc)
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0


SHIM_VERSION_ENV = "SHIMTYPES_SHIM_VERSION"
"""Overrides ``ShimOptions.shim_version`` (``2`` or ``3``) for one install."""


def _is_address(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _shim_version(default: int) -> int:
    value = os.environ.get(SHIM_VERSION_ENV, "")
    if not value:
        return default
    if value not in ("2", "3"):
        raise ValueError(f"{SHIM_VERSION_ENV}={value!r}: want 2 or 3")
    return int(value)


def _json_escape(text: str) -> str:
    return "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in text)


def _read_stdin() -> bytes:
    """All of stdin when containerd gave a pipe or file (``/dev/null`` reads empty); nothing from a terminal."""
    try:
        if os.isatty(0):
            return b""
        chunks: list[bytes] = []
        while True:
            chunk = os.read(0, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except OSError:
        return b""


def _leave(code: int) -> NoReturn:
    """End a ``start``/``delete``/``-info`` process: exit handlers, flushed stdio, then ``_exit``.

    The interpreter's teardown (module and object destruction) is most of
    what is left of such a process once its answer is written, and containerd
    waits for the process to exit before it reads the answer.
    """
    import atexit

    try:
        # No public API runs the exit handlers without the interpreter's teardown, which is what is skipped.
        atexit._run_exitfuncs()  # pyright: ignore[reportPrivateUsage]
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        sys.exit(code)  # let the ordinary exit report what went wrong
    os._exit(code)


def _fail(runtime_id: str, action: str, exc: BaseException) -> int:
    detail = str(exc) or type(exc).__name__
    sys.stderr.write(f"{runtime_id}: {action}: {detail}\n")
    sys.stderr.flush()
    return 1


def _remove_dead_socket(bundle: str, checks: int = 10, interval: float = 0.02) -> None:
    """A shim that was killed leaves its socket behind: remove it unless someone still listens.

    A live listener is another container's shim sharing the socket (grouping)
    or a shim still shutting down, which removes its own socket. A killed
    shim's listener can outlive the connection whose close made containerd
    run ``delete`` by a few milliseconds (the kernel releases a dead
    process's files in no set order), so a listener must still answer after
    ``checks`` tries ``interval`` seconds apart to count as live.
    """
    from ._address import ADDRESS_FILE, can_connect, read_address, remove_socket

    try:
        address = read_address(os.path.join(bundle, ADDRESS_FILE))
    except OSError:
        return
    if not address:
        return
    for attempt in range(checks):
        if not can_connect(address):
            remove_socket(address)
            return
        if attempt + 1 < checks:
            import time

            time.sleep(interval)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shimtypes")
    except PackageNotFoundError:
        return "unknown"


def _print_version(prog: str, runtime_id: str) -> None:
    ver = _package_version()
    sys.stdout.write(
        f"{prog}:\n  Runtime:  {runtime_id}\n  Version:  {ver}\n"
        f"  Python version: {sys.version.split()[0]}\n"
    )
