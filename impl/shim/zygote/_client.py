"""The client half of the zygote, run by ``start``: find it, hand it a listener, start one.

Runs in the cheapest process of all, so only ``os``, ``sys``, ``_socket``
and ``_sha256`` (no ``typing``, ``socket`` or ``hashlib``: their enums and
OpenSSL would be most of its start-up).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from collections.abc import Mapping, Sequence

__all__ = [
    "ENV_ENABLE",
    "ForkedShim",
    "ENV_IDLE",
    "ENV_SOCKET",
    "REPLY_TIMEOUT",
    "ZYGOTE_DIR",
    "ZygoteClient",
    "ZygoteUnavailable",
    "enabled",
    "zygote_path",
]

ZYGOTE_DIR = "/run/shimtypes/zygote"
"""Its own directory: the host's /run/shimtypes is 0711, a zygote's must be 0700."""
ENV_ENABLE = "SHIMTYPES_ZYGOTE"
"""Unset: as the runtime chose; ``0``: no zygote (fork from ``start``); ``exec``: never fork."""
ENV_SOCKET = "SHIMTYPES_ZYGOTE_SOCKET"
"""Set only for the zygote process itself: the socket it serves."""
ENV_IDLE = "SHIMTYPES_ZYGOTE_IDLE"
"""Seconds without requests after which a zygote exits (default 30)."""
REPLY_TIMEOUT = 2.0
"""Seconds for the zygote's shim to report its pid (a fork: milliseconds); then ``start`` falls back."""
HANDSHAKE_TIMEOUT = 30.0
"""Seconds a forked shim waits for ``start``'s go-ahead before exiting unused."""
GO_AHEAD = b"go"
RLIMITS = 16
"""RLIM_NLIMITS on Linux: the resources a request carries."""
INT_SIZE = 4  # sizeof(int): one fd in SCM_RIGHTS

PER_SHIM = ("PWD", "OLDPWD", "_")
"""Shell bookkeeping, not configuration: out of the key, sent with each request instead."""
_UNKEYED = frozenset({ENV_SOCKET, *PER_SHIM})


class ZygoteUnavailable(OSError):
    """No usable zygote took the request: nothing was started, start the shim another way."""


def enabled(env: Mapping[str, str]) -> bool:
    """Whether ``env`` allows zygotes (``SHIMTYPES_ZYGOTE`` is neither ``0`` nor ``exec``)."""
    return env.get(ENV_ENABLE, "1") not in ("0", "exec")


