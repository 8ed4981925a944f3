"""Starting the serving process: bind, hand the listener to a serving child, report.

Follows the Go/runc pattern: listen first (so containerd's dial queues in
the backlog while the child starts), start the serving process without an
action and with the listener as fd 3 in a new session, write ``./address``,
return the address. The child's stdio is ``/dev/null``: containerd reads
``start``'s stdout+stderr pipe until EOF, so a child holding it would block
containerd. ``posix_spawn`` rather than ``subprocess`` keeps the start path
light. The child is re-executed (``exec``), forked from this process
(``fork``: saves the interpreter start and the start imports), or forked by
the program's pre-imported zygote (``zygote``: also saves importing the
serving path, the largest fixed cost; README's shim bench); see ``ShimOptions``.
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
from ._process import LISTENER_FD, detach_serving_child, exit_with, program_command
from .zygote._client import ENV_ENABLE, ForkedShim, ZygoteClient, ZygoteUnavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Callable, Mapping, Sequence

    from shimtypes._shim import StartOpts
else:
    import _signal  # ``signal`` itself imports enum, a large share of the start path's imports

__all__ = ["ADDRESS_FILE", "GROUP_ANNOTATIONS", "adjust_oom_score", "group_of", "start_serving", "start_serving_shim"]

GROUP_ANNOTATIONS = ("io.containerd.runc.v2.group", "io.kubernetes.cri.sandbox-id")
"""Spec annotations naming the shim group (a pod), first match wins: runc's own, then CRI's sandbox."""


def group_of(bundle: str) -> str:
    """The group the container in ``bundle`` belongs to (``GROUP_ANNOTATIONS`` of its ``config.json``), or "".

    A container of a group is served by the group's shim: ``start`` answers
    the address computed from the group id instead of starting another.
    """
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return ""
    if b"io.containerd.runc.v2.group" not in data and b"io.kubernetes.cri.sandbox-id" not in data:
        return ""  # the common case decides without importing json
    import json

    from .._jsonvalue import is_object

    try:
        spec: object = json.loads(data)
    except ValueError as err:
        raise ValueError(f"{path}: not an OCI spec: {err}") from None
    if not is_object(spec):
        raise ValueError(f"{path}: not an OCI spec: a JSON {type(spec).__name__}, not an object")
    annotations = spec.get("annotations")
    for key in GROUP_ANNOTATIONS:
        value = annotations.get(key) if is_object(annotations) else None
        if isinstance(value, str) and value:
            return value
    return ""


def start_serving_shim(
    opts: StartOpts,
    *,
    command: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    socket_dir: str = SOCKET_DIR,
    reuse: bool = True,
) -> str:
    """Start the serving process for ``opts`` (re-executed) and return its address.

    The usual body of ``Shim.start_shim``. ``command`` is the program to run
    (default: this one, see ``program_command``); the serve flags are
    appended. With ``reuse``, a live shim already on the computed socket is
    reused (grouping) instead of failing. Forking (zygote or from ``start``)
    is chosen with ``ShimOptions.serving`` instead: the runner then starts
    the shim without calling ``init``.
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
    serving: str = "exec",
    become: Callable[[list[str]], int] | None = None,
) -> str:
    """``start_serving_shim`` with the ``StartOpts`` fields spelt out (no shimtypes import).

    ``serving`` is ``exec``, ``fork`` or ``zygote`` (see ``ShimOptions``);
    forking needs ``become(args)``, the serving process's body, and the
    default ``command`` and ``env``. ``SHIMTYPES_ZYGOTE`` in the environment
    downgrades the mode (``0``: no zygote; ``exec``: no fork). A container
    of a group (``group_of`` the working directory, the bundle) gets the
    group's socket: its live shim is answered, else one is started there.
    """
    grpc_address = address
    group = group_of(os.getcwd()) or id
    address = socket_address(grpc_address, namespace, group, socket_dir=socket_dir)
    try:
        listener = bind_socket(address)
    except AddressInUseError:
        if not reuse:
            raise
        write_address(ADDRESS_FILE, address)
        return address
    zygote: ZygoteClient | None = None
    forked: ForkedShim | None = None
    pid = 0
    own_child = False
    try:
        program = list(command) if command is not None else program_command()
        args = serve_args(
            ShimFlags(namespace, id, grpc_address, publish_binary=containerd_binary or "containerd", debug=debug)
        )
        environ = os.environ if env is None else env
        mode = _effective_mode(serving, environ)
        if command is not None or env is not None or become is None:
            mode = "exec"
        if mode == "zygote":
            client = ZygoteClient.for_program(program, environ)
            try:
                forked = client.request(args, os.getcwd(), listener.fileno(), env=environ)
                pid = forked.pid
            except ZygoteUnavailable:
                zygote = client
        if not pid and mode != "exec" and become is not None:
            pid, own_child = _fork_serving(program, args, listener.fileno(), become), True
        if not pid:
            pid, own_child = _spawn(program + args, listener.fileno(), environ), True
        adjust_oom_score(pid)
        write_address(ADDRESS_FILE, address)
        if forked is not None:
            forked.release()  # only now may it serve: start succeeded and has its pid
    except BaseException:
        # Go's start kills the shim it started when it fails afterwards: so do we.
        if forked is not None:
            forked.abandon()
        if pid:
            _kill(pid, reap=own_child)
        remove_socket(address)
        raise
    finally:
        listener.close()
    if zygote is not None:
        # After this shim's own start, so it does not wait for this one.
        zygote.spawn(program, environ)
    return address


def _kill(pid: int, *, reap: bool) -> None:
    """SIGKILL a shim this failed ``start`` started; reap it if it is our child."""
    try:
        os.kill(pid, _signal.SIGKILL)
        if reap:
            os.waitpid(pid, 0)
    except OSError:
        pass


def _effective_mode(serving: str, env: Mapping[str, str]) -> str:
    if serving not in ("exec", "fork", "zygote"):
        raise ValueError(f"serving mode {serving!r}: want exec, fork or zygote")
    override = env.get(ENV_ENABLE)
    if override == "exec":
        return "exec"
    if override == "0" and serving == "zygote":
        return "fork"
    return serving


def _fork_serving(program: list[str], args: list[str], listener_fd: int, become: Callable[[list[str]], int]) -> int:
    """Fork the serving process off ``start`` (no new interpreter); its pid.

    The child does what a re-executed ``<program> <args>`` would (new
    session, stdio on /dev/null, the listener as fd 3, SIGTERM/SIGINT held
    until handled), minus the interpreter start-up and the start imports.
    """
    old = _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGTERM, _signal.SIGINT})
    try:
        pid = os.fork()
        if pid == 0:

            def body() -> int:
                from .zygote._cmdline import set_cmdline

                detach_serving_child(listener_fd)
                sys.argv[1:] = args
                set_cmdline([*program, *args])
                return become(args)

            exit_with(body)
    finally:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, old)
    return pid


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
