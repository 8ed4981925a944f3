"""linux.cgroupsPath resolved as runc resolves it, cgroupfs and systemd drivers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impl.shim.cgroups import (
    CgroupPathError,
    cgroup_path_from_spec,
    expand_slice,
    systemd_cgroup_path,
    v1_controller_dir,
)


def _spec(path: object) -> dict[str, object]:
    return {"linux": {"cgroupsPath": path}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("/default/c1", "/default/c1"), ("/a/../b//c/", "/b/c"), ("rel/c1", "rel/c1"),
     ("../../escape", "escape"), ("", "c1"), (None, "c1")],
)
def test_cgroupfs(raw: object, expected: str) -> None:
    assert cgroup_path_from_spec(_spec(raw), "c1", systemd=False) == expected


def test_no_linux_section_is_the_container_id() -> None:
    assert cgroup_path_from_spec({}, "c1", systemd=False) == "c1"
    assert cgroup_path_from_spec({}, "c1", systemd=True) == "/system.slice/runc-c1.scope"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("kubepods-besteffort-pod12.slice:cri-containerd:abc",
         "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-abc.scope"),
        ("system.slice:docker:1234", "/system.slice/docker-1234.scope"),
        (":runc:x", "/system.slice/runc-x.scope"),
        ("-.slice:p:x", "/p-x.scope"),
        ("machine.slice:p:inner.slice", "/machine.slice/inner.slice"),
    ],
)
def test_systemd(raw: str, expected: str) -> None:
    assert cgroup_path_from_spec(_spec(raw), "c1", systemd=True) == expected


@pytest.mark.parametrize("bad", ["/abs/path", "a:b", "a.slice:b:c:d", "test--a.slice:p:n", "-x.slice:p:n",
                                 "a/b.slice:p:n", "nosuffix:p:n", ".slice:p:n"])
def test_systemd_rejects_what_runc_rejects(bad: str) -> None:
    with pytest.raises(CgroupPathError):
        systemd_cgroup_path(bad, "c1")


def test_non_string_is_named() -> None:
    with pytest.raises(CgroupPathError, match=r"linux\.cgroupsPath: expected a string, got int"):
        cgroup_path_from_spec(_spec(5), "c1", systemd=False)


@given(st.lists(st.from_regex(r"[a-z0-9_]{1,8}", fullmatch=True), min_size=1, max_size=5))
def test_expand_slice_nests_each_prefix(parts: list[str]) -> None:
    path = expand_slice("-".join(parts) + ".slice")
    components = path.strip("/").split("/")
    assert components == ["-".join(parts[: i + 1]) + ".slice" for i in range(len(parts))]


def test_v1_dir_relative_uses_own_cgroup_per_controller(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/shim/m\n2:cpu,cpuacct:/shim/c\n0::/\n")
    assert v1_controller_dir("c1", "memory", proc_cgroup=str(proc)) == "/sys/fs/cgroup/memory/shim/m/c1"
    assert v1_controller_dir("c1", "cpuacct", proc_cgroup=str(proc)) == "/sys/fs/cgroup/cpuacct/shim/c/c1"
    assert v1_controller_dir("/abs", "pids", proc_cgroup=str(proc)) == "/sys/fs/cgroup/pids/abs"
    with pytest.raises(CgroupPathError, match="pids"):
        v1_controller_dir("c1", "pids", proc_cgroup=str(proc))
