"""Real cgroup v1 cgroups for tests: created under each controller, removed after."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from impl.shim.cgroups import CGROUP_ROOT, is_unified

V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "blkio")


@pytest.fixture
def v1_cgroup() -> Iterator[str]:
    """An absolute cgroup path present in every v1 controller used by the readers."""
    if os.geteuid() != 0 or is_unified() or not os.path.isdir(f"{CGROUP_ROOT}/memory"):
        pytest.skip("needs root on a cgroup v1 (hybrid) host")
    path = f"/shimtypes-test-{secrets.token_hex(4)}"
    made: list[Path] = []
    try:
        for controller in V1_CONTROLLERS:
            directory = Path(CGROUP_ROOT, controller, path.lstrip("/"))
            directory.mkdir()
            made.append(directory)
        yield path
    finally:
        for directory in made:
            # rmdir fails while a task is inside: each test kills and reaps its children first.
            directory.rmdir()


def join_v1_cgroup(path: str) -> None:
    """preexec_fn body: move the calling (child) process into ``path`` in every controller."""
    for controller in V1_CONTROLLERS:
        with open(os.path.join(CGROUP_ROOT, controller, path.lstrip("/"), "cgroup.procs"), "w") as f:
            f.write("0")
