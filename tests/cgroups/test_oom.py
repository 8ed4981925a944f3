"""OOM notifications: a real v1 OOM kill, and v2 memory.events on a laid-out tree."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from impl.shim.cgroups import OOMWatcher, OOMWatchError

from .conftest import join_v1_cgroup

# Allocates and touches 1 MiB at a time until the kernel kills it.
HOG = """
blocks = []
while True:
    b = bytearray(1 << 20)
    for i in range(0, len(b), 4096):
        b[i] = 1
    blocks.append(b)
"""


def test_v1_oom_kill_calls_back_with_container_id(v1_cgroup: str) -> None:
    memory = Path("/sys/fs/cgroup/memory", v1_cgroup.lstrip("/"))
    (memory / "memory.limit_in_bytes").write_text(str(32 << 20))
    if (memory / "memory.memsw.limit_in_bytes").exists():
        (memory / "memory.memsw.limit_in_bytes").write_text(str(32 << 20))

    async def scenario() -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        fired: asyncio.Future[str] = loop.create_future()

        def on_oom(cid: str) -> None:
            if not fired.done():
                fired.set_result(cid)

        watcher = OOMWatcher(on_oom)
        try:
            watcher.watch_v1("ctr-oom", str(memory))
            assert watcher.watched == {"ctr-oom"}
            child = subprocess.Popen([sys.executable, "-c", HOG], preexec_fn=lambda: join_v1_cgroup(v1_cgroup))
            try:
                cid = await asyncio.wait_for(fired, 60)
                # The notifier fires as the OOM starts; the kernel's kill follows.
                status = await asyncio.wait_for(asyncio.to_thread(child.wait), 60)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
            return cid, status
        finally:
            watcher.close()
            assert watcher.watched == frozenset()

    cid, status = asyncio.run(scenario())
    assert cid == "ctr-oom"
    assert status == -signal.SIGKILL
    oom = dict(line.split() for line in (memory / "memory.oom_control").read_text().splitlines())
    assert int(oom["oom_kill"]) >= 1


def test_v1_watch_of_missing_cgroup_is_named(tmp_path: Path) -> None:
    async def scenario() -> None:
        watcher = OOMWatcher(lambda cid: None)
        with pytest.raises(OOMWatchError, match=f"'c9' at {tmp_path}"):
            watcher.watch_v1("c9", str(tmp_path))
        assert watcher.watched == frozenset()
        watcher.close()

    asyncio.run(scenario())


def _events(kills: int, oom: int = 0) -> str:
    return f"low 0\nhigh 0\nmax 5\noom {oom}\noom_kill {kills}\n"


def test_v2_oom_kill_counter_increase(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "memory.events").write_text(_events(kills=1))  # an earlier kill: not reported

    async def scenario() -> list[str]:
        seen: list[str] = []
        arrived = asyncio.Event()

        def on_oom(cid: str) -> None:
            seen.append(cid)
            arrived.set()

        watcher = OOMWatcher(on_oom)
        try:
            watcher.watch_v2("ca", str(a))
            watcher.watch_v2("cb", str(b))

            async def step(path: Path, text: str) -> None:
                arrived.clear()
                path.write_text(text)
                await asyncio.wait_for(arrived.wait(), 10)

            # oom without oom_kill, then a kill in b: only b's kill is reported.
            (a / "memory.events").write_text(_events(kills=1, oom=1))
            await step(b / "memory.events", _events(kills=2))
            await step(a / "memory.events", _events(kills=3, oom=1))
            watcher.unwatch("cb")
            (b / "memory.events").write_text(_events(kills=9))
            await step(a / "memory.events", _events(kills=4, oom=1))
            assert watcher.watched == {"ca"}
        finally:
            watcher.close()
        return seen

    assert asyncio.run(scenario()) == ["cb", "ca", "ca"]
