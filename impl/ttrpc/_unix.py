"""Unix socket addressing and peer credentials."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from impl import unixsock
from impl.unixsock import sockaddr
from shimtypes import PeerCredentials

__all__ = ["listen_backlog", "peer_credentials", "require_root", "require_same_user", "require_uid_gid", "sockaddr"]


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The peer's pid/uid/gid as the kernel recorded them at connect time."""
    return PeerCredentials(*unixsock.peer_credentials(sock))


def require_same_user(*, allow_root: bool = False) -> Callable[[PeerCredentials], bool]:
    """A peer check admitting only this process's user: the peer's uid AND gid
    must equal our effective uid and gid, as Go's ``UnixSocketRequireSameUser``
    checks. ``allow_root=True`` also admits uid 0 (any gid); Go has no such
    option, so it is off unless asked for."""
    euid, egid = os.geteuid(), os.getegid()

    def check(peer: PeerCredentials) -> bool:
        return (peer.uid == euid and peer.gid == egid) or (allow_root and peer.uid == 0)

    return check


def require_root() -> Callable[[PeerCredentials], bool]:
    """A peer check admitting only uid 0 (Go: UnixSocketRequireRoot)."""
    return require_uid_gid(0, 0)


def require_uid_gid(uid: int, gid: int) -> Callable[[PeerCredentials], bool]:
    """A peer check on exact uid and gid; -1 means any (Go: UnixSocketRequireUidGid)."""

    def check(peer: PeerCredentials) -> bool:
        return (uid == -1 or peer.uid == uid) and (gid == -1 or peer.gid == gid)

    return check


def listen_backlog() -> int:
    """The kernel's cap on a listen queue (``net.core.somaxconn``), as Go listens.

    asyncio's default of 100 refuses (EAGAIN) a burst of clients that Go's
    server takes; asking for more than the cap is harmless, the kernel clamps.
    """
    try:
        with open("/proc/sys/net/core/somaxconn", "rb") as f:
            value = int(f.read().strip())
    except (OSError, ValueError):
        return socket.SOMAXCONN
    return max(1, min(value, 0xFFFF)) if value > 0 else socket.SOMAXCONN