def zygote_path(command: Sequence[str], env: Mapping[str, str], *, directory: str = ZYGOTE_DIR) -> str:
    """The zygote socket for this user, program and environment.

    The environment is part of the key (containerd's, plus ``TTRPC_ADDRESS``):
    a shim forked from the zygote inherits the zygote's, so it must be the
    one ``start`` would have passed on (``PER_SHIM`` variables excepted: each
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
    """mtime/inode of the SDK's directory and of the program's files (a few stat calls)."""
    stamp: list[str] = []
    sdk = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for path in (sdk, *command):
        try:
            st = os.stat(path)
        except OSError:
            continue
        stamp.append(f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")
    return ",".join(stamp)


def check_zygote_dir(directory: str) -> None:
    """Refuse ``directory`` unless it is ours alone: a real directory (``lstat``),
    owned by this user, mode 0700 or narrower (else another user could plant a
    socket and pose as the zygote); ``UnsafeDirectoryError`` naming it."""
    import errno
    import stat

    from ...unixsock import UnsafeDirectoryError, check_private_dir

    check_private_dir(directory, uid=os.getuid())
    mode = stat.S_IMODE(os.lstat(directory).st_mode)
    if mode & 0o077:
        raise UnsafeDirectoryError(errno.EPERM, f"{directory}: mode {mode:04o}, a zygote directory must be 0700")


def private_dir(directory: str) -> bool:
    """Whether ``directory`` passes ``check_zygote_dir``."""
    try:
        check_zygote_dir(directory)
    except OSError:
        return False
    return True


def ensure_zygote_dir(directory: str) -> None:
    """Create ``directory`` 0700 (its missing parent 0711, as ``/run/shimtypes``) whatever the
    umask, then ``check_zygote_dir`` it."""
    from ...unixsock import ensure_private_dir

    parent = os.path.dirname(os.path.abspath(directory))
    if not os.path.lexists(parent):
        ensure_private_dir(parent, 0o711, uid=os.getuid())
    ensure_private_dir(directory, 0o700, uid=os.getuid())
    check_zygote_dir(directory)


def process_settings() -> tuple[int, str]:
    """This process's umask and rlimits (``resource:soft:hard`` joined by ``,``; -1 is unlimited).

    A shim forked by the zygote takes them from the ``start`` that asked for
    it, as a shim spawned by that ``start`` would inherit them.
    """
    import resource

    umask = os.umask(0o022)
    os.umask(umask)
    limits: list[str] = []
    for number in range(RLIMITS):
        try:
            soft, hard = resource.getrlimit(number)
        except (ValueError, OSError):
            continue
        limits.append(f"{number}:{soft}:{hard}")
    return umask, ",".join(limits)


class ForkedShim:
    """A shim the zygote forked, waiting for ``release`` before it serves."""

    def __init__(self, pid: int, conn: _socket.socket) -> None:
        self.pid = pid
        self._conn: _socket.socket | None = conn

    def release(self) -> None:
        """Let it serve (``start`` has its pid and is done); ``OSError`` if it is gone."""
        conn, self._conn = self._conn, None
        if conn is None:
            raise ValueError(f"shim {self.pid}: already released or abandoned")
        try:
            conn.send(GO_AHEAD)
        finally:
            conn.close()

    def abandon(self) -> None:
        """Close without the go-ahead: the shim exits without ever serving."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class ZygoteClient:
    """Talks to the zygote at ``path``: ``request`` a shim, or ``spawn`` the zygote."""

    def __init__(self, path: str, *, timeout: float = REPLY_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout

    @classmethod
    def for_program(cls, command: Sequence[str], env: Mapping[str, str], *, directory: str = ZYGOTE_DIR) -> ZygoteClient:
        """The client of the zygote keyed by ``command`` and ``env`` (see ``zygote_path``)."""
        return cls(zygote_path(command, env, directory=directory))

    def request(
        self, args: Sequence[str], cwd: str, listener_fd: int, *, env: Mapping[str, str] | None = None
    ) -> ForkedShim:
        """Have the zygote fork a shim on ``listener_fd``; it waits for ``ForkedShim.release``.

        The shim runs in ``cwd`` with the zygote's environment (the same but for
        ``PER_SHIM``, see ``zygote_path``) and ``env``'s values of ``PER_SHIM``
        (default: this process's), so it sees what ``start`` saw; it takes this
        process's umask, rlimits and cgroups, and the zygote refuses a ``start``
        in other namespaces (``ZygoteUnavailable``: start it another way). It sends its
        own pid (so a zygote dying after the fork loses nothing) and serves only
        once released: a ``start`` that never got the pid, gave up or failed
        closes the connection, and the shim exits without serving.
        Raises ``ZygoteUnavailable`` when no shim will serve (no zygote, not
        ours, it refused, went away, or did not answer in ``timeout``: a wedged
        zygote, which is then killed so that a new one can take its place).
        """
        import _socket

        from ... import unixsock

        path = self.path
        if not private_dir(os.path.dirname(path)):
            raise ZygoteUnavailable(f"{os.path.dirname(path)}: missing or not private")
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        peer = 0
        try:
            sock.settimeout(self.timeout)
            sock.connect(path)
            peer, peer_uid, _ = unixsock.peer_credentials(sock)
            if peer_uid != os.getuid():
                raise ZygoteUnavailable(f"{path}: zygote runs as another user")
            given = os.environ if env is None else env
            own = [f"{k}={given[k]}" for k in PER_SHIM if k in given]
            umask, limits = process_settings()
            fields = (cwd, f"{umask:o}", limits, str(len(own)), *own, *args)
            request = "\0".join(fields).encode("utf-8", "surrogateescape")
            fd = listener_fd.to_bytes(INT_SIZE, sys.byteorder)
            sock.sendmsg([request], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd)])
            reply = sock.recv(256)
        except ZygoteUnavailable:
            sock.close()
            raise
        except TimeoutError:
            sock.close()
            self._retire_wedged(peer)
            raise ZygoteUnavailable(f"zygote {path} did not answer in {self.timeout}s: replaced") from None
        except OSError as exc:
            sock.close()
            raise ZygoteUnavailable(f"{path}: {exc}") from exc
        text = reply.decode(errors="replace")
        if not text.isdigit():
            # Closed without a pid, or an error reply: either way no shim will serve.
            sock.close()
            raise ZygoteUnavailable(f"{path}: {text or 'closed without an answer'}")
        return ForkedShim(int(text), sock)

    def _retire_wedged(self, peer: int) -> None:
        """A zygote that took no request in time (stopped, hung): kill it, free its path.

        Only a process of ours that was started as the zygote of this path is
        killed; whatever listens there, the path is unlinked, so the next
        ``spawn`` binds a fresh zygote.
        """
        if peer > 0:
            try:
                with open(f"/proc/{peer}/environ", "rb") as f:
                    environ = f.read().split(b"\0")
                st = os.stat(f"/proc/{peer}")
                if st.st_uid == os.getuid() and f"{ENV_SOCKET}={self.path}".encode() in environ:
                    os.kill(peer, 9)  # SIGKILL: ends a stopped process too
            except OSError:
                pass
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def spawn(self, command: Sequence[str], env: Mapping[str, str]) -> None:
        """Start the zygote (``command`` with ``ENV_SOCKET`` set) detached, stdio on /dev/null; best effort."""
        directory = os.path.dirname(self.path)
        try:
            ensure_zygote_dir(directory)
            devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return
        try:
            actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
            spawn = os.posix_spawn if os.sep in command[0] else os.posix_spawnp
            spawn(command[0], list(command), {**env, ENV_SOCKET: self.path}, file_actions=actions, setsid=True)
        except OSError:
            pass
        finally:
            os.close(devnull)
