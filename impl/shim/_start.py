"""The default ``start_shim``: bind, hand the listener to a serving child, report.

Follows the Go/runc pattern: listen first (so containerd's dial queues in
the backlog while the child starts), re-exec this program without an action
and with the listener as fd 3 in a new session, write ``./address``, return
the address. The child's stdio is ``/dev/null``: containerd reads ``start``'s
stdout+stderr pipe until EOF, so a child holding it would block containerd.
``posix_spawn`` rather than ``subprocess`` keeps the start path light.
With ``fork=True`` the child is forked instead: by the program's
pre-imported fork server when one runs (``_zygote``), which saves the
~150 ms of a fresh interpreter importing the serving path; else from this
``start`` process itself (saves the interpreter start and start imports).
"""

from __future__ import annotations

import os
import sys

from ._address import (
    ADDRESS_FILE,
    SOCKET_DIR,
    AddressInUseError,
    bind_socket,
    remove_socket,
    socket_address,
    write_address,
)
from ._flags import ShimFlags, serve_args

ENV_ENABLE = "SHIMTYPES_ZYGOTE"
"""Unset: fork serving shims (zygote, else from ``start``); ``0``: no zygote; ``exec``: never fork."""

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Callable, Mapping, Sequence
    from typing import NoReturn

    from shimtypes._shim import StartOpts
else:
    import _signal  # ``signal`` itself imports enum: ~5 ms of the start path

__all__ = [
    "ADDRESS_FILE",
    "LISTENER_FD",
    "adjust_oom_score",
    "detach_serving_child",
    "exit_with",
    "program_command",
    "start_serving",
    "start_serving_shim",
]

LISTENER_FD = 3
"""Where the serving process finds its listening socket (Go's ExtraFiles[0])."""


def detach_serving_child(listener_fd: int) -> None:
    """In a just-forked serving shim: listener on ``LISTENER_FD``, stdio on /dev/null, own session.

    stdio must leave containerd's ``start`` pipe, which it reads until EOF.
    """
    if listener_fd != LISTENER_FD:
        os.dup2(listener_fd, LISTENER_FD)
        os.close(listener_fd)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    os.setsid()


def exit_with(body: Callable[[], int]) -> NoReturn:
    """Run a forked child's ``body`` and ``_exit`` with its code: a fork never returns."""
    code = 1
    try:
        code = body()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = 1
    finally:
        try:
            if "logging" in sys.modules:
                sys.modules["logging"].shutdown()
        finally:
            os._exit(code)


def program_command() -> list[str]:
    """The command line that re-runs this Python program, without its arguments.

    Interpreter, its options (``-X ...``, ``-m mod`` or a script path) and the
    program, taken from ``sys.orig_argv`` minus the trailing ``sys.argv[1:]``.
    """
    orig = list(sys.orig_argv)
    keep = len(orig) - (len(sys.argv) - 1)
    return [sys.executable, *orig[1:keep]]


def start_serving_shim(
    opts: StartOpts,
    *,
    command: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    socket_dir: str = SOCKET_DIR,
    reuse: bool = True,
) -> str:
    """Start the serving process for ``opts`` and return its address.

    ``command`` is the program to run (default: this one, see
    ``program_command``); the serve flags are appended. With ``reuse``, a
    live shim already on the computed socket is reused (grouping) instead of
    failing.
    """
    return start_serving(
        id=opts.id,
        namespace=opts.namespace,
        address=opts.address,
        containerd_binary=opts.containerd_binary,
        debug=opts.debug,
        command=command,
        env=env,
        socket_dir=socket_dir,
        reuse=reuse,
    )


