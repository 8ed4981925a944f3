"""``containerd-shim-pyrunc-v1`` under containerd 1.6, 1.7 and 2.1 (pinned), driven only through ``ctr``."""

from __future__ import annotations

import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from impl.shim import read_address, socket_address

from _containerd import (
    GO_RUNTIME,
    PYRUNC_RUNTIME,
    Containerd,
    CtrEvents,
    assert_nothing_left,
    docker_archive,
    mounts_under,
    unique_id,
    wait_until,
)

pytestmark = pytest.mark.e2e


def _gone_or_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def assert_clean(ctrd: Containerd, *ids: str) -> None:
    """Nothing of these containers is left (detached ones' FIFOs are their ctr's to remove)."""
    assert_nothing_left(ctrd, ids, fifo_check=False)


def test_run_echo_prints_hi(ctrd: Containerd) -> None:
    id = unique_id("echo")
    proc = ctrd.ctr(*ctrd.run_args(id, "/bin/echo", "hi"))
    assert proc.stdout == "hi\n"
    assert_clean(ctrd, id)


def test_exit_code_propagates(ctrd: Containerd) -> None:
    id = unique_id("exit7")
    proc = ctrd.ctr(*ctrd.run_args(id, "/bin/sh", "-c", "echo out; echo err >&2; exit 7"), check=False)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == "out\n"
    assert "err\n" in proc.stderr
    assert_clean(ctrd, id)


def test_detached_ps_kill_rm(ctrd: Containerd) -> None:
    id = unique_id("detached")
    ctrd.ctr(*ctrd.run_args(id, "/bin/sleep", "1000", detach=True))
    pid, status = ctrd.tasks()[id]
    assert status == "RUNNING"
    assert pid > 0
    ps = ctrd.ctr("task", "ps", id).stdout.split()
    assert str(pid) in ps
    ctrd.ctr("task", "pause", id)
    assert ctrd.tasks()[id][1] == "PAUSED"
    ctrd.ctr("task", "resume", id)
    assert ctrd.tasks()[id][1] == "RUNNING"
    ctrd.ctr("task", "kill", "-s", "KILL", id)
    wait_until(lambda: ctrd.tasks()[id][1] == "STOPPED", 10, f"{id} to be STOPPED")
    again = ctrd.ctr("task", "kill", "-s", "KILL", id, check=False)
    assert ctrd.failed_with(again, "not found", "process already finished"), again.stderr
    rm = ctrd.ctr("task", "rm", id)
    assert "exit code 137" in rm.stderr  # ctr reports the task's exit status on delete
    ctrd.ctr("c", "rm", id)
    assert_clean(ctrd, id)


def test_exec_runs_a_second_process(ctrd: Containerd) -> None:
    id = unique_id("exec")
    ctrd.ctr(*ctrd.run_args(id, "/bin/sleep", "1000", detach=True))
    try:
        out = ctrd.ctr("task", "exec", "--exec-id", "e1", id, "/bin/sh", "-c", "echo in-$0; cat /proc/1/cmdline")
        assert out.stdout.startswith("in-/bin/sh\n")
        assert "sleep" in out.stdout  # same pid namespace as the container's init
        failed = ctrd.ctr("task", "exec", "--exec-id", "e2", id, "/bin/sh", "-c", "exit 3", check=False)
        assert failed.returncode == 3
        assert ctrd.tasks()[id][1] == "RUNNING"
    finally:
        ctrd.ctr("task", "kill", "-s", "KILL", id)
        wait_until(lambda: ctrd.tasks()[id][1] == "STOPPED", 10, f"{id} to be STOPPED")
        ctrd.ctr("task", "rm", id)
        ctrd.ctr("c", "rm", id)
    assert_clean(ctrd, id)


