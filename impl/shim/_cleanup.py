"""What the ``delete`` action does for any runtime: unmount the rootfs, report a killed task.

Kept free of protobuf, asyncio and ``typing`` (the ``delete`` process lives a
few milliseconds): the mount(2) machinery is imported only when the rootfs is
still mounted.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["KILLED_STATUS", "cleanup_bundle", "unmount_rootfs"]

KILLED_STATUS = 128 + 9
"""The serving shim that knew the real status is gone: report a killed task, as containerd does."""


def unmount_rootfs(bundle: str) -> None:
    """Unmount whatever is still mounted on ``<bundle>/rootfs``; a problem goes to stderr.

    containerd logs the ``delete`` action's stderr as cleanup warnings.
    """
    from ._mountinfo import is_mounted

    rootfs = os.path.join(bundle, "rootfs")
    if is_mounted(rootfs):
        from ._mount import unmount_all

        try:
            unmount_all(rootfs)
        except OSError as err:
            sys.stderr.write(f"cleanup: {err}\n")


def cleanup_bundle(bundle: str, namespace: str, id: str) -> tuple[int, int, int]:
    """A ``ShimOptions.cleanup`` for runtimes whose processes die with their shim.

    Unmounts the rootfs and returns ``(0, KILLED_STATUS, now_ns)``.
    Idempotent; ``namespace`` and ``id`` are unused here.
    """
    unmount_rootfs(bundle)
    return 0, KILLED_STATUS, time.time_ns()
