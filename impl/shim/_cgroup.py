"""``join_cgroup``: put a process (the shim itself) into a named cgroup, v1 or v2.

containerd users name the shim's cgroup in the runtime options
(``ShimCgroup``); the serving shim moves itself there before it serves.
On cgroup v1 the path is joined in every hierarchy where it exists (as
containerd's cgroups library loads a static path); on v2 in the one tree.
"""

from __future__ import annotations

import os

__all__ = ["CGROUP_ROOT", "join_cgroup"]

CGROUP_ROOT = "/sys/fs/cgroup"


def join_cgroup(path: str, pid: int = 0, *, root: str = CGROUP_ROOT) -> list[str]:
    """Move ``pid`` (0: this process) into cgroup ``path``; the ``cgroup.procs`` files written.

    ``ValueError`` for a path that is not absolute and clean; ``FileNotFoundError``
    when no hierarchy has it.
    """
    if not path.startswith("/") or "\0" in path or ".." in path.split("/"):
        raise ValueError(f"shim cgroup {path!r}: want an absolute path without '..'")
    relative = path.strip("/")
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        hierarchies = [root]
    else:
        hierarchies = [
            os.path.join(root, name)
            for name in sorted(os.listdir(root))
            if not os.path.islink(os.path.join(root, name)) and os.path.isdir(os.path.join(root, name))
        ]
    written: list[str] = []
    for hierarchy in hierarchies:
        procs = os.path.join(hierarchy, relative, "cgroup.procs")
        if not os.path.exists(procs):
            continue
        with open(procs, "w") as f:
            f.write(str(pid or os.getpid()))
        written.append(procs)
    if not written:
        raise FileNotFoundError(f"shim cgroup {path!r} exists in no cgroup hierarchy under {root}")
    return written
