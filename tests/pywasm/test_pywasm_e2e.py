"""``containerd-shim-pywasm-v1`` under containerd 1.6, 1.7 and 2.1 (pinned), driven only through ``ctr``."""

from __future__ import annotations

import os
import select
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from _containerd import Containerd, CtrEvents, assert_nothing_left, docker_archive, fifos, wait_until
from _peers import containerd_peer

from ._ctrd import RUNTIME, unique_id, wasm_containerd

pytestmark = pytest.mark.e2e


def assert_clean(ctrd: Containerd, *ids: str, fifos: bool = True) -> None:
    """Nothing of these containers is left (``assert_nothing_left``).

    ``fifos=False`` when no ``ctr`` removed them: a detached task's FIFOs are
    its client's, removed by ``ctr task rm``, not by containerd or the shim.
    """
    assert_nothing_left(ctrd, ids, fifo_check=fifos)


def _stop_and_remove(ctrd: Containerd, id: str) -> None:
    ctrd.ctr("task", "kill", "-s", "KILL", id, check=False)
    wait_until(lambda: ctrd.tasks().get(id, (0, "STOPPED"))[1] == "STOPPED", 10, f"{id} to be STOPPED")
    ctrd.ctr("task", "rm", id, check=False)
    ctrd.ctr("c", "rm", id, check=False)


def test_hello_with_args_and_env(ctrd: Containerd) -> None:
    id = unique_id("hello")
    proc = ctrd.ctr(*ctrd.run_args(id, "/echo.wasm", "one", "two words", env=("GREETING=hi there",)))
    assert proc.stdout == "/echo.wasm\none\ntwo words\nGREETING=hi there\n"
    assert_clean(ctrd, id)


def test_exit_status_7(ctrd: Containerd) -> None:
    id = unique_id("exit7")
    proc = ctrd.ctr(*ctrd.run_args(id, "/exit7.wasm"), check=False)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == "out\n" and "err\n" in proc.stderr
    assert_clean(ctrd, id)


def test_trap_exits_134_and_reaches_the_shim_log(ctrd: Containerd) -> None:
    id = unique_id("trap")
    offset = ctrd.log_size()
    proc = ctrd.ctr(*ctrd.run_args(id, "/trap.wasm"), check=False)
    assert proc.returncode == 134, proc.stderr
    assert proc.stdout == "before the trap\n"
    assert "pywasm: module /trap.wasm trapped: " in proc.stderr and "unreachable" in proc.stderr
    wait_until(lambda: "pywasm: module /trap.wasm trapped" in ctrd.log_tail(offset), 10, "the trap in the shim log")
    line = next(line for line in ctrd.log_tail(offset).splitlines() if "/trap.wasm trapped" in line)
    assert id in line and "level=error" in line
    assert_clean(ctrd, id)


def test_reads_a_file_from_the_rootfs(ctrd: Containerd) -> None:
    id = unique_id("cat")
    assert ctrd.ctr(*ctrd.run_args(id, "/bin/cat.wasm")).stdout == "hello from the rootfs\n"
    assert_clean(ctrd, id)


def test_cwd_is_the_dot_preopen(ctrd: Containerd) -> None:
    id = unique_id("cwd")
    proc = ctrd.ctr("run", "--rm", "--cwd", "/etc", "--runtime", RUNTIME, "--rootfs", str(ctrd.rootfs), id, "../bin/catcwd.wasm")
    assert proc.stdout == "hello from the rootfs\n"
    assert_clean(ctrd, id)


def test_output_written_just_before_exit_is_not_lost(ctrd: Containerd) -> None:
    id = unique_id("flood")
    proc = ctrd.ctr(*ctrd.run_args(id, "/flood.wasm"), check=False)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "a" * (16 * 65536)
    assert_clean(ctrd, id)


def test_memory_limit_bounds_linear_memory(ctrd: Containerd) -> None:
    ids = [unique_id("mem"), unique_id("mem")]
    limited = ["run", "--rm", "--memory-limit", str(1 << 20), "--runtime", RUNTIME, "--rootfs", str(ctrd.rootfs)]
    assert ctrd.ctr(*limited, ids[0], "/grow.wasm", check=False).returncode == 5
    assert ctrd.ctr(*ctrd.run_args(ids[1], "/grow.wasm"), check=False).returncode == 0
    too_small = unique_id("mem")
    limited[3] = "65536"  # below the module's initial 256 KiB: Create fails
    proc = ctrd.ctr(*limited, too_small, "/grow.wasm", check=False)
    assert ctrd.failed_with(proc, "invalid argument", "cannot instantiate"), proc.stderr
    ctrd.ctr("c", "rm", too_small, check=False)
    assert_clean(ctrd, *ids, too_small)


