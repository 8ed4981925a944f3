"""The harness's own parts, without root or a daemon: go test -v parsing and the offline image."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from ._image import BUSYBOX, TEST_IMAGE, go_arch, write_test_image
from ._suite import EXCLUDED, go_test_log, parse, selected

_OUTPUT = """\
=== RUN   TestNewClient
=== PAUSE TestNewClient
=== RUN   TestTaskUpdate
    container_linux_test.go:120: memory limit 32 != 64
--- FAIL: TestTaskUpdate (0.40s)
=== RUN   TestContainerUser
=== RUN   TestContainerUser/UserNameAndGroupName
=== RUN   TestHangs
=== CONT  TestNewClient
--- PASS: TestNewClient (0.00s)
time="2026-11-30T04:03:40Z" level=debug msg="a daemon line" namespace=ctrdc-1
--- PASS: TestContainerUser (0.21s)
    --- FAIL: TestContainerUser/UserNameAndGroupName (0.20s)
--- SKIP: TestDaemonCustomCgroup (0.00s)
    daemon_config_linux_test.go:126: test requires cgroup1
panic: test timed out after 10m0s
"""


def test_parse_top_level_outcomes() -> None:
    results = parse(_OUTPUT)
    assert {n: (r.outcome, r.seconds) for n, r in results.items()} == {
        "TestNewClient": ("PASS", 0.0),
        "TestTaskUpdate": ("FAIL", 0.40),
        "TestContainerUser": ("PASS", 0.21),  # a subtest's result is not the test's
        "TestHangs": ("NORESULT", 0.0),  # started, never reported: the binary died
        "TestDaemonCustomCgroup": ("SKIP", 0.0),
    }


def test_log_of_one_test() -> None:
    log = go_test_log(_OUTPUT, "TestTaskUpdate")
    assert "memory limit 32 != 64" in log and "--- FAIL: TestTaskUpdate" in log
    assert "TestNewClient" not in log and "daemon line" not in log
    assert "requires cgroup1" in go_test_log(_OUTPUT, "TestDaemonCustomCgroup")


def test_selection_drops_exactly_the_excluded() -> None:
    names = ["TestNewClient", "TestImagePull", "TestCheckpointRestore", "TestTaskUpdate"]
    assert selected(names) == ["TestNewClient", "TestTaskUpdate"]
    assert all(why.strip() for why in EXCLUDED.values())


@pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox-static is not installed")
def test_image_archive_is_a_consistent_oci_layout(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    write_test_image(archive)
    with tarfile.open(archive) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    blobs = {name.rsplit("/", 1)[1]: data for name, data in files.items() if name.startswith("blobs/sha256/")}
    assert all(hashlib.sha256(data).hexdigest() == digest for digest, data in blobs.items())
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    (entry,) = json.loads(files["index.json"])["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == TEST_IMAGE
    assert entry["platform"] == {"architecture": go_arch(), "os": "linux"}
    manifest = json.loads(blobs[entry["digest"].removeprefix("sha256:")])
    config = json.loads(blobs[manifest["config"]["digest"].removeprefix("sha256:")])
    (layer_desc,) = manifest["layers"]
    layer = gzip.decompress(blobs[layer_desc["digest"].removeprefix("sha256:")])
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        passwd = tar.extractfile(members["etc/passwd"]).read().decode()  # type: ignore[union-attr]
        group = tar.extractfile(members["etc/group"]).read().decode()  # type: ignore[union-attr]
    assert members["bin/busybox"].isfile() and members["bin/sh"].linkname == "busybox"
    assert members["bin/nc"].isfile() and members["tmp"].mode == 0o1777
    assert "www-data:x:33:33:" in passwd and "sys:x:3:3:" in passwd and "www-data:x:33:" in group


@pytest.mark.skipif(not Path(BUSYBOX).exists(), reason="busybox-static is not installed")
def test_image_archive_is_deterministic(tmp_path: Path) -> None:
    write_test_image(tmp_path / "a.tar")
    write_test_image(tmp_path / "b.tar")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
