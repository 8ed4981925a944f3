"""Where runc puts a container's cgroup, from the OCI spec's ``linux.cgroupsPath``.

runc's rules: with the cgroupfs driver the path is used as is (an absolute
path is below each hierarchy's root, a relative one below the cgroup of the
process running runc — the shim's), and an empty path means the container
id, relative. With the systemd driver the path is ``slice:prefix:name``: the
slice expands dash by dash (``a-b.slice`` -> ``/a.slice/a-b.slice``; empty is
``system.slice``, ``-.slice`` is the root) and the unit is
``<prefix>-<name>.scope`` (a ``name`` ending in ``.slice`` is the unit itself).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

TYPE_CHECKING = False  # no typing import at run time; mypy treats this name as true
if TYPE_CHECKING:
    from typing import TypeGuard

__all__ = [
    "CGROUP_ROOT",
    "CgroupPathError",
    "cgroup_path_from_spec",
    "expand_slice",
    "is_unified",
    "own_cgroup",
    "systemd_cgroup_path",
    "v1_controller_dir",
    "v2_dir",
]

CGROUP_ROOT = "/sys/fs/cgroup"


class CgroupPathError(ValueError):
    """A cgroups path that runc would reject (the path is named)."""


def expand_slice(slice_name: str) -> str:
    """``test-a-b.slice`` -> ``/test.slice/test-a.slice/test-a-b.slice``."""
    suffix = ".slice"
    if not slice_name.endswith(suffix) or "/" in slice_name:
        raise CgroupPathError(f"invalid systemd slice name {slice_name!r}")
    stem = slice_name[: -len(suffix)]
    if stem == "-":
        return "/"
    if not stem:
        raise CgroupPathError(f"invalid systemd slice name {slice_name!r}")
    path, prefix = "", ""
    for component in stem.split("-"):
        if not component:
            raise CgroupPathError(f"invalid systemd slice name {slice_name!r}")
        path += f"/{prefix}{component}{suffix}"
        prefix += f"{component}-"
    return path


def systemd_cgroup_path(cgroups_path: str, container_id: str) -> str:
    """The cgroup of a ``slice:prefix:name`` path (empty: ``system.slice:runc:<id>``)."""
    if not cgroups_path:
        parent, prefix, name = "", "runc", container_id
    else:
        parts = cgroups_path.split(":")
        if len(parts) != 3:
            raise CgroupPathError(
                f'cgroupsPath {cgroups_path!r}: expected "slice:prefix:name" for systemd cgroups'
            )
        parent, prefix, name = parts
    slice_path = expand_slice(parent or "system.slice")
    unit = name if name.endswith(".slice") else f"{prefix}-{name}.scope"
    return posixpath.join(slice_path, unit)


def _clean(path: str) -> str:
    """runc's CleanPath: lexically clean, and never above the root for a relative path."""
    if not path:
        return ""
    if posixpath.isabs(path):
        return posixpath.normpath(path)
    return posixpath.relpath(posixpath.normpath(posixpath.join("/", path)), "/")


def _is_mapping(value: object) -> TypeGuard[Mapping[object, object]]:
    """Any mapping: whatever its keys and values are, they are objects."""
    return isinstance(value, Mapping)


def cgroup_path_from_spec(spec: Mapping[str, object], container_id: str, *, systemd: bool) -> str:
    """The container's cgroup path as runc resolves it: absolute, or relative to the shim's."""
    linux = spec.get("linux")
    raw = linux.get("cgroupsPath", "") if _is_mapping(linux) else ""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise CgroupPathError(f"linux.cgroupsPath: expected a string, got {type(raw).__name__}")
    if systemd:
        return systemd_cgroup_path(raw, container_id)
    return _clean(raw) or container_id


def own_cgroup(controller: str, proc_cgroup: str = "/proc/self/cgroup") -> str:
    """This process's cgroup in ``controller``'s hierarchy (``""``: the unified one)."""
    with open(proc_cgroup) as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controller in controllers.split(",") or (not controller and not controllers):
                return path
    raise CgroupPathError(f"{proc_cgroup}: no cgroup for controller {controller or 'unified'!r}")


def _below(root: str, inner: str, controller: str, proc_cgroup: str) -> str:
    if not posixpath.isabs(inner):
        inner = posixpath.join(own_cgroup(controller, proc_cgroup), inner)
    return posixpath.join(root, inner.lstrip("/"))


def v1_controller_dir(
    path: str, controller: str, *, root: str = CGROUP_ROOT, proc_cgroup: str = "/proc/self/cgroup"
) -> str:
    """The directory of cgroup ``path`` in v1 ``controller``'s hierarchy."""
    return _below(posixpath.join(root, controller), path, controller, proc_cgroup)


def v2_dir(path: str, *, root: str = CGROUP_ROOT, proc_cgroup: str = "/proc/self/cgroup") -> str:
    """The directory of cgroup ``path`` in the unified hierarchy mounted at ``root``."""
    return _below(root, path, "", proc_cgroup)


def is_unified(root: str = CGROUP_ROOT) -> bool:
    """Whether ``root`` is a cgroup v2 (unified) mount rather than v1 hierarchies."""
    return posixpath.exists(posixpath.join(root, "cgroup.controllers"))