def test_stdin_reaches_the_module(ctrd: Containerd) -> None:
    id = unique_id("stdin")
    proc = subprocess.run(
        ctrd.ctr_argv(*ctrd.run_args(id, "/stdin.wasm")),
        input="line one\nline two\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (0, "line one\nline two\n"), proc.stderr
    assert_clean(ctrd, id)


@pytest.mark.parametrize(
    ("module", "kind", "detail"),
    [
        ("/nope.wasm", "not found", "module /nope.wasm (in rootfs "),
        ("/not-wasm.wasm", "invalid argument", "not a WebAssembly module"),
    ],
)
def test_bad_module_fails_create_naming_the_path(ctrd: Containerd, module: str, kind: str, detail: str) -> None:
    id = unique_id("bad")
    proc = ctrd.ctr(*ctrd.run_args(id, module), check=False)
    assert ctrd.failed_with(proc, kind, detail), proc.stderr
    ctrd.ctr("c", "rm", id, check=False)
    assert_clean(ctrd, id)


def test_detached_loop_killed_with_sigkill_then_removed(ctrd: Containerd) -> None:
    id = unique_id("loop")
    ctrd.ctr(*ctrd.run_args(id, "/loop.wasm", detach=True))
    pid, status = ctrd.tasks()[id]
    assert status == "RUNNING" and pid > 0
    ctrd.ctr("task", "kill", "-s", "KILL", id)
    wait_until(lambda: ctrd.tasks()[id][1] == "STOPPED", 10, f"{id} to be STOPPED")
    again = ctrd.ctr("task", "kill", "-s", "KILL", id, check=False)
    assert ctrd.failed_with(again, "not found", "process already finished"), again.stderr
    rm = ctrd.ctr("task", "rm", id)
    assert "exit code 137" in rm.stderr
    ctrd.ctr("c", "rm", id)
    assert_clean(ctrd, id)


def test_sigterm_stops_a_loop_with_143(ctrd: Containerd) -> None:
    id = unique_id("term")
    ctrd.ctr(*ctrd.run_args(id, "/loop.wasm", detach=True))
    ctrd.ctr("task", "kill", id)  # SIGTERM
    wait_until(lambda: ctrd.tasks()[id][1] == "STOPPED", 10, f"{id} to be STOPPED")
    assert "exit code 143" in ctrd.ctr("task", "rm", id).stderr
    ctrd.ctr("c", "rm", id)
    assert_clean(ctrd, id)


def test_exec_runs_a_second_module(ctrd: Containerd) -> None:
    id = unique_id("exec")
    ctrd.ctr(*ctrd.run_args(id, "/loop.wasm", detach=True))
    try:
        out = ctrd.ctr("task", "exec", "--exec-id", "e1", id, "/echo.wasm", "in-exec")
        assert out.stdout.startswith("/echo.wasm\nin-exec\n")
        assert ctrd.ctr("task", "exec", "--exec-id", "e2", id, "/bin/cat.wasm").stdout == "hello from the rootfs\n"
        failed = ctrd.ctr("task", "exec", "--exec-id", "e3", id, "/exit7.wasm", check=False)
        assert failed.returncode == 7
        missing = ctrd.ctr("task", "exec", "--exec-id", "e4", id, "/nope.wasm", check=False)
        assert ctrd.failed_with(missing, "not found", "/nope.wasm"), missing.stderr
        assert ctrd.tasks()[id][1] == "RUNNING"
    finally:
        _stop_and_remove(ctrd, id)
    assert_clean(ctrd, id)


def test_ps_and_kill_all_reach_every_module(ctrd: Containerd) -> None:
    id = unique_id("killall")
    ctrd.ctr(*ctrd.run_args(id, "/loop.wasm", detach=True))
    try:
        init_pid, _ = ctrd.tasks()[id]
        ctrd.ctr("task", "exec", "--detach", "--exec-id", "bg", id, "/loop.wasm")
        pids = {int(line.split()[0]) for line in ctrd.ctr("task", "ps", id).stdout.splitlines()[1:] if line.strip()}
        assert len(pids) == 2 and init_pid in pids, pids
        (exec_pid,) = pids - {init_pid}
        init_fd, exec_fd = os.pidfd_open(init_pid), os.pidfd_open(exec_pid)
        try:
            ctrd.ctr("task", "kill", "--all", "-s", "KILL", id)
            wait_until(lambda: ctrd.tasks()[id][1] == "STOPPED", 10, f"{id} to be STOPPED")
            assert select.select([exec_fd], [], [], 10)[0] == [exec_fd], "the exec survived kill --all"
            assert select.select([init_fd], [], [], 10)[0] == [init_fd], "the init survived kill --all"
        finally:
            os.close(init_fd)
            os.close(exec_fd)
        # Pids of a stopped task lists its (exited) init pid alone: containerd's restore
        # deletes a task without it as a leaked shim (reference/containerd-versions.md)
        listed = [int(line.split()[0]) for line in ctrd.ctr("task", "ps", id).stdout.splitlines()[1:] if line.strip()]
        assert listed == [init_pid], listed
    finally:
        _stop_and_remove(ctrd, id)
    assert_clean(ctrd, id)


def test_events_in_order(ctrd: Containerd) -> None:
    id = unique_id("events")
    events = CtrEvents(ctrd)
    try:
        events.subscribed()
        ctrd.ctr(*ctrd.run_args(id, "/loop.wasm", detach=True))
        ctrd.ctr("task", "exec", "--exec-id", "x1", id, "/exit7.wasm", check=False)
        ctrd.ctr("task", "kill", "-s", "KILL", id)
        wait_until(lambda: ctrd.tasks()[id][1] == "STOPPED", 10, f"{id} to be STOPPED")
        ctrd.ctr("task", "rm", id, check=False)
        mine = events.collect(id, "/tasks/delete")
    finally:
        events.close()
        ctrd.ctr("c", "rm", id, check=False)
    topics = [line.split()[5] for line in mine]
    assert topics == [
        "/tasks/create",
        "/tasks/start",
        "/tasks/exec-added",
        "/tasks/exec-started",
        "/tasks/exit",
        "/tasks/exit",
        "/tasks/delete",
    ], mine
    compact = [line.replace(" ", "") for line in mine]
    assert '"exec_id":"x1"' in compact[2] and '"exec_id":"x1"' in compact[3]
    assert '"id":"x1"' in compact[4] and '"exit_status":7' in compact[4]
    assert f'"id":"{id}"' in compact[5] and '"exit_status":137' in compact[5]
    assert '"exit_status":137' in compact[6]
    assert_clean(ctrd, id)


def test_killed_shim_takes_its_modules_along(ctrd: Containerd) -> None:
    id = unique_id("shimkill")
    ctrd.ctr(*ctrd.run_args(id, "/loop.wasm", detach=True))
    task_pid, _ = ctrd.tasks()[id]
    pidfd = os.pidfd_open(task_pid)
    try:
        with open(f"/proc/{task_pid}/status") as f:
            shim_pid = int(next(line for line in f if line.startswith("PPid:")).split()[1])
        assert shim_pid in ctrd.shim_pids(id), "the module's parent is its serving shim"
        os.kill(shim_pid, signal.SIGKILL)
        wait_until(lambda: not ctrd.bundle(id).exists(), 20, f"containerd to remove the bundle of {id}")
        # PDEATHSIG: the module died with its shim (a pidfd polls readable once it exited).
        wait_until(lambda: bool(select.select([pidfd], [], [], 0)[0]), 10, f"module process {task_pid} to die")
    finally:
        os.close(pidfd)
    ctrd.ctr("c", "rm", id)
    assert_clean(ctrd, id, fifos=False)
    for path in fifos(id):
        os.unlink(path)
        if not os.listdir(os.path.dirname(path)):
            os.rmdir(os.path.dirname(path))


def test_ten_sequential_and_five_parallel_runs_leave_nothing(ctrd: Containerd) -> None:
    seq = [unique_id(f"seq{i}") for i in range(10)]
    for id in seq:
        proc = ctrd.ctr(*ctrd.run_args(id, "/echo.wasm", id))
        assert proc.stdout.startswith(f"/echo.wasm\n{id}\n")
    par = [unique_id(f"par{i}") for i in range(5)]

    def run(id: str) -> subprocess.CompletedProcess[str]:
        return ctrd.ctr(*ctrd.run_args(id, "/echo.wasm", id), check=False)

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(run, par))
    for id, proc in zip(par, results):
        assert proc.returncode == 0 and proc.stdout.startswith(f"/echo.wasm\n{id}\n"), proc.stderr
    assert_clean(ctrd, *seq, *par)


