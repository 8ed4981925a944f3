"""cgroup v2 metrics from unified-layout trees the tests write themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from impl.shim.cgroups import MAX_UINT64, CgroupFormatError, CgroupNotFound, read_v2_metrics, v2_dir

FILES = {
    "cpu.stat": "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n"
                "nr_periods 10\nnr_throttled 2\nthrottled_usec 777\ncore_sched.force_idle_usec 0\n",
    "memory.current": "52428800\n",
    "memory.max": "max\n",
    "memory.swap.current": "0\n",
    "memory.swap.max": "1048576\n",
    "memory.stat": "anon 41943040\nfile 8388608\ninactive_file 4194304\nactive_file 4194304\n"
                   "pgfault 12345\npgmajfault 6\nworkingset_refault_anon 0\nkernel 1\n",
    "memory.events": "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n",
    "pids.current": "4\n",
    "pids.max": "max\n",
    "io.stat": "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=1 wbytes=2 rios=3 wios=4\n",
    "hugetlb.2MB.current": "2097152\n",
    "hugetlb.2MB.max": "max\n",
}


def _lay_out(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_fields_cri_reads(tmp_path: Path) -> None:
    m = read_v2_metrics(str(_lay_out(tmp_path / "kubepods/pod1/ctr", FILES)))
    assert m.cpu.usage_usec == 123456 and m.cpu.user_usec == 100000 and m.cpu.system_usec == 23456
    assert (m.cpu.nr_periods, m.cpu.nr_throttled, m.cpu.throttled_usec) == (10, 2, 777)
    assert m.memory.usage == 52428800
    assert m.memory.usage_limit == MAX_UINT64
    assert (m.memory.swap_usage, m.memory.swap_limit) == (0, 1048576)
    assert m.memory.anon == 41943040 and m.memory.file == 8388608
    assert m.memory.inactive_file == 4194304
    assert (m.memory.pgfault, m.memory.pgmajfault) == (12345, 6)
    assert (m.memory_events.max, m.memory_events.oom, m.memory_events.oom_kill) == (3, 2, 1)
    assert m.pids.current == 4 and m.pids.limit == 0
    assert [(e.major, e.minor, e.rbytes, e.wbytes, e.rios, e.wios) for e in m.io.usage] == [
        (8, 0, 4096, 8192, 1, 2), (253, 1, 1, 2, 3, 4)]
    assert [(h.pagesize, h.current, h.max) for h in m.hugetlb] == [("2MB", 2097152, MAX_UINT64)]


def test_limits_and_missing_controllers(tmp_path: Path) -> None:
    # Only the memory controller enabled: the rest stays unset.
    d = _lay_out(tmp_path / "c", {"memory.current": "10\n", "memory.max": "1073741824\n", "pids.max": "9\n"})
    m = read_v2_metrics(str(d))
    assert m.memory.usage == 10 and m.memory.usage_limit == 1 << 30
    assert not m.HasField("cpu") and not m.HasField("pids")


def test_v2_dir_places_relative_and_absolute_paths(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("0::/system.slice/shim.scope\n")
    assert v2_dir("/kubepods/ctr", root=str(tmp_path)) == f"{tmp_path}/kubepods/ctr"
    assert v2_dir("ctr", root="/sys/fs/cgroup", proc_cgroup=str(proc)) == "/sys/fs/cgroup/system.slice/shim.scope/ctr"


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(CgroupNotFound, match="gone"):
        read_v2_metrics(str(tmp_path / "gone"))


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [("memory.current", "lots\n", "line 1"), ("cpu.stat", "usage_usec 1\nuser_usec\n", "line 2"),
     ("io.stat", "8-0 rbytes=1\n", "line 1"), ("memory.events", "oom_kill -1\n", "line 1")],
)
def test_malformed_file_is_named(tmp_path: Path, name: str, text: str, where: str) -> None:
    d = _lay_out(tmp_path / "c", {name: text})
    with pytest.raises(CgroupFormatError) as info:
        read_v2_metrics(str(d))
    assert str(info.value).startswith(f"{d / name}: {where}: ")
