"""What CRI needs beyond ``ctr run``, through containerd 1.6, 1.7 and 2.1 (pinned) and ``ctr``, on pyrunc and on Go's runc shim.

Stats, pause/resume (and their events), Update, terminals (``ctr run -t`` and
``ctr task exec -t`` driven through a pseudo-terminal), TaskOOM, and Kill
``--all`` on an exited init in a shared pid namespace.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest
from google.protobuf.any_pb2 import Any

from impl.shim import socket_address
from impl.shim.cgroups import LINUX_RESOURCES_TYPE_URL
from impl.ttrpc import TASK_V3_SERVICE_NAME, Client, Code, TaskClient, TTRPCError
from shimtypes.pb import task_pb2

from _containerd import GO_RUNTIME, PYRUNC_RUNTIME, Containerd, CtrEvents, unique_id, wait_until

pytestmark = pytest.mark.e2e

RUNTIMES = pytest.mark.parametrize("runtime", [PYRUNC_RUNTIME, GO_RUNTIME], ids=["pyrunc", "go-runc"])


def _remove(ctrd: Containerd, id: str) -> None:
    ctrd.ctr("task", "kill", "-s", "KILL", id, check=False)
    wait_until(lambda: ctrd.tasks().get(id, (0, "STOPPED"))[1] == "STOPPED", 20, f"{id} to stop")
    ctrd.ctr("task", "rm", id, check=False)
    ctrd.ctr("c", "rm", id, check=False)


def _cgroup(ctrd: Containerd, controller: str, id: str) -> Path:
    """ctr's default cgroupsPath is /<namespace>/<id>."""
    return Path("/sys/fs/cgroup", controller, ctrd.namespace, id)


@RUNTIMES
def test_metrics_pause_resume(ctrd: Containerd, runtime: str) -> None:
    id = unique_id("stats")
    ready = ctrd.rootfs / "tmp" / id
    # A 4 MiB string in the shell's memory, then a mark in the (shared) rootfs.
    script = f"x=a; i=0; while [ $i -lt 22 ]; do x=$x$x; i=$((i+1)); done; : > /tmp/{id}; while :; do sleep 1000; done"
    ctrd.ctr(*ctrd.run_args(id, "/bin/sh", "-c", script, detach=True, runtime=runtime))
    events = CtrEvents(ctrd)
    try:
        events.subscribed()
        wait_until(ready.exists, 30, f"{id} to fill its memory")
        data = json.loads(ctrd.ctr("task", "metrics", "--format", "json", id).stdout)  # the v1 Metrics
        assert data["memory"]["usage"]["usage"] > 4 << 20, data
        assert data["memory"]["usage"]["usage"] > data["memory"].get("total_inactive_file", 0)
        assert data["cpu"]["usage"]["total"] > 0, data
        assert data["pids"]["current"] >= 1, data
        table = ctrd.ctr("task", "metrics", id).stdout
        assert "memory.usage_in_bytes" in table, table

        ctrd.ctr("task", "pause", id)
        assert ctrd.tasks()[id][1] == "PAUSED"
        events.wait_for("/tasks/paused", id)
        assert _cgroup(ctrd, "freezer", id).joinpath("freezer.state").read_text().strip() == "FROZEN"
        ctrd.ctr("task", "resume", id)
        assert ctrd.tasks()[id][1] == "RUNNING"
        events.wait_for("/tasks/resumed", id)
    finally:
        events.close()
        _remove(ctrd, id)
        ready.unlink(missing_ok=True)


@RUNTIMES
def test_update_resources(ctrd: Containerd, runtime: str) -> None:
    """ctr 1.6 has no `task update`: Update goes to the shim's socket, as containerd sends it."""
    id = unique_id("update")
    ctrd.ctr(*ctrd.run_args(id, "/bin/sleep", "1000", detach=True, runtime=runtime))
    address = socket_address(ctrd.address, ctrd.namespace, id).removeprefix("unix://")
    v3 = False
    if runtime == GO_RUNTIME:  # the Go shim's socket is named in the bundle (2.x's serves task v3 only)
        [address] = ctrd.shim_addresses(id)
        v3 = ctrd.peer.major >= 2

    async def update(resources: object) -> None:
        async with await Client.connect(address) as client:
            task = TaskClient(client, service=TASK_V3_SERVICE_NAME) if v3 else TaskClient(client)
            await task.update(task_pb2.UpdateTaskRequest(
                id=id, resources=Any(type_url=LINUX_RESOURCES_TYPE_URL, value=json.dumps(resources).encode())))

    try:
        asyncio.run(update({"memory": {"limit": 48 << 20}, "cpu": {"shares": 300}, "pids": {"limit": 77}}))
        assert _cgroup(ctrd, "memory", id).joinpath("memory.limit_in_bytes").read_text().strip() == str(48 << 20)
        assert _cgroup(ctrd, "cpu", id).joinpath("cpu.shares").read_text().strip() == "300"
        assert _cgroup(ctrd, "pids", id).joinpath("pids.max").read_text().strip() == "77"
        data = json.loads(ctrd.ctr("task", "metrics", "--format", "json", id).stdout)
        assert data["memory"]["usage"]["limit"] == 48 << 20
        if runtime == PYRUNC_RUNTIME:  # a bad field is named (the Go shim passes it to runc as is)
            with pytest.raises(TTRPCError) as info:
                asyncio.run(update({"memory": {"limit": "48M"}}))
            assert info.value.code == Code.INVALID_ARGUMENT
            assert "memory.limit: expected int64, got str" in info.value.message
            assert ctrd.tasks()[id][1] == "RUNNING"
    finally:
        _remove(ctrd, id)