def test_events_in_order(ctrd: Containerd) -> None:
    id = unique_id("events")
    with CtrEvents(ctrd) as events:
        events.subscribed()
        ctrd.ctr(*ctrd.run_args(id, "/bin/sh", "-c", "exit 5"), check=False)
        mine = events.collect(id, "/tasks/delete")
    topics = [line.split()[5] for line in mine]
    assert topics == ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"], mine
    exit_line = mine[2].replace(" ", "")
    assert f'"id":"{id}"' in exit_line  # the init's TaskExit carries id == container_id
    assert '"exit_status":5' in exit_line
    assert_clean(ctrd, id)


def test_exec_events(ctrd: Containerd) -> None:
    id = unique_id("execev")
    ctrd.ctr(*ctrd.run_args(id, "/bin/sleep", "1000", detach=True))
    try:
        with CtrEvents(ctrd) as events:
            events.subscribed()
            ctrd.ctr("task", "exec", "--exec-id", "x1", id, "/bin/sh", "-c", "exit 4", check=False)
            mine = events.collect(id, "/tasks/exit")
    finally:
        ctrd.ctr("task", "kill", "-s", "KILL", id)
        wait_until(lambda: ctrd.tasks()[id][1] == "STOPPED", 10, f"{id} to be STOPPED")
        ctrd.ctr("task", "rm", id)
        ctrd.ctr("c", "rm", id)
    assert [line.split()[5] for line in mine] == ["/tasks/exec-added", "/tasks/exec-started", "/tasks/exit"], mine
    assert '"exec_id":"x1"' in mine[0].replace(" ", "")
    exit_line = mine[2].replace(" ", "")
    assert '"id":"x1"' in exit_line and '"exit_status":4' in exit_line
    assert_clean(ctrd, id)


def test_shim_killed_mid_run_is_cleaned_up_by_delete(ctrd: Containerd) -> None:
    id = unique_id("sigkill")
    ctrd.ctr(*ctrd.run_args(id, "/bin/sleep", "1000", detach=True))
    task_pid, _ = ctrd.tasks()[id]
    with open(f"/proc/{task_pid}/status") as f:
        shim_pid = int(next(line for line in f if line.startswith("PPid:")).split()[1])
    assert ctrd.shim_pids(id) == [shim_pid], "the container's parent is the serving shim (a subreaper)"
    address = read_address(str(ctrd.bundle(id) / "address"))
    assert address == socket_address(ctrd.address, ctrd.namespace, id)
    assert os.path.exists(ctrd.socket_path(id))

    os.kill(shim_pid, signal.SIGKILL)
    # containerd sees the connection drop, runs `delete` (which force-deletes
    # the runc container), publishes the exit itself and removes the bundle.
    wait_until(lambda: not ctrd.bundle(id).exists(), 20, f"containerd to remove the bundle of {id}")
    assert id not in ctrd.tasks()
    assert _gone_or_zombie(task_pid), f"container init {task_pid} survived cleanup"
    assert not os.path.exists(f"/run/containerd/runc/{ctrd.namespace}/{id}")
    ctrd.ctr("c", "rm", id)
    assert_clean(ctrd, id)


def test_twenty_in_sequence_and_five_in_parallel(ctrd: Containerd) -> None:
    seq = [unique_id(f"seq{i}") for i in range(20)]
    for id in seq:
        proc = ctrd.ctr(*ctrd.run_args(id, "/bin/sh", "-c", f"echo {id}"))
        assert proc.stdout == f"{id}\n"
    par = [unique_id(f"par{i}") for i in range(5)]

    def run(id: str) -> subprocess.CompletedProcess[str]:
        return ctrd.ctr(*ctrd.run_args(id, "/bin/sh", "-c", f"echo {id}; exit {len(id) % 7}"), check=False)

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(run, par))
    for id, proc in zip(par, results):
        assert (proc.returncode, proc.stdout) == (len(id) % 7, f"{id}\n"), proc.stderr
    assert_clean(ctrd, *seq, *par)
    namespace_dir = ctrd.bundle(seq[0]).parent
    assert not set(seq + par) & set(os.listdir(namespace_dir))


