"""A fork server ("zygote") for serving shims: a new shim costs a fork, not an interpreter.

Re-executing the shim for every container means a fresh interpreter that
imports asyncio, protobuf, ttrpc and the loader (~150 ms) while containerd
waits for its first call. A zygote is a pre-imported, idle process per
(uid, program, environment); ``start`` hands it the bound listener over
SCM_RIGHTS with the serve flags and the bundle, and it forks a detached
serving shim (own session, stdio on /dev/null; reaped by the zygote, by init
once the zygote is gone), so each container still has its own shim process.

It lives in ``/run/shimtypes/zygote`` (mode 0700, owned by the user), one per key
guarded by an flock, and exits after ``SHIMTYPES_ZYGOTE_IDLE`` seconds
without requests (default 30), or as soon as a module file it imported
changed on disk (an upgrade or an edit: checked per request, ~0.3 ms); the
key also covers the program's files. When no zygote answers, ``start``
forks the shim itself and starts a zygote for next time.
``SHIMTYPES_ZYGOTE=0`` turns zygotes off (``start`` still forks the shim);
``exec`` turns forking off (every serving shim re-executed).

The client half runs in ``start`` and so uses ``_socket``/``_sha256`` only;
the server half runs in the zygote, where everything is imported anyway.
"""

from __future__ import annotations

import os
import sys

from ._start import ENV_ENABLE as ENV_ENABLE

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Mapping, Sequence
    from typing import NoReturn

__all__ = [
    "ENV_ENABLE",
    "ENV_IDLE",
    "ENV_SOCKET",
    "ZYGOTE_DIR",
    "ZygoteUnavailable",
    "enabled",
    "request_shim",
    "run_zygote",
    "set_cmdline",
    "spawn_zygote",
    "zygote_path",
]

ZYGOTE_DIR = "/run/shimtypes/zygote"
"""Its own directory: the host's /run/shimtypes is 0711, a zygote's must be 0700."""
ENV_SOCKET = "SHIMTYPES_ZYGOTE_SOCKET"
"""Set only for the zygote process itself: the socket it serves."""
ENV_IDLE = "SHIMTYPES_ZYGOTE_IDLE"
DEFAULT_IDLE = 30.0
REPLY_TIMEOUT = 5.0
_MAX_REQUEST = 1 << 16
_INT = 4  # sizeof(int): one fd in SCM_RIGHTS


class ZygoteUnavailable(OSError):
    """No usable zygote took the request: nothing was started, re-execute instead."""


def enabled(env: Mapping[str, str]) -> bool:
    return env.get(ENV_ENABLE, "1") not in ("0", "exec")


_PER_SHIM = ("PWD", "OLDPWD", "_")
"""Shell bookkeeping, not configuration: out of the key, sent with each request instead."""
_UNKEYED = frozenset({ENV_SOCKET, *_PER_SHIM})


def zygote_path(command: Sequence[str], env: Mapping[str, str], *, directory: str = ZYGOTE_DIR) -> str:
    """The zygote socket for this user, program and environment.

    The environment is part of the key (containerd's, plus ``TTRPC_ADDRESS``):
    a shim forked from the zygote inherits the zygote's, so it must be the
    one ``start`` would have passed on (``_PER_SHIM`` variables excepted: each
    request carries their values). So is a stamp of the code: after an
    upgrade, new shims come from a new zygote, never from one still running
    the old modules.
    """
    if TYPE_CHECKING:
        from hashlib import sha256
    else:
        try:
            from _sha256 import sha256
        except ImportError:  # pragma: no cover - depends on the interpreter build
            from hashlib import sha256
    h = sha256(f"uid={os.getuid()}\0{_code_stamp(command)}\0".encode())
    for part in (*command, "", *sorted(f"{k}={v}" for k, v in env.items() if k not in _UNKEYED)):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return os.path.join(directory, f"z-{h.hexdigest()[:32]}")


