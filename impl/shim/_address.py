"""The shim socket: containerd's address convention, binding, the address file.

Used on the ``start`` path, so it sticks to ``_socket`` and ``_sha256``, imported
when needed (``socket`` and ``hashlib`` pull in selectors, enum and OpenSSL), and never
touches asyncio.
"""

from __future__ import annotations

import errno
import os

from .. import unixsock
from ..unixsock import AddressInUseError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from typing import Final

__all__ = [
    "ADDRESS_FILE",
    "SOCKET_DIR",
    "SOCKET_PATH_LIMIT",
    "UNIX_PREFIX",
    "AddressInUseError",
    "bind_socket",
    "go_path_join",
    "can_connect",
    "read_address",
    "remove_socket",
    "socket_address",
    "socket_path",
    "write_address",
]

SOCKET_DIR: Final = "/run/containerd/s"
"""containerd 1.6 hard-codes this directory, even for private daemons."""

SOCKET_PATH_LIMIT: Final = 106
"""Go shims refuse longer paths (sun_path is 108 bytes with the NUL)."""

UNIX_PREFIX: Final = "unix://"

ADDRESS_FILE: Final = "address"
"""Relative to the bundle (the shim's working directory)."""


def socket_address(address: str, namespace: str, id: str, *, socket_dir: str = SOCKET_DIR) -> str:
    """``unix://<socket_dir>/<hex sha256(Go filepath.Join(address, namespace, id))>``, as containerd computes it."""
    if TYPE_CHECKING:
        from hashlib import sha256 as _sha256_fn
    else:
        try:  # CPython 3.11 ships the builtin as _sha256; later versions as _sha2.
            from _sha256 import sha256 as _sha256_fn
        except ImportError:  # pragma: no cover - depends on the interpreter build
            from hashlib import sha256 as _sha256_fn
    digest = _sha256_fn(go_path_join(address, namespace, id).encode()).hexdigest()
    return f"{UNIX_PREFIX}{os.path.join(socket_dir, digest)}"


def go_path_join(*parts: str) -> str:
    """Go's ``filepath.Join`` on Linux: non-empty parts joined by ``/``, then ``Clean``-ed.

    containerd hashes ``filepath.Join(address, namespace, id)``, so an address
    with a trailing or doubled slash, or an id with ``..``, names the socket
    that Go's cleaned path gives (``posixpath.normpath`` differs on ``//x``).
    """
    path = "/".join(p for p in parts if p)
    if not path:
        return ""
    rooted = path.startswith("/")
    out: list[str] = []
    for element in path.split("/"):
        if element in ("", "."):
            continue
        if element == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(element)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def socket_path(address: str) -> str:
    """The filesystem path of a ``unix://`` address; other addresses are returned as is."""
    return address[len(UNIX_PREFIX) :] if address.startswith(UNIX_PREFIX) else address


def _check_path(path: str) -> None:
    if len(path.encode()) > SOCKET_PATH_LIMIT:
        raise ValueError(f"{path!r}: unix socket path too long (> {SOCKET_PATH_LIMIT} bytes)")


def can_connect(address: str) -> bool:
    """Whether something accepts connections on ``address`` (a live shim)."""
    return unixsock.can_connect(socket_path(address))


def bind_socket(address: str, *, backlog: int = 128) -> _socket.socket:
    """Bind and listen on ``address`` with mode 0600; the parent directory is created.

    Raises ``AddressInUseError`` if a live listener owns the path; a stale
    socket file (nobody listening) is removed and the bind retried. Any other
    failure is an ``OSError`` naming the socket path and the step that failed.
    """
    path = socket_path(address)
    _check_path(path)
    abstract = path.startswith("@")
    step = "creating the shim socket directory"
    try:
        if not abstract:
            os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        step = "binding the shim socket"
        try:
            return unixsock.bind_unix(path, backlog=backlog)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            if abstract or can_connect(address):
                raise AddressInUseError(errno.EADDRINUSE, f"{address}: a shim is already listening") from exc
        step = "removing a stale shim socket"
        unixsock.remove_socket(path)
        step = "binding the shim socket"
        return unixsock.bind_unix(path, backlog=backlog)
    except AddressInUseError:
        raise
    except OSError as exc:
        raise OSError(exc.errno, f"{step} {path}: {exc.strerror or exc}") from exc


def remove_socket(address: str) -> None:
    """Unlink the socket file of a ``unix://`` address; missing files and non-sockets are left."""
    unixsock.remove_socket(socket_path(address))


def write_address(path: str, address: str) -> None:
    """Write ``address`` to ``path`` atomically (hidden temp file, then rename)."""
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        try:
            os.write(fd, address.encode())
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_address(path: str) -> str:
    """The address stored in an address file (surrounding whitespace stripped)."""
    with open(path, encoding="utf-8", newline="") as f:
        return f.read().strip()
