"""Faults the start path must survive, each tried for real: zygotes killed or stopped at the
exact point, listeners that never answer, a ``start`` failing after it forked, 20 starts at once.

Real processes throughout: the test shim program's ``start`` (as containerd runs it) with
``ShimOptions(serving=...)``, its real zygote in /run/shimtypes/zygote under a key of this
test's own, shims found by their unique ``-id`` in /proc (never anyone else's processes).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from impl.shim import socket_address, socket_path
from impl.shim.zygote import ENV_IDLE, REPLY_TIMEOUT, zygote_path
from impl.shim.zygote._server import ENV_TEST_PAUSE

from .conftest import SHIMPROG, Bundle, connect, proc_state, terminate, wait_pid_exit, wait_until, zygote_pid


def shims_of(id: str) -> set[int]:
    """Live (non-zombie) processes whose command line carries ``-id <id>``: this test's shims only."""
    found = set()
    want = b"\0-id\0" + id.encode() + b"\0"
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = b"\0" + f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if want in cmdline and b" start" not in cmdline.replace(b"\0", b" ") and state != b"Z":
            found.add(int(entry))
    return found


class Starts:
    """Bundles of one namespace and one zygote key, started as containerd starts shims."""

    def __init__(self, base: Bundle, **env: str) -> None:
        self.base = base
        self.env = {**base.env, "SHIMTEST_SERVING": "zygote", ENV_IDLE: "30", "SHIMTEST_KEY": base.id, **env}
        self.bundles: list[Bundle] = []
        self.zygote = zygote_path([sys.executable, str(SHIMPROG)], self.env)

    def bundle(self) -> Bundle:
        path = Path(tempfile.mkdtemp(prefix="shimtest-bundle-"))
        b = replace(self.base, path=path, id=f"{self.base.id}-{len(self.bundles)}-{uuid.uuid4().hex[:4]}", env=self.env)
        self.bundles.append(b)
        return b

    def start(
        self, b: Bundle, *, before: Callable[[], None] | None = None, prefix: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[bytes]:
        """``start`` as containerd runs it; ``before`` runs in it first (umask, rlimits, cgroup)."""
        return subprocess.run(
            [*prefix, sys.executable, str(SHIMPROG), *b.flags(), "start"],
            cwd=b.path,
            env=b.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=30,
            check=False,
            preexec_fn=before,
        )

    def started(self, *, before: Callable[[], None] | None = None, prefix: Sequence[str] = ()) -> tuple[Bundle, int]:
        """A new bundle, started: (bundle, serving shim pid)."""
        b = self.bundle()
        proc = self.start(b, before=before, prefix=prefix)
        assert proc.returncode == 0, proc.stdout
        return b, connect(proc.stdout.decode(), b.id).shim_pid

    def close(self) -> None:
        for b in self.bundles:
            for pid in shims_of(b.id):
                os.kill(pid, signal.SIGKILL)
                wait_pid_exit(pid, 10)
            try:
                os.unlink(socket_path(socket_address(b.address, b.namespace, b.id)))
            except FileNotFoundError:
                pass
            shutil.rmtree(b.path, ignore_errors=True)
        pid = zygote_pid(self.zygote)
        if pid:
            os.kill(pid, signal.SIGKILL)
            wait_pid_exit(pid, 10)
        for leftover in (self.zygote, self.zygote + ".lock"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


@pytest.fixture
def starts(bundle: Bundle) -> Iterator[Callable[..., Starts]]:
    made: list[Starts] = []

    def make(**env: str) -> Starts:
        s = Starts(bundle, **env)
        made.append(s)
        return s

    try:
        yield make
    finally:
        for s in made:
            s.close()


def running_zygote(s: Starts, *, before: Callable[[], None] | None = None) -> int:
    """Start one shim (which launches the zygote), wait for the zygote; its pid."""
    _, first = s.started(before=before)
    terminate(first)
    wait_until(lambda: zygote_pid(s.zygote) != 0, 30, "the zygote the first start launched")
    return zygote_pid(s.zygote)


def test_zygote_killed_between_fork_and_reply_leaves_exactly_one_shim(starts: Callable[..., Starts]) -> None:
    """The zygote stops itself right after the fork (test hook) and is SIGKILLed there.

    Before the handshake, ``start`` saw the zygote die without an answer, forked a
    shim of its own, and two shims served one socket.
    """
    s = starts(**{ENV_TEST_PAUSE: "1"})
    zygote = running_zygote(s)
    killed: list[int] = []

    def kill_when_stopped() -> None:
        wait_until(lambda: proc_state(zygote) == "T", 30, "the zygote to stop after its fork")
        os.kill(zygote, signal.SIGKILL)
        killed.append(zygote)

    killer = threading.Thread(target=kill_when_stopped)
    killer.start()
    b = s.bundle()
    proc = s.start(b)
    killer.join()
    assert killed == [zygote]
    assert proc.returncode == 0, proc.stdout
    assert wait_pid_exit(zygote, 10)
    served = connect(proc.stdout.decode(), b.id).shim_pid
    assert shims_of(b.id) == {served}, "one shim on the socket, and it is the one start reported"


def test_stopped_zygote_is_replaced_and_start_falls_back(starts: Callable[..., Starts]) -> None:
    s = starts()
    zygote = running_zygote(s)
    os.kill(zygote, signal.SIGSTOP)
    try:
        b = s.bundle()
        began = time.monotonic()
        proc = s.start(b)
        took = time.monotonic() - began
        assert proc.returncode == 0, proc.stdout
        pid = connect(proc.stdout.decode(), b.id).shim_pid
        assert shims_of(b.id) == {pid}
        assert wait_pid_exit(zygote, 10), "the wedged zygote was killed"
        print(f"start with a stopped zygote took {took:.2f}s (reply timeout {REPLY_TIMEOUT}s)")
        wait_until(lambda: zygote_pid(s.zygote) not in (0, zygote), 30, "a new zygote in its place")
        _, forked = s.started()
        assert int(Path(f"/proc/{forked}/status").read_text().split("PPid:\t")[1].split()[0]) == zygote_pid(s.zygote)
    finally:
        if proc_state(zygote) != "gone":
            os.kill(zygote, signal.SIGKILL)


def test_a_listener_that_never_answers_is_replaced(starts: Callable[..., Starts]) -> None:
    """Not a zygote at all (this test's own socket, never accepting): start falls back, path freed."""
    s = starts()
    os.makedirs(os.path.dirname(s.zygote), mode=0o700, exist_ok=True)
    squatter = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        squatter.bind(s.zygote)
        squatter.listen(64)
        b, pid = s.started()
        assert shims_of(b.id) == {pid}
        wait_until(lambda: zygote_pid(s.zygote) not in (0, os.getpid()), 30, "a real zygote in its place")
    finally:
        squatter.close()


@pytest.mark.parametrize("serving", ["exec", "fork", "zygote"])
def test_start_failing_after_the_fork_kills_the_shim(starts: Callable[..., Starts], serving: str) -> None:
    """The address file cannot be written (a directory is in its way): no shim, no socket left."""
    s = starts(SHIMTEST_SERVING=serving)
    if serving == "zygote":
        zygote = running_zygote(s)
    b = s.bundle()
    (b.path / "address").mkdir()
    (b.path / "address" / "x").write_text("")
    proc = s.start(b)
    assert proc.returncode == 1 and b"address" in proc.stdout, proc.stdout
    wait_until(lambda: not shims_of(b.id), 15, "the shim start had started to be gone")
    assert not os.path.exists(socket_path(socket_address(b.address, b.namespace, b.id)))
    if serving == "zygote":
        assert zygote_pid(s.zygote) == zygote, "the zygote itself is fine and keeps serving"


def test_twenty_parallel_starts_get_twenty_distinct_shims(starts: Callable[..., Starts]) -> None:
    s = starts()
    running_zygote(s)
    bundles = [s.bundle() for _ in range(20)]
    with ThreadPoolExecutor(20) as pool:
        procs = list(pool.map(s.start, bundles))
    pids = []
    for b, proc in zip(bundles, procs, strict=True):
        assert proc.returncode == 0, proc.stdout
        pid = connect(proc.stdout.decode(), b.id).shim_pid
        assert shims_of(b.id) == {pid}
        pids.append(pid)
    assert len(set(pids)) == 20
    for pid in pids:
        terminate(pid)


# -- a shim forked by the zygote is as if start had spawned it -------------------


def ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/status").read_text().split("PPid:\t")[1].split()[0])


def with_umask(mask: int) -> Callable[[], None]:
    def set_umask() -> None:
        os.umask(mask)

    return set_umask


def test_forked_shim_has_the_umask_of_its_start_not_the_zygotes(starts: Callable[..., Starts]) -> None:
    s = starts()
    zygote = running_zygote(s, before=with_umask(0o077))
    assert "Umask:\t0077" in Path(f"/proc/{zygote}/status").read_text(), "the zygote has its launcher's"
    _, pid = s.started(before=with_umask(0o022))
    try:
        assert ppid(pid) == zygote, "forked by the zygote"
        assert "Umask:\t0022" in Path(f"/proc/{pid}/status").read_text()
    finally:
        terminate(pid)


def test_forked_shim_has_the_rlimits_of_its_start(starts: Callable[..., Starts]) -> None:
    s = starts()
    zygote = running_zygote(s)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = (777, min(hard, 888) if hard != resource.RLIM_INFINITY else 888)
    _, pid = s.started(before=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, want))
    try:
        assert ppid(pid) == zygote, "forked by the zygote"
        assert prlimit(pid, resource.RLIMIT_NOFILE) == want
        assert prlimit(zygote, resource.RLIMIT_NOFILE) == (soft, hard), "the zygote keeps its own"
    finally:
        terminate(pid)


def prlimit(pid: int, limit: int) -> tuple[int, int]:
    return resource.prlimit(pid, limit)


def test_forked_shim_joins_the_cgroup_of_its_start(starts: Callable[..., Starts], bundle: Bundle) -> None:
    s = starts()
    zygote = running_zygote(s)
    group = f"/sys/fs/cgroup/pids/shimtest-{bundle.id}"
    os.mkdir(group)
    try:

        def enter() -> None:
            with open(os.path.join(group, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

        _, pid = s.started(before=enter)
        try:
            assert ppid(pid) == zygote, "forked by the zygote"
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
            assert f"pids:/shimtest-{bundle.id}" in [line.split(":", 1)[1] for line in lines]
            assert f"shimtest-{bundle.id}" not in Path(f"/proc/{zygote}/cgroup").read_text()
        finally:
            terminate(pid)
    finally:
        wait_until(lambda: not Path(group, "cgroup.procs").read_text().split(), 10, "the test cgroup to empty")
        os.rmdir(group)


def test_start_in_other_namespaces_is_not_forked_by_the_zygote(starts: Callable[..., Starts]) -> None:
    """``start`` in a new UTS namespace: the zygote refuses, start forks the shim itself, in its namespace."""
    s = starts()
    zygote = running_zygote(s)
    b, pid = s.started(prefix=["unshare", "--uts"])
    try:
        assert ppid(pid) != zygote
        assert os.stat(f"/proc/{pid}/ns/uts").st_ino != os.stat("/proc/self/ns/uts").st_ino
        assert shims_of(b.id) == {pid}
        assert zygote_pid(s.zygote) == zygote, "refusing is not a fault: the zygote stays"
    finally:
        terminate(pid)


@pytest.mark.parametrize("serving", ["zygote", "fork", "exec"])
def test_shim_killed_mid_flight_leaves_nothing_after_delete(starts: Callable[..., Starts], serving: str) -> None:
    """SIGKILL while a client is connected: containerd's ``delete`` leaves no socket and no process
    (the Go shim leaves its socket file here)."""
    s = starts(SHIMTEST_SERVING=serving)
    if serving == "zygote":
        zygote = running_zygote(s)
    b, pid = s.started()
    address = socket_address(b.address, b.namespace, b.id)
    if serving == "zygote":
        assert ppid(pid) == zygote
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(socket_path(address))  # mid-flight: a connection open
    try:
        os.kill(pid, signal.SIGKILL)
        assert wait_pid_exit(pid, 10)
    finally:
        client.close()
    assert os.path.exists(socket_path(address)), "a SIGKILLed process cannot clean up: delete must"
    proc = b.run(*b.flags("-bundle", str(b.path)), "delete")
    assert proc.returncode == 0, proc.stdout
    assert not os.path.exists(socket_path(address))
    assert not shims_of(b.id)
    if serving == "zygote":
        wait_until(lambda: proc_state(pid) == "gone", 10, "the zygote to reap its killed shim")