def _code_stamp(command: Sequence[str]) -> str:
    """mtime/inode of this package's directory and of the program's files (a few stat calls)."""
    stamp = []
    for path in (os.path.dirname(os.path.abspath(__file__)), *command):
        try:
            st = os.stat(path)
        except OSError:
            continue
        stamp.append(f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")
    return ",".join(stamp)


def _private_dir(directory: str) -> bool:
    """Whether ``directory`` is ours alone (else someone else could pose as the zygote)."""
    try:
        st = os.stat(directory)
    except OSError:
        return False
    return st.st_uid == os.getuid() and st.st_mode & 0o077 == 0


# -- client (the ``start`` process) --------------------------------------------


def request_shim(
    path: str,
    args: Sequence[str],
    cwd: str,
    listener_fd: int,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = REPLY_TIMEOUT,
) -> int:
    """Have the zygote at ``path`` fork a serving shim on ``listener_fd``; returns its pid.

    The shim runs in ``cwd`` with the zygote's environment (the same but for
    ``_PER_SHIM``, see ``zygote_path``) and ``env``'s values of ``_PER_SHIM``
    (default: this process's), so it sees what ``start`` saw.
    Raises ``ZygoteUnavailable`` when nothing was started (no zygote, not
    ours, it refused, or it went away before forking): re-execute instead.
    Raises ``RuntimeError`` when it took the request but did not answer in
    ``timeout`` (a shim may exist: do not start another on the listener).
    """
    import _socket

    if not _private_dir(os.path.dirname(path)):
        raise ZygoteUnavailable(f"{os.path.dirname(path)}: missing or not private")
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        try:
            sock.settimeout(timeout)
            sock.connect(path)
            creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 3 * _INT)
            if int.from_bytes(creds[_INT : 2 * _INT], sys.byteorder) != os.getuid():
                raise ZygoteUnavailable(f"{path}: zygote runs as another user")
            given = os.environ if env is None else env
            own = [f"{k}={given[k]}" for k in _PER_SHIM if k in given]
            request = "\0".join((cwd, str(len(own)), *own, *args)).encode("utf-8", "surrogateescape")
            fd = listener_fd.to_bytes(_INT, sys.byteorder)
            sock.sendmsg([request], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd)])
        except ZygoteUnavailable:
            raise
        except OSError as exc:
            raise ZygoteUnavailable(f"{path}: {exc}") from exc
        try:
            reply = sock.recv(256)
        except TimeoutError:
            raise RuntimeError(f"zygote {path} took the request but did not answer in {timeout}s") from None
        except OSError as exc:
            # Reset before any answer: the zygote died with the request unread.
            raise ZygoteUnavailable(f"{path}: {exc}") from exc
    finally:
        sock.close()
    text = reply.decode(errors="replace")
    if not text.isdigit():
        # Closed without a pid, or an error reply: either way no shim was forked.
        raise ZygoteUnavailable(f"{path}: {text or 'closed without an answer'}")
    return int(text)


def spawn_zygote(command: Sequence[str], env: Mapping[str, str], path: str) -> None:
    """Start a zygote for ``path`` in the background (detached, stdio on /dev/null); best effort."""
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not _private_dir(directory):
            return
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
        spawn = os.posix_spawn if os.sep in command[0] else os.posix_spawnp
        spawn(command[0], list(command), {**env, ENV_SOCKET: path}, file_actions=actions, setsid=True)
    except OSError:
        pass
    finally:
        os.close(devnull)


# -- server (the zygote process) -----------------------------------------------


def run_zygote(
    path: str, become: Callable[[list[str]], int], *, preload: Callable[[], object] | None = None
) -> int:
    """Serve fork requests on ``path`` until idle; ``become(args)`` runs in each new shim.

    ``preload`` runs once the zygote is known to be the only one for
    ``path`` (an flock), before it starts listening.
    """
    import fcntl

    os.environ.pop(ENV_SOCKET, None)  # the shims it forks are not zygotes
    os.chdir("/")
    idle = float(os.environ.get(ENV_IDLE, DEFAULT_IDLE))
    lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        return 0  # another zygote for this key is starting or serving
    global _lock_fd, _path, _ino, _watched
    _lock_fd = lock
    if preload is not None:
        preload()
    import gc
    import select
    import signal

    _watched = _module_files()
    # SIGTERM/SIGINT end the zygote cleanly (socket unlinked, queued requests
    # served). Its shims replace the handlers before unblocking the signals.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    signal.signal(signal.SIGCHLD, _reap_children)
    sock, _ino = _bind(path)
    _path = path
    gc.collect()
    gc.freeze()  # imported objects stay out of the collector: pages stay shared with the shims
    _trim_heap()
    try:
        while _lock_fd >= 0 and select.select([sock], [], [], idle)[0]:
            _accept(sock, become)
    finally:
        # Retire first (socket unlinked, lock released), then answer what
        # already queued with a refusal: those clients re-execute.
        _retire()
        sock.setblocking(False)
        while _accept(sock, become):
            pass
        sock.close()
    return 0


_lock_fd = -1
"""The zygote's flock (-1 once retired): the shims it forks must not hold it."""
_path = ""
_ino = 0
_watched: list[tuple[str, int]] = []
"""(file, mtime_ns) of the non-stdlib modules the zygote imported."""


