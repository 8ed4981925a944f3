"""pyrunc's ``delete`` action: what is left of a container once its serving shim is gone.

Kept free of protobuf, asyncio and ``typing`` (the module is imported by a
process that lives a few milliseconds): runc is only run when it still has
state for the container, the mount machinery only imported when the rootfs
is still mounted.
"""

from __future__ import annotations

import os
import time

__all__ = ["cleanup"]


def cleanup(bundle: str, namespace: str, id: str) -> tuple[int, int, int]:
    """Force-delete the runc container, unmount the rootfs.

    Idempotent and bounded (runc gets 4 s). Returns ``(pid, exit_status,
    exited_at_ns)`` for the ``DeleteResponse``. A dead shim's socket is the
    runner's to remove, for every runtime.
    """
    from impl.shim import KILLED_STATUS, unmount_rootfs

    from ._runc import RUNC_ROOT, RuncError, delete_force_sync, read_pid

    pid = 0
    try:
        pid = read_pid(os.path.join(bundle, "init.pid"))
    except (OSError, RuncError):
        pass
    delete_force_sync(os.path.join(RUNC_ROOT, namespace), id, log_path=os.path.join(bundle, "log.json"))
    unmount_rootfs(bundle)
    return pid, KILLED_STATUS, time.time_ns()