def start_serving(
    *,
    id: str,
    namespace: str,
    address: str,
    containerd_binary: str,
    debug: bool,
    command: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    socket_dir: str = SOCKET_DIR,
    reuse: bool = True,
    fork: bool = False,
) -> str:
    """``start_serving_shim`` with the ``StartOpts`` fields spelt out (no shimtypes import).

    With ``fork`` (and the default ``command`` and ``env``), the serving
    process is forked by this program's zygote (``_zygote``) when one is
    running, else from this process (under ``run``), and a zygote is started
    for the next shim. A forked shim runs ``serve`` in a process whose
    ``main`` ran without the serve arguments (the zygote's: none; this one's:
    ``start``): only for programs that do the same before ``run`` whatever
    the action, as pyrunc does.
    ``SHIMTYPES_ZYGOTE=0`` in the environment turns this off.
    """
    grpc_address = address
    address = socket_address(grpc_address, namespace, id, socket_dir=socket_dir)
    try:
        listener = bind_socket(address)
    except AddressInUseError:
        if not reuse:
            raise
        write_address(ADDRESS_FILE, address)
        return address
    try:
        program = list(command) if command is not None else program_command()
        args = serve_args(
            ShimFlags(namespace, id, grpc_address, publish_binary=containerd_binary or "containerd", debug=debug)
        )
        environ = os.environ if env is None else env
        pid, zygote_missing = 0, ""
        if fork and command is None and env is None:
            pid, zygote_missing = _via_zygote(program, args, environ, listener.fileno())
        if not pid and fork and command is None and env is None and environ.get(ENV_ENABLE) != "exec":
            from ._runner import fork_serving

            pid = fork_serving(args, listener.fileno())
        if not pid:
            pid = _spawn(program + args, listener.fileno(), environ)
        adjust_oom_score(pid)
        write_address(ADDRESS_FILE, address)
    except BaseException:
        remove_socket(address)
        raise
    finally:
        listener.close()
    if zygote_missing:
        # After this shim's own spawn, so it does not wait for this one.
        from ._zygote import spawn_zygote

        spawn_zygote(program, environ, zygote_missing)
    return address


def _via_zygote(program: list[str], args: list[str], env: Mapping[str, str], listener_fd: int) -> tuple[int, str]:
    """(pid of a shim forked by the zygote, "") or (0, the zygote socket to start one on)."""
    from . import _zygote

    if not _zygote.enabled(env):
        return 0, ""
    path = _zygote.zygote_path(program, env)
    try:
        return _zygote.request_shim(path, args, os.getcwd(), listener_fd, env=env), ""
    except _zygote.ZygoteUnavailable:
        return 0, path


def adjust_oom_score(pid: int) -> None:
    """Give the shim containerd's OOM score plus one, as Go shims do; best effort.

    ``start``'s parent is containerd, so the kernel's OOM killer picks the
    shim before the daemon. Unprivileged runs cannot lower scores: ignored.
    """
    try:
        with open(f"/proc/{os.getppid()}/oom_score_adj", "rb") as f:
            score = int(f.read())
        with open(f"/proc/{pid}/oom_score_adj", "wb") as f:
            f.write(str(min(score + 1, 1000)).encode())
    except (OSError, ValueError):
        pass


def _spawn(argv: list[str], listener_fd: int, env: Mapping[str, str]) -> int:
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        actions: list[tuple[int, int, int] | tuple[int, int, str, int, int]] = [
            (os.POSIX_SPAWN_DUP2, devnull, 0),
            (os.POSIX_SPAWN_DUP2, devnull, 1),
            (os.POSIX_SPAWN_DUP2, devnull, 2),
        ]
        if listener_fd == LISTENER_FD:
            os.set_inheritable(listener_fd, True)
        else:
            actions.append((os.POSIX_SPAWN_DUP2, listener_fd, LISTENER_FD))
        # SIGTERM/SIGINT stay blocked (pending) until the runner can handle
        # them: a stop request during start-up must not leave the socket behind.
        blocked = {_signal.SIGTERM, _signal.SIGINT}
        spawn = os.posix_spawn if os.sep in argv[0] else os.posix_spawnp
        return spawn(argv[0], argv, env, file_actions=actions, setsid=True, setsigmask=blocked)
    finally:
        os.close(devnull)
