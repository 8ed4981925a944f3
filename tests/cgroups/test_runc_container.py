"""The blocks against a real runc container: its cgroup from its spec, its metrics, runc update."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.any_pb2 import Any

from impl.shim.cgroups import (
    LINUX_RESOURCES_TYPE_URL,
    cgroup_path_from_spec,
    is_unified,
    read_v1_metrics,
    runc_update,
)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runc") or not os.path.exists("/bin/busybox") or is_unified(),
    reason="needs root, runc, busybox-static and cgroup v1",
)


@pytest.fixture
def container(tmp_path: Path) -> Iterator[tuple[list[str], str, dict[str, object]]]:
    bundle = tmp_path / "bundle"
    (bundle / "rootfs/bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", bundle / "rootfs/bin/busybox")
    (bundle / "rootfs/bin/sleep").symlink_to("busybox")
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"].update(args=["sleep", "1000"], terminal=False)
    cgroup = f"/shimtypes-runc-{secrets.token_hex(4)}"
    spec["linux"]["cgroupsPath"] = cgroup
    (bundle / "config.json").write_text(json.dumps(spec))
    runc = ["runc", "--root", str(tmp_path / "root")]
    cid = f"shimtypes-cg-{secrets.token_hex(4)}"
    # The container keeps the stdio it is given: a file, not a pipe run() would wait on.
    with open(tmp_path / "stdio", "w+") as stdio:
        started = subprocess.run([*runc, "run", "--detach", "--bundle", str(bundle), cid],
                                 stdin=subprocess.DEVNULL, stdout=stdio, stderr=stdio)
        assert started.returncode == 0, (tmp_path / "stdio").read_text()
    try:
        yield runc, cid, spec
    finally:
        subprocess.run([*runc, "delete", "--force", cid], check=True, capture_output=True)
    assert not Path("/sys/fs/cgroup/memory", cgroup.lstrip("/")).exists()


def test_metrics_and_update_of_a_runc_container(container: tuple[list[str], str, dict[str, object]]) -> None:
    runc, cid, spec = container
    path = cgroup_path_from_spec(spec, cid, systemd=False)
    before = read_v1_metrics(path)
    assert before.pids.current >= 1  # runc init's threads may not all be gone yet
    assert before.memory.usage.usage > 0
    assert before.cpu.usage.total > 0

    resources = {"memory": {"limit": 64 << 20}, "pids": {"limit": 50}, "cpu": {"shares": 256}}
    update = runc_update(cid, Any(type_url=LINUX_RESOURCES_TYPE_URL, value=json.dumps(resources).encode()))
    done = subprocess.run([*runc, *update.args], input=update.stdin, capture_output=True)
    assert done.returncode == 0, done.stderr

    after = read_v1_metrics(path)
    assert after.memory.usage.limit == 64 << 20
    assert after.pids.limit == 50
    assert Path("/sys/fs/cgroup/cpu", path.lstrip("/"), "cpu.shares").read_text().strip() == "256"