def test_image_rootfs_is_mounted_and_unmounted(ctrd: Containerd) -> None:
    """From an image, Create carries the snapshot's mounts: the SDK mounts them, the module reads them."""
    ref = "docker.io/shimtypes/pywasm:e2e"
    if ref not in ctrd.ctr("image", "ls", "-q").stdout.split():
        archive = ctrd.tmp / "pywasm-image.tar"
        archive.write_bytes(docker_archive(ctrd.rootfs, ref))
        ctrd.ctr("image", "import", str(archive))
    id = unique_id("image")
    proc = ctrd.ctr("run", "--rm", "--runtime", RUNTIME, ref, id, "/bin/cat.wasm")
    assert proc.stdout == "hello from the rootfs\n"
    assert_clean(ctrd, id)


def test_harness_sweep_leaves_no_shim_behind(tmp_path: Path) -> None:
    """The harness itself: a daemon stopped with a running task (a failed test) leaves no shim or module."""
    daemon = wasm_containerd(containerd_peer("1.6"), tmp_path)
    try:
        daemon.setup()
        id = unique_id("sweep")
        daemon.ctr(*daemon.run_args(id, "/loop.wasm", detach=True))
        task_pid, _ = daemon.tasks()[id]
        pidfd = os.pidfd_open(task_pid)
    finally:
        daemon.close()
    try:
        assert select.select([pidfd], [], [], 10)[0] == [pidfd], "the module outlived the sweep"
    finally:
        os.close(pidfd)
    wait_until(lambda: not daemon.shim_pids(id), 10, f"the shim of {id} to exit")
    assert fifos(id) == []
