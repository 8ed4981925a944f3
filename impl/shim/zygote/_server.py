"""The server half of the zygote: a pre-imported process that forks serving shims.

Runs in the zygote, where the serving path is imported anyway; the state a
zygote has (its lock, socket, watched files) lives on the ``Zygote`` object.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

from .._process import detach_serving_child, exit_with
from ._client import ENV_IDLE, ENV_SOCKET, GO_AHEAD, HANDSHAKE_TIMEOUT, INT_SIZE, PER_SHIM, check_zygote_dir
from ._cmdline import set_cmdline

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Mapping, Sequence
    from typing import NoReturn

__all__ = ["DEFAULT_IDLE", "Request", "Zygote", "check_namespaces", "join_cgroups", "read_request", "take_on"]

DEFAULT_IDLE = 30.0
_MAX_REQUEST = 1 << 16


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _reap_children(signum: int, frame: object) -> None:
    """SIGCHLD in the zygote: collect the shims that exited."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


class Zygote:
    """A fork server for serving shims on the socket ``path``.

    ``serve`` takes an flock (one zygote per path), runs ``preload`` (the
    imports the shims will share), then answers each request by forking a
    detached shim that runs ``become(args)`` and exits with its result.
    It exits after ``idle`` seconds without requests (default
    ``SHIMTYPES_ZYGOTE_IDLE`` or 30), on SIGTERM/SIGINT, or once a module file
    it imported changed on disk.
    """

    def __init__(
        self,
        path: str,
        become: Callable[[list[str]], int],
        *,
        preload: Callable[[], object] | None = None,
        idle: float | None = None,
    ) -> None:
        self.path = path
        self.idle: float = float(os.environ.get(ENV_IDLE, DEFAULT_IDLE)) if idle is None else idle
        self._become = become
        self._preload = preload
        self._lock_fd = -1
        self._sock: socket.socket | None = None
        self._ino = 0
        self._watched: list[tuple[str, int]] = []

    @property
    def retired(self) -> bool:
        """Whether this zygote no longer holds its lock (idle, stopping, or its code changed)."""
        return self._lock_fd < 0

    def serve(self) -> int:
        """Serve fork requests until idle or stopped; the exit status (0).

        ``UnsafeDirectoryError`` (nothing created) if the socket's directory is
        not this user's alone (``check_zygote_dir``); the lock is opened without
        following symlinks and the socket bound under a private name, then renamed.
        """
        import fcntl

        os.environ.pop(ENV_SOCKET, None)  # the shims it forks are not zygotes
        os.chdir("/")
        # Our own check, before anything is created: a client's check does not cover
        # a zygote started by hand, and the directory may have changed since.
        check_zygote_dir(os.path.dirname(self.path))
        lock = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock)
            return 0  # another zygote for this key is starting or serving
        self._lock_fd = lock
        if self._preload is not None:
            self._preload()
        import gc
        import importlib
        import select
        import signal

        importlib.import_module("resource")  # ``take_on`` in every forked shim: imported once, here
        self._watched = _module_files()
        # SIGTERM/SIGINT end the zygote cleanly (socket unlinked, queued requests
        # served). Its shims replace the handlers before unblocking the signals.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        signal.signal(signal.SIGINT, _exit_on_signal)
        signal.signal(signal.SIGCHLD, _reap_children)
        sock = self._sock = self._bind()
        gc.collect()
        gc.freeze()  # imported objects stay out of the collector: pages stay shared with the shims
        _trim_heap()
        try:
            while not self.retired and select.select([sock], [], [], self.idle)[0]:
                self._accept(sock)
        finally:
            # Retire first (socket unlinked, lock released), then answer what
            # already queued with a refusal: those clients start shims another way.
            self.retire()
            sock.setblocking(False)
            while self._accept(sock):
                pass
            sock.close()
        return 0

    def retire(self) -> None:
        """Stop being the zygote for ``path``: unlink the socket (if still ours), release the lock."""
        if self._lock_fd < 0:
            return
        try:
            if os.stat(self.path).st_ino == self._ino:
                os.unlink(self.path)
                os.unlink(self.path + ".lock")  # still held: a racing newcomer locks its own file
        except OSError:
            pass
        os.close(self._lock_fd)
        self._lock_fd = -1

    def code_changed(self) -> bool:
        """Whether a module file changed since the zygote imported it (an edit or an upgrade)."""
        for path, mtime in self._watched:
            try:
                if os.stat(path).st_mtime_ns != mtime:
                    return True
            except OSError:
                return True
        return False

    def _bind(self) -> socket.socket:
        import socket

        tmp = f"{self.path}.{os.getpid()}"
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
        self._ino = os.stat(tmp).st_ino
        os.rename(tmp, self.path)  # replaces a dead zygote's socket; we hold the lock
        return sock

    def _accept(self, sock: socket.socket) -> bool:
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
            request = read_request(conn)
            fds = request.fds
            if len(fds) != 1:
                raise ValueError(f"want one listener fd, got {len(fds)}")
            _check_listener(fds[0])
            check_namespaces(request.pid)
            if self.retired:
                raise ValueError("zygote retired: idle or stopping")
            if self.code_changed():
                # Our modules are not what is on disk any more: let a new zygote load them.
                self.retire()
                raise ValueError("zygote retired: its code changed on disk")
            self._fork(
                conn,
                fds[0],
                request.cwd,
                request.env,
                request.args,
                umask=request.umask,
                rlimits=request.rlimits,
                start_pid=request.pid,
            )
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

    def _fork(
        self,
        conn: socket.socket,
        listener_fd: int,
        cwd: str,
        env: Mapping[str, str],
        args: list[str],
        *,
        umask: int | None = None,
        rlimits: Sequence[tuple[int, int, int]] = (),
        start_pid: int = 0,
    ) -> int:
        """Fork the shim; it reports its own pid to ``start`` and serves once released.

        The zygote does not answer: a zygote killed right after the fork leaves
        a shim that still reports to ``start``, and one that ``start`` does not
        release (it never learnt the pid, gave up, or failed) exits unused, so
        a listener never has two shims. One fork, not a double fork: a middle
        process would cost ``start`` a scheduling round-trip. The shim is the
        zygote's child until the zygote exits (then init's); the zygote reaps
        it (``_reap_children``). Before reporting, it takes ``start``'s umask,
        rlimits and cgroups (``take_on``); if it cannot, it reports the error
        instead and ``start`` starts the shim another way.
        """
        import signal

        # SIGTERM/SIGINT stay blocked in the shim until it handles them (as after
        # posix_spawn).
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            pid = os.fork()
            if pid == 0:
                self._in_child(conn, listener_fd, cwd, env, args, (umask, rlimits, start_pid))
            _test_pause_after_fork()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return pid

    def _in_child(
        self,
        conn: socket.socket,
        listener_fd: int,
        cwd: str,
        env: Mapping[str, str],
        args: list[str],
        settings: tuple[int | None, Sequence[tuple[int, int, int]], int],
    ) -> NoReturn:
        import signal

        def body() -> int:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the shim's own reaper takes over
            if self._sock is not None:
                self._sock.close()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
            umask, rlimits, start_pid = settings
            try:
                take_on(umask, rlimits, start_pid)
            except OSError as exc:
                try:
                    conn.send(f"error: {exc}".encode()[:256])
                except OSError:
                    pass
                return 1
            if not _handshake(conn):
                return 0  # ``start`` does not count on this shim: leave without serving
            detach_serving_child(listener_fd)
            os.chdir(cwd)
            for name in PER_SHIM:
                os.environ.pop(name, None)
            os.environ.update(env)
            sys.argv[1:] = args
            set_cmdline([*sys.orig_argv, *args])
            return self._become(args)

        exit_with(body)


