"""The client half of the zygote, run by ``start``: find it, hand it a listener, start one.

Runs in the cheapest process of all, so only ``os``, ``sys``, ``_socket``
and ``_sha256`` (no ``typing``, ``socket`` or ``hashlib``: their enums and
OpenSSL cost milliseconds).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "ENV_ENABLE",
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
REPLY_TIMEOUT = 5.0
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
    stamp = []
    sdk = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for path in (sdk, *command):
        try:
            st = os.stat(path)
        except OSError:
            continue
        stamp.append(f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")
    return ",".join(stamp)


def private_dir(directory: str) -> bool:
    """Whether ``directory`` is ours alone (else someone else could pose as the zygote)."""
    try:
        st = os.stat(directory)
    except OSError:
        return False
    return st.st_uid == os.getuid() and st.st_mode & 0o077 == 0


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
    ) -> int:
        """Have the zygote fork a serving shim on ``listener_fd``; returns its pid.

        The shim runs in ``cwd`` with the zygote's environment (the same but for
        ``PER_SHIM``, see ``zygote_path``) and ``env``'s values of ``PER_SHIM``
        (default: this process's), so it sees what ``start`` saw.
        Raises ``ZygoteUnavailable`` when nothing was started (no zygote, not
        ours, it refused, or it went away before forking): start it another way.
        Raises ``RuntimeError`` when it took the request but did not answer in
        ``timeout`` (a shim may exist: do not start another on the listener).
        """
        import _socket

        path = self.path
        if not private_dir(os.path.dirname(path)):
            raise ZygoteUnavailable(f"{os.path.dirname(path)}: missing or not private")
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        try:
            try:
                sock.settimeout(self.timeout)
                sock.connect(path)
                creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 3 * INT_SIZE)
                if int.from_bytes(creds[INT_SIZE : 2 * INT_SIZE], sys.byteorder) != os.getuid():
                    raise ZygoteUnavailable(f"{path}: zygote runs as another user")
                given = os.environ if env is None else env
                own = [f"{k}={given[k]}" for k in PER_SHIM if k in given]
                request = "\0".join((cwd, str(len(own)), *own, *args)).encode("utf-8", "surrogateescape")
                fd = listener_fd.to_bytes(INT_SIZE, sys.byteorder)
                sock.sendmsg([request], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd)])
            except ZygoteUnavailable:
                raise
            except OSError as exc:
                raise ZygoteUnavailable(f"{path}: {exc}") from exc
            try:
                reply = sock.recv(256)
            except TimeoutError:
                raise RuntimeError(f"zygote {path} took the request but did not answer in {self.timeout}s") from None
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

    def spawn(self, command: Sequence[str], env: Mapping[str, str]) -> None:
        """Start the zygote (``command`` with ``ENV_SOCKET`` set) detached, stdio on /dev/null; best effort."""
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            if not private_dir(directory):
                return
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
