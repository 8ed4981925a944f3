"""cgroup v1 metrics from this machine's real hierarchies, with a busy child inside."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from impl.shim.cgroups import CgroupNotFound, read_v1_metrics

from .conftest import join_v1_cgroup

# Touches 48 MiB of anonymous memory and burns CPU, then says so and waits on stdin.
BUSY = """
import sys
block = bytearray(48 << 20)
for i in range(0, len(block), 4096):
    block[i] = 1
n = 0
for i in range(3_000_000):
    n += i
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.read()
"""


def test_busy_child_has_cpu_memory_and_pids(v1_cgroup: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", BUSY], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        preexec_fn=lambda: join_v1_cgroup(v1_cgroup),
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        m = read_v1_metrics(v1_cgroup)
    finally:
        child.kill()
        child.wait()
    assert m.cpu.usage.total > 0
    assert sum(m.cpu.usage.per_cpu) > 0
    assert m.cpu.usage.user + m.cpu.usage.kernel > 0
    assert m.memory.usage.usage >= 48 << 20
    assert m.memory.usage.limit > 0 and m.memory.usage.max >= m.memory.usage.usage
    assert m.memory.total_rss >= 40 << 20
    assert m.memory.pg_fault > 0
    # CRI's working set is usage minus total_inactive_file.
    assert m.memory.usage.usage > m.memory.total_inactive_file
    assert m.pids.current == 1
    assert m.pids.limit == 0  # pids.max is "max"
    assert m.memory_oom_control.oom_kill == 0


def test_limits_are_read(v1_cgroup: str) -> None:
    memory = Path("/sys/fs/cgroup/memory", v1_cgroup.lstrip("/"))
    (memory / "memory.limit_in_bytes").write_text(str(64 << 20))
    Path("/sys/fs/cgroup/pids", v1_cgroup.lstrip("/"), "pids.max").write_text("17")
    m = read_v1_metrics(v1_cgroup)
    assert m.memory.usage.limit == 64 << 20
    assert m.memory.hierarchical_memory_limit == 64 << 20
    assert m.pids.limit == 17 and m.pids.current == 0


def test_relative_path_is_below_own_cgroup(v1_cgroup: str, tmp_path: Path) -> None:
    # A relative cgroupsPath is below the cgroup of the process running runc.
    parent, _, name = v1_cgroup.rpartition("/")
    proc = tmp_path / "cgroup"
    proc.write_text("".join(f"{i}:{c}:{parent or '/'}\n" for i, c in enumerate(("cpu", "cpuacct", "memory", "pids", "blkio"))))
    (Path("/sys/fs/cgroup/pids") / name / "pids.max").write_text("5")
    assert read_v1_metrics(name, proc_cgroup=str(proc)).pids.limit == 5


def test_missing_cgroup_is_named(tmp_path: Path) -> None:
    with pytest.raises(CgroupNotFound, match="shimtypes-no-such"):
        read_v1_metrics("/shimtypes-no-such", root=str(tmp_path))
