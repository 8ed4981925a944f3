"""Unix sockets and their directories: one place for the host, the shim and ttrpc.

Preparing a private directory (checked with ``lstat``: no symlinks, owned by
this user, not group/world writable), binding with mode 0600 and no window
in which another user could connect, removing only what is a socket, Linux
abstract ``@name`` addresses, and ``SO_PEERCRED``. Imports ``os`` and
``_socket`` only (no ``socket``, no asyncio) so a shim's ``start`` can use it.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

__all__ = [
    "AddressInUseError",
    "UnsafeDirectoryError",
    "bind_unix",
    "can_connect",
    "check_private_dir",
    "ensure_private_dir",
    "parse_peercred",
    "peer_credentials",
    "prepare_socket",
    "remove_socket",
    "sockaddr",
]

_UCRED_SIZE = 12  # struct ucred: pid_t, uid_t, gid_t (three 32-bit ints)


class AddressInUseError(OSError):
    """The socket path is bound by a live listener."""


class UnsafeDirectoryError(OSError):
    """A directory another user could tamper with; the message is one line."""


def sockaddr(target: str) -> str:
    """``@name`` is a Linux abstract socket (leading NUL), anything else a path."""
    return "\0" + target[1:] if target.startswith("@") else target


def parse_peercred(raw: bytes) -> tuple[int, int, int]:
    """``(pid, uid, gid)`` from the bytes of ``getsockopt(SOL_SOCKET, SO_PEERCRED)``."""
    if len(raw) != _UCRED_SIZE:
        raise ValueError(f"SO_PEERCRED: want {_UCRED_SIZE} bytes, got {len(raw)}")
    order = sys.byteorder  # native, as the kernel writes it
    pid = int.from_bytes(raw[0:4], order, signed=True)
    uid = int.from_bytes(raw[4:8], order)
    gid = int.from_bytes(raw[8:12], order)
    return pid, uid, gid


def peer_credentials(sock: _socket.socket) -> tuple[int, int, int]:
    """The peer's ``(pid, uid, gid)`` as the kernel recorded them at connect time."""
    import _socket

    return parse_peercred(sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, _UCRED_SIZE))


def check_private_dir(path: str, *, uid: int | None = None) -> None:
    """Refuse ``path`` unless it is a real directory (not a symlink), owned by
    ``uid`` (default: this process's effective uid; root's directories are not
    accepted for another user) and not writable by group or others."""
    want = os.geteuid() if uid is None else uid
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise UnsafeDirectoryError(exc.errno, f"{path}: cannot check: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeDirectoryError(errno.ELOOP, f"{path}: is a symlink; refusing to use it")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeDirectoryError(errno.ENOTDIR, f"{path}: is not a directory")
    if st.st_uid != want:
        raise UnsafeDirectoryError(
            errno.EPERM, f"{path}: owned by uid {st.st_uid}, not by this user (uid {want}); refusing to use it"
        )
    if st.st_mode & 0o022:
        raise UnsafeDirectoryError(
            errno.EPERM,
            f"{path}: mode {stat.S_IMODE(st.st_mode):04o} is group or world writable; refusing to use it",
        )


def ensure_private_dir(path: str, mode: int = 0o700, *, uid: int | None = None) -> None:
    """Create ``path`` (and missing parents) with exactly ``mode`` whatever the
    umask, or check the one that exists; then ``check_private_dir`` it.

    ``UnsafeDirectoryError`` if the result is not private; the ``OSError`` of
    ``mkdir`` if it cannot be created."""
    path = os.path.abspath(path)
    missing: list[str] = []
    p = path
    while not os.path.lexists(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for d in reversed(missing):
        try:
            os.mkdir(d, mode)
        except FileExistsError:
            continue  # someone else made it meanwhile: the check below judges it
        # Other OSErrors (cannot create) propagate as they are.
        os.chmod(d, mode)  # mkdir's mode is narrowed by the umask
    check_private_dir(path, uid=uid)


def can_connect(path: str, timeout: float = 1.0) -> bool:
    """Whether something accepts connections on ``path`` (``@name`` too)."""
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr(path))
    except OSError:
        return False
    finally:
        sock.close()
    return True


def prepare_socket(path: str, *, dir_mode: int = 0o711) -> None:
    """Make ``path``'s directory private; remove a stale socket, refuse a live one
    (``AddressInUseError``) and anything that is not a socket."""
    if path.startswith("@"):
        return
    ensure_private_dir(os.path.dirname(os.path.abspath(path)), dir_mode)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise FileExistsError(errno.EEXIST, f"{path}: exists and is not a socket")
    if can_connect(path):
        raise AddressInUseError(errno.EADDRINUSE, f"{path}: address already in use (another server is listening)")
    os.unlink(path)  # nobody listens: a leftover from a crash


def bind_unix(path: str, *, mode: int = 0o600, backlog: int = 128) -> _socket.socket:
    """A listening unix socket on ``path`` (or ``@name``), created with ``mode``.

    The bind runs under umask 0177, so the file never exists with a wider
    mode than 0600; ``mode`` (e.g. 0660) is applied afterwards.
    """
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        abstract = path.startswith("@")
        old = os.umask(0o177)
        try:
            sock.bind(sockaddr(path))
        finally:
            os.umask(old)
        if not abstract and mode != 0o600:
            os.chmod(path, mode)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def remove_socket(path: str) -> None:
    """Unlink ``path`` if it is a socket; missing files and ``@name`` are fine."""
    if not path or path.startswith("@"):
        return
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISSOCK(st.st_mode):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