def _retire() -> None:
    """Stop being the zygote for ``_path``: unlink the socket (if still ours), release the lock."""
    global _lock_fd
    if _lock_fd < 0:
        return
    try:
        if os.stat(_path).st_ino == _ino:
            os.unlink(_path)
            os.unlink(_path + ".lock")  # still held: a racing newcomer locks its own file
    except OSError:
        pass
    os.close(_lock_fd)
    _lock_fd = -1


def _module_files() -> list[tuple[str, int]]:
    files = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name.partition(".")[0] in sys.stdlib_module_names or not isinstance(path, str):
            continue
        try:
            files.append((path, os.stat(path).st_mtime_ns))
        except OSError:
            pass
    return files


def _code_changed() -> bool:
    """Whether a module file changed since the zygote imported it (an edit or an upgrade)."""
    for path, mtime in _watched:
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return True
        except OSError:
            return True
    return False


def _trim_heap() -> None:
    """Hand free heap pages back (malloc_trim): every forked shim would map them (~0.3 MiB)."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _bind(path: str) -> tuple[socket.socket, int]:
    import socket

    tmp = f"{path}.{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    old = os.umask(0o177)
    try:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        sock.bind(tmp)
    finally:
        os.umask(old)
    sock.listen(64)
    ino = os.stat(tmp).st_ino
    os.rename(tmp, path)  # replaces a dead zygote's socket; we hold the lock
    return sock, ino


def _accept(sock: socket.socket, become: Callable[[list[str]], int]) -> bool:
    """Take one request; False when none can be taken now (the draining loop stops)."""
    try:
        conn, _ = sock.accept()
    except ConnectionAbortedError:
        return True  # that client gave up; others may be queued
    except OSError:
        # Nothing queued (non-blocking), or a lasting error such as EMFILE:
        # draining must not spin on it.
        return False
    fds: list[int] = []
    try:
        conn.settimeout(2.0)
        fds, cwd, env, args = _read_request(conn)
        if len(fds) != 1:
            raise ValueError(f"want one listener fd, got {len(fds)}")
        _check_listener(fds[0])
        if _lock_fd < 0:
            raise ValueError("zygote retired: idle or stopping")
        if _code_changed():
            # Our modules are not what is on disk any more: let a new zygote load them.
            _retire()
            raise ValueError("zygote retired: its code changed on disk")
        _fork(sock, conn, fds[0], cwd, env, args, become)
    except (OSError, ValueError) as exc:
        try:
            conn.send(f"error: {exc}".encode()[:256])
        except OSError:
            pass
    finally:
        for fd in fds:
            os.close(fd)
        conn.close()
    return True


def _check_listener(fd: int) -> None:
    """A listening unix stream socket, or ``ValueError``: a shim must not start on anything else."""
    import socket

    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ValueError(f"listener fd: {exc}") from None
    try:
        ok = (
            sock.family == socket.AF_UNIX
            and sock.type == socket.SOCK_STREAM
            and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        )
    finally:
        sock.detach()
    if not ok:
        raise ValueError("listener fd is not a listening unix stream socket")


def _read_request(conn: socket.socket) -> tuple[list[int], str, dict[str, str], list[str]]:
    """(fds, cwd, ``_PER_SHIM`` environment, serve args); ``ValueError`` for a bad request."""
    import socket
    import struct

    pid, uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    msg, ancdata, flags, _ = conn.recvmsg(_MAX_REQUEST, socket.CMSG_SPACE(4 * _INT))
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += [int.from_bytes(data[i : i + _INT], sys.byteorder) for i in range(0, len(data) - _INT + 1, _INT)]
    try:
        if uid != os.getuid():
            raise ValueError(f"request from uid {uid} (pid {pid}) refused")
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or not msg:
            raise ValueError("truncated or empty request")
        parts = msg.decode("utf-8", "surrogateescape").split("\0")
        cwd, count, rest = parts[0], "".join(parts[1:2]), parts[2:]
        n = int(count) if count.isdigit() else -1
        env = {}
        for item in rest[: max(n, 0)]:
            name, sep, value = item.partition("=")
            if sep:
                env[name] = value
        if not 0 <= n <= len(rest) or len(env) != n or not env.keys() <= set(_PER_SHIM):
            raise ValueError(f"malformed request: environment count {count!r}, entries {rest[: max(n, 0)]!r}")
    except ValueError:
        for fd in fds:
            os.close(fd)
        raise
    return fds, cwd, env, rest[n:]


def _fork(
    sock: socket.socket,
    conn: socket.socket,
    listener_fd: int,
    cwd: str,
    env: Mapping[str, str],
    args: list[str],
    become: Callable[[list[str]], int],
) -> None:
    """Fork the shim and answer with its pid at once (``start`` is waiting for it).

    One fork, not a double fork: a middle process would cost ``start`` a
    scheduling round-trip. The shim is the zygote's child until the zygote
    exits (then init's); the zygote reaps it (``_reap_children``).
    """
    import signal

    # SIGTERM/SIGINT stay blocked in the shim until it handles them (as after
    # posix_spawn), and in the zygote until the pid is sent: a stop request
    # between fork and answer would otherwise leave ``start`` without the pid,
    # and it would start a second shim on the same listener.
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        pid = os.fork()
        if pid == 0:
            _become(sock, conn, listener_fd, cwd, env, args, become)
        try:
            conn.send(str(pid).encode())
        except OSError:
            # ``start`` gave up (timed out or died) before learning the pid, so
            # it will start a shim of its own or fail: this one must not serve.
            os.kill(pid, signal.SIGKILL)
            raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _reap_children(signum: int, frame: object) -> None:
    """SIGCHLD in the zygote: collect the shims that exited."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _become(
    sock: socket.socket,
    conn: socket.socket,
    listener_fd: int,
    cwd: str,
    env: Mapping[str, str],
    args: list[str],
    become: Callable[[list[str]], int],
) -> NoReturn:
    import signal

    from ._start import detach_serving_child, exit_with

    def body() -> int:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the shim's own reaper takes over
        sock.close()
        conn.close()
        if _lock_fd >= 0:
            os.close(_lock_fd)
        detach_serving_child(listener_fd)
        os.chdir(cwd)
        for name in _PER_SHIM:
            os.environ.pop(name, None)
        os.environ.update(env)
        sys.argv[1:] = args
        set_cmdline([*sys.orig_argv, *args])
        return become(args)

    exit_with(body)


