"""The publisher against a real, private containerd 1.6 (the pinned peer): ``ctr events`` must decode what we send.

containerd accepts a Forward whose type URL has a ``type.googleapis.com/``
prefix, but ``ctr events`` (like CRI and moby) cannot decode it and drops
it silently; only the bare full name works. Needs root.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from _containerd import Containerd, missing_requirement, new_tmp, running
from _peers import containerd_peer
from impl.shim._publisher import RemotePublisher, pack_event
from shimtypes.pb.events_pb2 import Envelope
from shimtypes.pb.task_events_pb2 import TaskCreate, TaskExit, TaskOOM, TaskStart

from .conftest import REPO, SHIMPROG, listening_pid, wait_pid_exit

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def containerd() -> Iterator[Containerd]:
    """A private containerd 1.6 (the pinned peer) with the test shim as ``io.containerd.shimtest.v1``."""
    reason = missing_requirement(runc_needed=False)
    if reason is not None:
        pytest.skip(reason)
    # The test shim as containerd finds a runtime: containerd-shim-<name>-<version> on its PATH.
    wrapper = f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} {SHIMPROG} "$@"\n'
    tmp = new_tmp("shimtest-ctrd-")
    daemon = Containerd(containerd_peer("1.6"), tmp, shims={}, wrappers={"containerd-shim-shimtest-v1": wrapper})
    daemon.rootfs.mkdir(parents=True)
    with running(daemon):
        yield daemon


class EventLines:
    """``ctr events`` output, line by line, with a timeout."""

    def __init__(self, c: Containerd) -> None:
        self.proc = subprocess.Popen(c.ctr_argv("events"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        self.buf = b""

    def next_line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def test_ctr_events_decodes_what_the_publisher_sends(containerd: Containerd) -> None:
    ns = f"ns{uuid.uuid4().hex[:8]}"
    cid = f"c-{uuid.uuid4().hex[:8]}"
    lines = EventLines(containerd)

    async def go() -> list[str]:
        pub = RemotePublisher(containerd.address + ".ttrpc", ns, retry_delay=0.1)
        loop = asyncio.get_running_loop()
        # Subscription has no ready signal: publish probes until ctr shows one.
        for i in range(50):
            await pub.publish("/tasks/oom", TaskOOM(container_id=f"probe-{i}"))
            line = await loop.run_in_executor(None, lines.next_line, 0.2)
            if line is not None:
                break
        else:
            raise AssertionError("ctr events never showed a probe event")
        # Drain the remaining probes so only the real sequence follows.
        marker = f"marker-{cid}"
        await pub.publish("/tasks/oom", TaskOOM(container_id=marker))
        while True:
            line = await loop.run_in_executor(None, lines.next_line, 10)
            assert line is not None, "marker event never shown"
            if marker in line:
                break
        # A prefixed type URL: containerd takes it, ctr cannot decode it and drops it.
        prefixed = Envelope(namespace=ns, topic="/tasks/exit", event=pack_event(TaskExit(container_id="prefixed")))
        prefixed.event.type_url = "type.googleapis.com/" + prefixed.event.type_url
        prefixed.timestamp.GetCurrentTime()
        await pub.forward(prefixed)
        await pub.publish("/tasks/create", TaskCreate(container_id=cid, bundle="/b", pid=1))
        await pub.publish("/tasks/start", TaskStart(container_id=cid, pid=1))
        await pub.publish("/tasks/exit", TaskExit(container_id=cid, id=cid, pid=1, exit_status=7))
        await pub.close()
        assert pub.forwarded >= 6 and pub.dropped == 0  # all accepted by containerd, prefixed one too
        got: list[str] = []
        for _ in range(3):
            line = await loop.run_in_executor(None, lines.next_line, 10)
            assert line is not None, f"ctr events stopped after {got}"
            got.append(line)
        return got

    try:
        got = asyncio.run(go())
    finally:
        lines.close()
    assert [line.split()[5] for line in got] == ["/tasks/create", "/tasks/start", "/tasks/exit"], got
    assert all(f" {ns} " in line and cid in line for line in got), got
    assert '"exit_status":7' in got[2]
    assert not any("prefixed" in line for line in got)


def test_containerd_drives_the_test_shim(containerd: Containerd) -> None:
    """start, ttrpc, events, Shutdown and delete, all as containerd 1.6 does them."""
    cid = f"shimtest-{uuid.uuid4().hex[:10]}"
    lines = EventLines(containerd)
    try:
        run = subprocess.run(
            containerd.ctr_argv(
                "run", "-d", "--runtime", "io.containerd.shimtest.v1", "--rootfs", str(containerd.rootfs),
                cid, "/bin/true",
            ),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        digest = hashlib.sha256(f"{containerd.address}/{containerd.namespace}/{cid}".encode()).hexdigest()
        sock = f"/run/containerd/s/{digest}"
        pid = listening_pid(sock)
        assert pid is not None, "no shim listens on the conventional address"
        ls = subprocess.run(containerd.ctr_argv("task", "ls"), capture_output=True, text=True, timeout=30, check=True)
        assert any(line.split()[:1] == [cid] and "RUNNING" in line for line in ls.stdout.splitlines()), ls.stdout
        for args in (("task", "kill", "-s", "KILL", cid), ("task", "rm", cid), ("container", "rm", cid)):
            step = subprocess.run(containerd.ctr_argv(*args), capture_output=True, text=True, timeout=30, check=False)
            assert step.returncode == 0, (args, step.stderr)
        assert wait_pid_exit(pid, 15), "the shim did not exit after Shutdown"
        assert not os.path.exists(sock)
        got: list[str] = []
        while not got or got[-1].split()[5] != "/tasks/delete":
            line = lines.next_line(10)
            assert line is not None, f"events so far: {got}"
            if cid in line and line.split()[5].startswith("/tasks/"):
                got.append(line)
    finally:
        lines.close()
    topics = [line.split()[5] for line in got]
    assert topics == ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"], got
    assert '"exit_status":137' in got[2]
    with open(containerd.log_path) as f:
        log = [line for line in f if cid in line]
    # Our logrus lines reached containerd through the bundle's log FIFO; delete ran cleanly.
    assert any('msg="shim serving"' in line and "runtime=io.containerd.shimtest.v1" in line for line in log), log
    assert not any("failed to delete" in line or "cleanup warnings" in line for line in log), log
