"""The publisher against a real, private containerd 1.6: ``ctr events`` must decode what we send.

containerd accepts a Forward whose type URL has a ``type.googleapis.com/``
prefix, but ``ctr events`` (like CRI and moby) cannot decode it and drops
it silently; only the bare full name works. Needs root and containerd.
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import sys
import signal
import subprocess
import tempfile
import time
import uuid
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from impl.shim._publisher import RemotePublisher, pack_event
from shimtypes.pb.events_pb2 import Envelope
from shimtypes.pb.task_events_pb2 import TaskCreate, TaskExit, TaskOOM, TaskStart

from .conftest import REPO, SHIMPROG, listening_pid, wait_pid_exit

pytestmark = pytest.mark.e2e


@dataclass
class Containerd:
    root: str
    address: str
    ttrpc_address: str

    def ctr(self, *args: str) -> list[str]:
        return ["ctr", "--address", self.address, *args]


@pytest.fixture(scope="module")
def containerd() -> Iterator[Containerd]:
    if os.geteuid() != 0 or shutil.which("containerd") is None or shutil.which("ctr") is None:
        pytest.skip("needs root and containerd/ctr")
    t = tempfile.mkdtemp(prefix="shimtest-ctrd-")
    cfg = os.path.join(t, "config.toml")
    with open(cfg, "w") as f:
        f.write(
            f'version = 2\nroot = "{t}/root"\nstate = "{t}/state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{t}/containerd.sock"\n'
            f'[ttrpc]\n  address = "{t}/containerd.sock.ttrpc"\n'
        )
    # The test shim as containerd finds a runtime: containerd-shim-<name>-<version> on its PATH.
    os.makedirs(f"{t}/bin")
    os.makedirs(f"{t}/rootfs")
    wrapper = f"{t}/bin/containerd-shim-shimtest-v1"
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} {SHIMPROG} "$@"\n')
    os.chmod(wrapper, 0o755)
    env = dict(os.environ, PATH=f"{t}/bin:" + os.environ.get("PATH", "/usr/bin:/bin"))
    log = open(os.path.join(t, "containerd.log"), "wb")
    proc = subprocess.Popen(
        ["containerd", "--config", cfg], stdout=log, stderr=log, env=env, start_new_session=True
    )
    c = Containerd(t, f"{t}/containerd.sock", f"{t}/containerd.sock.ttrpc")
    try:
        deadline = time.monotonic() + 20
        while True:  # no readiness event exists: bounded polling of `ctr version`
            ok = subprocess.run(c.ctr("version"), capture_output=True, check=False).returncode == 0
            if ok and os.path.exists(c.ttrpc_address):
                break
            assert proc.poll() is None, "containerd exited during start-up"
            assert time.monotonic() < deadline, "containerd did not come up in 20 s"
            time.sleep(0.1)
        yield c
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(t, ignore_errors=True)


class EventLines:
    """``ctr events`` output, line by line, with a timeout."""

    def __init__(self, c: Containerd) -> None:
        self.proc = subprocess.Popen(c.ctr("events"), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
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
        pub = RemotePublisher(containerd.ttrpc_address, ns, retry_delay=0.1)
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
            containerd.ctr(
                "run", "-d", "--runtime", "io.containerd.shimtest.v1", "--rootfs", f"{containerd.root}/rootfs",
                cid, "/bin/true",
            ),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        digest = hashlib.sha256(f"{containerd.address}/default/{cid}".encode()).hexdigest()
        sock = f"/run/containerd/s/{digest}"
        pid = listening_pid(sock)
        assert pid is not None, "no shim listens on the conventional address"
        ls = subprocess.run(containerd.ctr("task", "ls"), capture_output=True, text=True, timeout=30, check=True)
        assert any(line.split()[:1] == [cid] and "RUNNING" in line for line in ls.stdout.splitlines()), ls.stdout
        for args in (("task", "kill", "-s", "KILL", cid), ("task", "rm", cid), ("container", "rm", cid)):
            step = subprocess.run(containerd.ctr(*args), capture_output=True, text=True, timeout=30, check=False)
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
    with open(os.path.join(containerd.root, "containerd.log")) as f:
        log = [line for line in f if cid in line]
    # Our logrus lines reached containerd through the bundle's log FIFO; delete ran cleanly.
    assert any('msg="shim serving"' in line and "runtime=io.containerd.shimtest.v1" in line for line in log), log
    assert not any("failed to delete" in line or "cleanup warnings" in line for line in log), log