_cmdline: object = None
"""The buffer /proc/self/cmdline points at after ``set_cmdline`` (must stay alive)."""


def set_cmdline(argv: Sequence[str]) -> bool:
    """Make /proc/self/cmdline (``ps``, ``pgrep -f``) show ``argv``; best effort.

    A forked shim would otherwise show the zygote's command line, without its
    ``-id``. Uses ``prctl(PR_SET_MM, PR_SET_MM_MAP)``, which needs no
    capability, with every other field of the memory map unchanged.
    """
    import ctypes

    class MMMap(ctypes.Structure):
        _fields_ = [
            *((name, ctypes.c_uint64) for name in _MM_FIELDS),
            ("auxv", ctypes.c_void_p),
            ("auxv_size", ctypes.c_uint32),
            ("exe_fd", ctypes.c_uint32),
        ]

    global _cmdline
    data = b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in argv)
    buf = ctypes.create_string_buffer(data, len(data))
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        # Fields after "(comm) ": index 0 is field 3 of proc(5).
        fields = [int(x) if x.lstrip(b"-").isdigit() else 0 for x in stat[stat.rindex(b")") + 2 :].split()]
        libc = ctypes.CDLL(None, use_errno=True)
        libc.sbrk.restype = ctypes.c_void_p
        libc.sbrk.argtypes = [ctypes.c_long]
        value = dict(zip(_MM_FIELDS, (fields[n - 3] for n in _MM_STAT_FIELDS), strict=True))
        value["brk"] = libc.sbrk(0) or 0
        value["arg_start"] = ctypes.addressof(buf)
        value["arg_end"] = ctypes.addressof(buf) + len(data)
        mm = MMMap(**value, auxv=None, auxv_size=0, exe_fd=0xFFFFFFFF)
        if libc.prctl(_PR_SET_MM, _PR_SET_MM_MAP, ctypes.byref(mm), ctypes.sizeof(mm), 0) != 0:
            return False
    except (OSError, ValueError, AttributeError):
        return False
    _cmdline = buf
    return True


_PR_SET_MM = 35
_PR_SET_MM_MAP = 14
_MM_FIELDS = (
    "start_code",
    "end_code",
    "start_data",
    "end_data",
    "start_brk",
    "brk",
    "start_stack",
    "arg_start",
    "arg_end",
    "env_start",
    "env_end",
)
# Their numbers in /proc/self/stat (brk and the args are replaced anyway).
_MM_STAT_FIELDS = (26, 27, 45, 46, 47, 47, 28, 48, 49, 50, 51)
