"""Rootfs mounts from a Create request, via mount(2)/umount2(2).

Options are split the way containerd's ``mount.Mount`` does: known words
become MS_* flags, propagation words a second mount call, the rest the
filesystem's data string. Unmounting repeats until nothing is mounted at the
target, so stacked mounts go too and a second call is a no-op.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from ._mountinfo import is_mounted as is_mounted

if TYPE_CHECKING:
    import ctypes

__all__ = ["MountSpec", "is_mounted", "mount_all", "parse_options", "unmount_all"]

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_UNBINDABLE = 1 << 17
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

# word -> (clear?, flag)
_FLAGS: dict[str, tuple[bool, int]] = {
    "async": (True, MS_SYNCHRONOUS),
    "atime": (True, MS_NOATIME),
    "bind": (False, MS_BIND),
    "defaults": (False, 0),
    "dev": (True, MS_NODEV),
    "diratime": (True, MS_NODIRATIME),
    "dirsync": (False, MS_DIRSYNC),
    "exec": (True, MS_NOEXEC),
    "mand": (False, MS_MANDLOCK),
    "noatime": (False, MS_NOATIME),
    "nodev": (False, MS_NODEV),
    "nodiratime": (False, MS_NODIRATIME),
    "noexec": (False, MS_NOEXEC),
    "nomand": (True, MS_MANDLOCK),
    "norelatime": (True, MS_RELATIME),
    "nostrictatime": (True, MS_STRICTATIME),
    "nosuid": (False, MS_NOSUID),
    "rbind": (False, MS_BIND | MS_REC),
    "relatime": (False, MS_RELATIME),
    "remount": (False, MS_REMOUNT),
    "ro": (False, MS_RDONLY),
    "rw": (True, MS_RDONLY),
    "strictatime": (False, MS_STRICTATIME),
    "suid": (True, MS_NOSUID),
    "sync": (False, MS_SYNCHRONOUS),
}
_PROPAGATION: dict[str, int] = {
    "private": MS_PRIVATE,
    "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE,
    "runbindable": MS_UNBINDABLE | MS_REC,
}


class MountSpec(NamedTuple):
    """``containerd.types.Mount`` without protobuf."""

    type: str
    source: str
    options: Sequence[str]


class ParsedOptions(NamedTuple):
    """Mount options split as containerd splits them: MS_* flags, propagation flags, data string."""

    flags: int
    propagation: int
    data: str


def parse_options(options: Iterable[str]) -> ParsedOptions:
    """Split ``options`` (``ro``, ``rbind``, ``rprivate``, ``lowerdir=...``); the last of two opposites wins."""
    flags = 0
    propagation = 0
    data: list[str] = []
    for opt in options:
        if opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt in _PROPAGATION:
            propagation |= _PROPAGATION[opt]
        else:
            data.append(opt)
    return ParsedOptions(flags, propagation, ",".join(data))


_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


def _mount(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    import ctypes

    rc = _lib().mount(
        source.encode() or None,
        target.encode(),
        fstype.encode() or None,
        ctypes.c_ulong(flags),
        data.encode() or None,
    )
    if rc != 0:
        err = _errno()
        raise OSError(err, f"mount {source!r} ({fstype or 'no type'}) on {target!r}: {os.strerror(err)}")


def mount_one(spec: MountSpec, target: str) -> None:
    """Mount ``spec`` on ``target``: the mount, a read-only/nosuid remount for binds, then propagation."""
    opts = parse_options(spec.options)
    _mount(spec.source, target, spec.type, opts.flags, opts.data)
    if opts.flags & MS_BIND and opts.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC):
        # A bind mount ignores most flags until remounted.
        _mount("", target, "", opts.flags | MS_REMOUNT, "")
    if opts.propagation:
        _mount("", target, "", opts.propagation, "")


def mount_all(specs: Sequence[MountSpec], target: str) -> None:
    """Mount ``specs`` in order onto ``target``; on failure undo what was done."""
    done = 0
    try:
        for spec in specs:
            mount_one(spec, target)
            done += 1
    except BaseException:
        if done:
            unmount_all(target)
        raise


def unmount_all(target: str, *, attempts: int = 50) -> None:
    """Unmount everything stacked on ``target``; no-op if nothing is mounted."""
    path = target.encode()
    for _ in range(attempts):
        if _lib().umount2(path, 0) == 0:
            continue
        err = _errno()
        if err in (errno.EINVAL, errno.ENOENT):
            return
        if err == errno.EBUSY:
            if _lib().umount2(path, MNT_DETACH) == 0:
                continue
            err = _errno()
            if err in (errno.EINVAL, errno.ENOENT):
                return
        raise OSError(err, f"unmount {target!r}: {os.strerror(err)}")
    raise OSError(errno.EBUSY, f"unmount {target!r}: still mounted after {attempts} attempts")
