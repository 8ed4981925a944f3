"""The bundle containerd hands a shim: its OCI spec, its rootfs, paths inside it.

For runtimes that read the spec themselves instead of passing the bundle to
a tool like runc. Errors are ``impl.errdefs`` kinds naming the file or path.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from typing import cast

from impl import errdefs

__all__ = ["join_in_root", "parse_spec", "read_spec", "rootfs_path"]

_MAX_SYMLINKS = 40  # as the kernel's path walk


def parse_spec(data: bytes, what: str) -> dict[str, object]:
    """``data`` (an OCI spec, or an exec's process spec) as a JSON object.

    ``errdefs.InvalidArgument`` naming ``what`` when it is not one.
    """
    try:
        value: object = json.loads(data)
    except ValueError as err:
        raise errdefs.InvalidArgument(f"{what} is not JSON: {err}") from None
    if not isinstance(value, dict):
        raise errdefs.InvalidArgument(f"{what} is not a JSON object")
    return cast("dict[str, object]", value)


def read_spec(bundle: str) -> dict[str, object]:
    """The bundle's ``config.json``; ``errdefs.NotFound`` when it is missing."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise errdefs.NotFound(f"{path} not found") from None
    return parse_spec(data, path)


def rootfs_path(spec: dict[str, object], bundle: str) -> str:
    """The spec's ``root.path`` (relative to the bundle unless absolute), default ``<bundle>/rootfs``."""
    root = spec.get("root")
    path = cast("dict[str, object]", root).get("path", "rootfs") if isinstance(root, dict) else "rootfs"
    if not isinstance(path, str) or not path:
        raise errdefs.InvalidArgument(f"root.path must be a non-empty string, got {path!r}")
    return os.path.join(bundle, path)


def join_in_root(root: str, path: str) -> str:
    """``path`` resolved with ``root`` as ``/``: a host path that never leaves ``root``.

    As the kernel would inside a chroot: ``..`` stops at ``root``, symlinks
    met on the way are read and resolved inside ``root`` again (absolute
    targets from ``root``). Components that do not exist are kept as
    written, for the caller's open to fail on. More than 40 symlinks is
    ``errdefs.InvalidArgument`` (ELOOP).
    """
    resolved: list[str] = []
    pending = [c for c in reversed(path.split("/")) if c]
    links = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        host = os.path.join(root, *resolved, part)
        try:
            is_link = stat.S_ISLNK(os.lstat(host).st_mode)
        except OSError:
            is_link = False
        if not is_link:
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_SYMLINKS:
            where = "/" + "/".join([*resolved, part])
            raise errdefs.InvalidArgument(f"{path}: {os.strerror(errno.ELOOP)} at {where} (in {root})")
        target = os.readlink(host)
        if target.startswith("/"):
            resolved.clear()
        pending.extend(c for c in reversed(target.split("/")) if c)
    return os.path.join(root, *resolved)