def _pty_run(argv: list[str], size: tuple[int, int], timeout: float = 60) -> tuple[int, bytes]:
    """Run ``argv`` on a new pseudo-terminal of ``size`` (rows, cols); its exit status and all it printed."""
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave fd closed
                    break
                if not data:
                    break
                out += data
        else:
            raise AssertionError(f"{argv} still running after {timeout}s; output {bytes(out)!r}")
        return proc.wait(timeout=30), bytes(out)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


# ctr resizes the console only after Start: wait for a size before printing it.
SIZE = 's=; while [ -z "$s" ]; do s=$(stty size 2>/dev/null); done; echo $s'


def _lines(out: bytes) -> list[bytes]:
    """Output lines without the CRs both ttys' ONLCR added."""
    return out.replace(b"\r", b"").split(b"\n")


def _check_output(runtime: str, lines: list[bytes], expected: list[bytes], out: bytes) -> None:
    if runtime == PYRUNC_RUNTIME:
        assert lines == expected, out[:300] + b" ... " + out[-300:]
    else:  # Go's shim: what ctr got is a prefix (the last line may be cut)
        got = [line for line in lines if line]
        if got:
            assert got[:-1] == expected[: len(got) - 1], out[:300]
            assert expected[len(got) - 1].startswith(got[-1]), out[:300]


@RUNTIMES
def test_ctr_run_tty(ctrd: Containerd, runtime: str) -> None:
    id = unique_id("tty")
    big = 200_000
    script = f"{SIZE}; echo tty-ok; i=0; while [ $i -lt {big // 100} ]; do echo {'z' * 99}; i=$((i+1)); done; echo END; exit 3"
    status, out = _pty_run(ctrd.ctr_argv("run", "-t", "--rm", "--runtime", runtime, "--rootfs", str(ctrd.rootfs),
                                id, "/bin/sh", "-c", script), (33, 111))
    expected = [b"33 111", b"tty-ok", *[b"z" * 99] * (big // 100), b"END", b""]
    # Nothing lost at exit. ctr closes its FIFO as soon as Wait answers: pyrunc answers
    # once ctr has read everything; Go's shim does not wait, so ctr may cut the tail
    # (all of it, on a loaded machine): for Go only a prefix is certain.
    _check_output(runtime, _lines(out), expected, out)
    assert status == 3
    assert id not in ctrd.containers()


@RUNTIMES
def test_ctr_exec_tty(ctrd: Containerd, runtime: str) -> None:
    id = unique_id("exectty")
    ctrd.ctr(*ctrd.run_args(id, "/bin/sleep", "1000", detach=True, runtime=runtime))
    try:
        status, out = _pty_run(ctrd.ctr_argv("task", "exec", "-t", "--exec-id", "e1", id,
                                    "/bin/sh", "-c", f"{SIZE}; echo exec-tty-ok; exit 4"), (21, 77))
        _check_output(runtime, _lines(out), [b"21 77", b"exec-tty-ok", b""], out)
        assert status == 4
    finally:
        _remove(ctrd, id)


@RUNTIMES
def test_oom_kill_is_a_task_oom_event(ctrd: Containerd, runtime: str) -> None:
    id = unique_id("oom")
    events = CtrEvents(ctrd)
    try:
        events.subscribed()
        # A string that doubles until the 24 MiB limit is hit.
        run = ctrd.ctr("run", "--rm", "--runtime", runtime, "--memory-limit", str(24 << 20),
                       "--rootfs", str(ctrd.rootfs), id, "/bin/sh", "-c", "x=a; while :; do x=$x$x; done",
                       check=False)
        events.wait_for("/tasks/oom", id)
        assert run.returncode == 137, run
    finally:
        events.close()
        if id in ctrd.containers():
            _remove(ctrd, id)
    assert id not in ctrd.containers()


@RUNTIMES
def test_shared_pid_namespace_exit_and_kill_all(ctrd: Containerd, runtime: str) -> None:
    """``b`` joins ``a``'s pid namespace; its init exits leaving a child in b's cgroup.

    As the Go shim: ``kill --all`` on the exited init still succeeds (CRI's
    StopContainer sends it) and leaves the cgroup empty. pyrunc kills the
    child when the init exits, as 1.6's Go shim does (1.7's and 2.1's leave it
    to that ``kill --all``).
    """
    a, b = unique_id("pidns-a"), unique_id("pidns-b")
    ctrd.ctr(*ctrd.run_args(a, "/bin/sleep", "1000", detach=True, runtime=runtime))
    try:
        pid = ctrd.tasks()[a][0]
        ctrd.ctr("run", "-d", "--runtime", runtime, "--with-ns", f"pid:/proc/{pid}/ns/pid",
                 "--rootfs", str(ctrd.rootfs), b, "/bin/sh", "-c", "sleep 1000 & exit 0")
        wait_until(lambda: ctrd.tasks()[b][1] == "STOPPED", 20, f"{b}'s init to exit")
        procs = _cgroup(ctrd, "pids", b) / "cgroup.procs"
        if runtime == PYRUNC_RUNTIME or ctrd.peer.version == "1.6":
            # Killed at the exit (SIGKILL is sent before the exit is reported; the child
            # leaves the cgroup once the kernel has finished it).
            wait_until(lambda: procs.read_text().split() == [], 10, f"the child left in {b}'s cgroup to die")
        ctrd.ctr("task", "kill", "--all", "-s", "KILL", b)
        wait_until(lambda: procs.read_text().split() == [], 10, f"kill --all to empty {b}'s cgroup")
        ctrd.ctr("task", "rm", b)
        ctrd.ctr("c", "rm", b)
    finally:
        if b in ctrd.containers():
            _remove(ctrd, b)
        _remove(ctrd, a)