def _handshake(conn: socket.socket) -> bool:
    """In the forked shim: send our pid to ``start``, wait for its go-ahead; whether it came."""
    try:
        conn.settimeout(HANDSHAKE_TIMEOUT)
        conn.send(str(os.getpid()).encode())
        return conn.recv(16) == GO_AHEAD
    except OSError:
        return False
    finally:
        conn.close()


ENV_TEST_PAUSE = "SHIMTYPES_ZYGOTE_TEST_PAUSE_AFTER_FORK"
"""Test hook: the zygote stops itself (SIGSTOP) right after a fork, so a test can kill it there."""


def _test_pause_after_fork() -> None:
    # The window between fork and the shim's report is microseconds wide: no
    # outside signal can be aimed at it, so the fault tests ask the zygote to stop there.
    if _PAUSE_AFTER_FORK:
        import signal

        os.kill(os.getpid(), signal.SIGSTOP)


_PAUSE_AFTER_FORK = os.environ.get(ENV_TEST_PAUSE) == "1"


def _module_files() -> list[tuple[str, int]]:
    """(file, mtime_ns) of the non-stdlib modules imported so far."""
    files: list[tuple[str, int]] = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name.partition(".")[0] in sys.stdlib_module_names or not isinstance(path, str):
            continue
        try:
            files.append((path, os.stat(path).st_mtime_ns))
        except OSError:
            pass
    return files