@pytest.mark.parametrize("runtime", [PYRUNC_RUNTIME, GO_RUNTIME], ids=["pyrunc", "go-runc"])
def test_twenty_parallel_runs_leave_nothing(ctrd: Containerd, runtime: str) -> None:
    """20 ``ctr run --rm`` at once: each exits 0 with its output (the Go shim: or with none, a race of
    its own); no shim, socket, FIFO, mount, cgroup or runc state left."""
    ids = [unique_id(f"par20-{i}") for i in range(20)]

    def run(id: str) -> subprocess.CompletedProcess[str]:
        return ctrd.ctr(*ctrd.run_args(id, "/bin/sh", "-c", f"echo {id}", runtime=runtime), check=False, timeout=120)

    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        results = list(pool.map(run, ids))
    wrong = [(id, p.returncode, p.stdout, p.stderr) for id, p in zip(ids, results) if (p.returncode, p.stdout) != (0, f"{id}\n")]
    if runtime == GO_RUNTIME:
        # The Go stack's own race: a run that exits 0 with no output at all, on every pinned
        # containerd (16 of 42 of these tests under two busy loops; pyrunc 0 of 42). Anything else
        # is still wrong, and the Go shim must still leave nothing behind.
        wrong = [w for w in wrong if w[1:] != (0, "", "")]
    assert wrong == []
    assert_nothing_left(ctrd, ids)


def _image(ctrd: Containerd) -> str:
    """A busybox image of the daemon's rootfs, imported (and unpacked) once."""
    ref = "docker.io/shimtypes/busybox:e2e"
    return ctrd.import_archive(ref, docker_archive(ctrd.rootfs, ref))


def test_image_rootfs_is_mounted_by_the_shim_and_unmounted(ctrd: Containerd) -> None:
    """With an image, Create carries the snapshot's mounts: the shim mounts them on <bundle>/rootfs."""
    image = _image(ctrd)
    id = unique_id("image")
    proc = ctrd.ctr("run", "--rm", "--runtime", PYRUNC_RUNTIME, image, id, "/bin/sh", "-c", "echo hi; cat /proc/self/mountinfo")
    assert proc.stdout.startswith("hi\n")
    root_line = next(line for line in proc.stdout.splitlines()[1:] if line.split()[4] == "/")
    assert "io.containerd.snapshotter.v1" in root_line  # the snapshot's mount, not the empty bundle dir
    assert mounts_under(ctrd.state) == []
    assert_clean(ctrd, id)


def test_shim_killed_with_a_mounted_rootfs_is_unmounted_by_delete(ctrd: Containerd) -> None:
    image = _image(ctrd)
    id = unique_id("imgkill")
    ctrd.ctr("run", "-d", "--runtime", PYRUNC_RUNTIME, image, id, "/bin/sleep", "1000")
    rootfs = ctrd.bundle(id) / "rootfs"
    assert mounts_under(ctrd.state) == [str(rootfs)]
    task_pid, _ = ctrd.tasks()[id]
    [shim_pid] = ctrd.shim_pids(id)
    os.kill(shim_pid, signal.SIGKILL)
    wait_until(lambda: not ctrd.bundle(id).exists(), 20, f"containerd to remove the bundle of {id}")
    assert mounts_under(ctrd.state) == []
    assert _gone_or_zombie(task_pid)
    ctrd.ctr("c", "rm", id)
    assert_clean(ctrd, id)


def test_go_runc_shim_still_works_beside_it(ctrd: Containerd) -> None:
    """The harness itself: the stock shim runs on the same daemon (the bench's reference)."""
    id = unique_id("gorunc")
    proc = ctrd.ctr(*ctrd.run_args(id, "/bin/echo", "hi", runtime="io.containerd.runc.v2"))
    assert proc.stdout == "hi\n"
    assert_clean(ctrd, id)
