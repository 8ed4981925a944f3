"""Runtime options as containerd users set them, seen where they matter: runc's command line.

A private containerd whose ``io.containerd.runc.v2`` is pyrunc (the
console script under the Go shim's binary name, first on the daemon's
PATH), so ``ctr run --runc-binary/--runc-root/--no-pivot/--runc-systemd-cgroup``
send ``containerd.runc.v1.Options`` exactly as they would to the Go shim.
``runc`` on that PATH is a recorder: it appends its argv to a file and
execs the real runc (a real process, not a mock).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from _containerd import GO_RUNTIME as RUNC_V2
from _containerd import (
    Containerd,
    docker_archive,
    install_busybox,
    missing_requirement,
    new_tmp,
    pyrunc_shim,
    recorder,
    running,
    unique_id,
    wait_until,
)
from _peers import VERSIONS, containerd_peer, runc
from impl.shim import OPTIONS_FILE

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=VERSIONS, ids=lambda v: f"containerd-{v}")
def daemon(request: pytest.FixtureRequest) -> Iterator[Containerd]:
    reason = missing_requirement()
    if reason is not None:
        pytest.skip(f"e2e: {reason}")
    real = runc()
    assert real is not None
    tmp = new_tmp("shimtypes-opts-")
    tmp.chmod(0o711)  # a user-namespaced container's root (host uid 1000) must reach its rootfs below it
    shim = pyrunc_shim()
    d = Containerd(
        containerd_peer(request.param),
        tmp,
        shims={"containerd-shim-runc-v2": shim},  # first on the PATH: before the version's Go shim
        wrappers={"runc": recorder(tmp / "runc.argv", real)},
        env={"SHIMTYPES_ZYGOTE": "0"},  # the daemon's shims fork from start: no zygote outlives the module
    )
    install_busybox(d.rootfs)
    (tmp / "other-runc").write_text(recorder(tmp / "other-runc.argv", real))
    (tmp / "other-runc").chmod(0o755)
    with running(d):
        yield d


def _calls(log: Path, id: str) -> list[list[str]]:
    """The recorded runc command lines that name ``id`` (argv without the program)."""
    if not log.exists():
        return []
    return [line.split() for line in log.read_text().splitlines() if id in line.split()]


def _create(calls: list[list[str]]) -> list[str]:
    found = [c for c in calls if "create" in c]
    assert len(found) == 1, calls
    return found[0]


def _run(d: Containerd, id: str, *flags: str, check: bool = True) -> str:
    out = d.ctr("run", "--rm", "--runtime", RUNC_V2, *flags, "--rootfs", str(d.rootfs), id, "/bin/echo", "hi", check=check)
    return out.stdout


def _flag_value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_without_options_runc_gets_the_defaults(daemon: Containerd) -> None:
    id = unique_id("noopt")
    assert _run(daemon, id).strip() == "hi"
    create = _create(_calls(daemon.tmp / "runc.argv", id))
    assert _flag_value(create, "--root") == f"/run/containerd/runc/{daemon.namespace}"
    assert not {"--no-pivot", "--no-new-keyring", "--systemd-cgroup"} & set(create)


def test_binary_name_runs_that_binary_for_every_command(daemon: Containerd) -> None:
    id = unique_id("binary")
    daemon.ctr("run", "-d", "--runtime", RUNC_V2, "--runc-binary", str(daemon.tmp / "other-runc"),
               "--rootfs", str(daemon.rootfs), id, "/bin/sleep", "30")  # fmt: skip
    try:
        assert (daemon.bundle(id) / OPTIONS_FILE).exists(), "pyrunc (which keeps the options) serves it"
        daemon.ctr("task", "kill", "-s", "KILL", id)
        wait_until(lambda: daemon.tasks().get(id, (0, ""))[1] == "STOPPED", 20, f"{id} to stop")
        daemon.ctr("task", "rm", id)
    finally:
        daemon.ctr("c", "rm", id, check=False)
    ours = _calls(daemon.tmp / "other-runc.argv", id)
    assert {"create", "start", "kill", "delete"} <= {word for call in ours for word in call}
    assert _calls(daemon.tmp / "runc.argv", id) == [], "the default runc was never run for it"


def test_root_is_runcs_root_per_namespace(daemon: Containerd) -> None:
    id = unique_id("root")
    root = daemon.tmp / "runc-root"
    assert _run(daemon, id, "--runc-root", str(root)).strip() == "hi"
    calls = _calls(daemon.tmp / "runc.argv", id)
    assert {_flag_value(c, "--root") for c in calls} == {f"{root}/{daemon.namespace}"}
    assert root.is_dir() and not (root / daemon.namespace / id).exists()


def test_no_pivot_reaches_runc_create(daemon: Containerd) -> None:
    id = unique_id("nopivot")
    assert _run(daemon, id, "--no-pivot").strip() == "hi"
    assert "--no-pivot" in _create(_calls(daemon.tmp / "runc.argv", id))


def test_systemd_cgroup_is_runcs_global_flag(daemon: Containerd) -> None:
    id = unique_id("systemd")
    # No systemd on this machine: runc refuses, but the flag must have reached it.
    _run(daemon, id, "--runc-systemd-cgroup", "--cgroup", "machine.slice:shimtypes:e2e", check=False)
    daemon.ctr("c", "rm", id, check=False)
    create = _create(_calls(daemon.tmp / "runc.argv", id))
    assert create.index("--systemd-cgroup") < create.index("create")


def test_io_uid_and_gid_own_the_containers_fifos(daemon: Containerd) -> None:
    # From an image: ctr 1.7+ applies --uidmap (a user namespace, a remapped snapshot, and
    # IoUid/IoGid from the spec's first mappings) only there, not with --rootfs.
    ref = "docker.io/shimtypes/busybox:options"
    image = daemon.import_archive(ref, docker_archive(daemon.rootfs, ref))
    id = unique_id("iouid")
    daemon.ctr("run", "-d", "--runtime", RUNC_V2, "--uidmap", "0:1000:65536", "--gidmap", "0:2000:65536",
               image, id, "/bin/sleep", "30")  # fmt: skip
    try:
        fifos = list(Path("/run/containerd/fifo").glob(f"*/{id}-std*"))
        assert fifos, "ctr made FIFOs for the task"
        owners = {p.name.rsplit("-", 1)[1]: (p.stat().st_uid, p.stat().st_gid) for p in fifos}
        # The shim chowns all three to IoUid:IoGid before runc runs; runc then
        # gives the output fds it hands the container back to uid 0 (seen
        # here), so stdin shows the uid and every FIFO the gid.
        assert owners["stdin"] == (1000, 2000), owners
        assert {gid for _, gid in owners.values()} == {2000}, owners
        daemon.ctr("task", "kill", "-s", "KILL", id)
        wait_until(lambda: daemon.tasks().get(id, (0, ""))[1] == "STOPPED", 20, f"{id} to stop")
        daemon.ctr("task", "rm", id)
    finally:
        daemon.ctr("c", "rm", id, check=False)