def _trim_heap() -> None:
    """Hand free heap pages back (malloc_trim): otherwise every forked shim maps them too."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


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


class Request(NamedTuple):
    """One parsed request: what the forked shim takes from the ``start`` that sent it."""

    fds: list[int]
    cwd: str
    env: dict[str, str]
    """``PER_SHIM`` variables only."""
    args: list[str]
    umask: int
    rlimits: list[tuple[int, int, int]]
    """(resource, soft, hard); -1 is unlimited."""
    pid: int
    """``start``'s pid (SO_PEERCRED): its cgroups and namespaces are the shim's."""


def read_request(conn: socket.socket) -> Request:
    """One request off ``conn`` (see ``Request``).

    ``ValueError`` for a bad request (another user, truncated, malformed);
    the received fds are closed then.
    """
    import socket

    from ...unixsock import peer_credentials

    pid, uid, _gid = peer_credentials(conn)
    msg, ancdata, flags, _ = conn.recvmsg(_MAX_REQUEST, socket.CMSG_SPACE(4 * INT_SIZE))
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += [
                int.from_bytes(data[i : i + INT_SIZE], sys.byteorder) for i in range(0, len(data) - INT_SIZE + 1, INT_SIZE)
            ]
    try:
        if uid != os.getuid():
            raise ValueError(f"request from uid {uid} (pid {pid}) refused")
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or not msg:
            raise ValueError("truncated or empty request")
        parts = msg.decode("utf-8", "surrogateescape").split("\0")
        if len(parts) < 4:
            raise ValueError(f"malformed request: {len(parts)} fields")
        cwd, umask, limits, count, rest = parts[0], parts[1], parts[2], parts[3], parts[4:]
        n = int(count) if count.isdigit() else -1
        env: dict[str, str] = {}
        for item in rest[: max(n, 0)]:
            name, sep, value = item.partition("=")
            if sep:
                env[name] = value
        if not 0 <= n <= len(rest) or len(env) != n or not env.keys() <= set(PER_SHIM):
            raise ValueError(f"malformed request: environment count {count!r}, entries {rest[: max(n, 0)]!r}")
        try:
            mask = int(umask, 8)
            rlimits = [(int(r), int(s), int(h)) for r, s, h in (x.split(":") for x in limits.split(",") if x)]
        except ValueError:
            raise ValueError(f"malformed request: umask {umask!r}, rlimits {limits!r}") from None
        if not 0 <= mask <= 0o777:
            raise ValueError(f"malformed request: umask {umask!r}")
    except ValueError:
        for fd in fds:
            os.close(fd)
        raise
    return Request(fds, cwd, env, rest[n:], mask, rlimits, pid)


NAMESPACES = ("mnt", "pid", "net", "ipc", "uts", "user", "cgroup")


def check_namespaces(pid: int) -> None:
    """``ValueError`` unless process ``pid`` is in this process's namespaces.

    A shim forked here lives in the zygote's; one that ``start`` spawned would
    live in ``start``'s: when they differ, ``start`` must spawn it itself.
    """
    for name in NAMESPACES:
        try:
            ours = os.stat(f"/proc/self/ns/{name}").st_ino
            theirs = os.stat(f"/proc/{pid}/ns/{name}").st_ino
        except FileNotFoundError:
            continue  # a namespace type this kernel lacks
        except OSError as exc:
            raise ValueError(f"cannot compare the {name} namespace of pid {pid}: {exc}") from None
        if ours != theirs:
            raise ValueError(f"start (pid {pid}) runs in another {name} namespace: not forked here")


def take_on(umask: int | None, rlimits: Sequence[tuple[int, int, int]], pid: int) -> None:
    """In the forked shim: ``start``'s umask, rlimits and cgroups (those of ``pid``).

    ``OSError`` if one cannot be taken (a hard limit above ours without
    privilege, a cgroup we may not join): the shim must then not serve.
    """
    import resource

    if umask is not None:
        os.umask(umask)
    for number, soft, hard in rlimits:
        try:
            if resource.getrlimit(number) == (soft, hard):
                continue
        except ValueError:
            continue  # unknown here
        try:
            resource.setrlimit(number, (soft, hard))
        except (ValueError, OSError) as exc:
            raise OSError(f"rlimit {number} = ({soft}, {hard}): {exc}") from None
    if pid > 0:
        join_cgroups(pid)


def join_cgroups(pid: int) -> None:
    """Move this process into every cgroup (v1 hierarchies and v2) of process ``pid``."""
    mine = _cgroups("self")
    theirs = _cgroups(str(pid))
    mounts = None
    for hierarchy, path in theirs.items():
        if mine.get(hierarchy) == path:
            continue
        if mounts is None:
            mounts = _cgroup_mounts()
        controllers = set(hierarchy.split(",")) if hierarchy else set[str]()
        for fstype, options, root, point in mounts:
            if (fstype == "cgroup2") != (not hierarchy) or not controllers <= options:
                continue
            if path != root and not path.startswith(root.rstrip("/") + "/"):
                continue
            target = os.path.join(point, path[len(root) :].lstrip("/"), "cgroup.procs")
            try:
                with open(target, "w") as f:
                    f.write(str(os.getpid()))
            except OSError as exc:
                raise OSError(f"cannot join cgroup {target}: {exc.strerror or exc}") from None
            break


def _cgroups(pid: str) -> dict[str, str]:
    """hierarchy controllers (``""`` for v2) -> path, from /proc/<pid>/cgroup."""
    out: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            out[controllers] = path
    return out


def _cgroup_mounts() -> list[tuple[str, set[str], str, str]]:
    """(fstype, super options, root, mount point) of the cgroup mounts, from mountinfo."""
    mounts: list[tuple[str, set[str], str, str]] = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype = fields[sep + 1]
            if fstype in ("cgroup", "cgroup2"):
                root = fields[3].replace("\\040", " ")
                point = fields[4].replace("\\040", " ")
                mounts.append((fstype, set(fields[sep + 3].split(",")), root, point))
    return mounts
