"""CRI-side task calls, pyrunc vs containerd-shim-runc-v2, side by side on one private containerd.

Run as root: ``python bench/kube.py [--rounds 7] [--calls 50]``. Per round, a
sleeping container on each runtime (order rotating), then ``--calls`` of each
call straight on the shim's ttrpc socket, as containerd sends them: ``Stats``
(cgroup v1 metrics), ``Update`` (a memory limit, through ``runc update``) and
``Pause`` + ``Resume``. Prints medians of the per-round medians (ms per call)
and Python/Go ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from google.protobuf.any_pb2 import Any  # noqa: E402

from impl.shim.cgroups import LINUX_RESOURCES_TYPE_URL  # noqa: E402
from impl.ttrpc import Client, TaskClient  # noqa: E402
from shimtypes.pb import task_pb2  # noqa: E402
from bench.shim import GO_RUNTIME, PY_RUNTIME, SHIM_BINARY, Daemon  # noqa: E402


async def _time_calls(address: str, id: str, calls: int) -> dict[str, float]:
    resources = Any(type_url=LINUX_RESOURCES_TYPE_URL, value=json.dumps({"memory": {"limit": 64 << 20}}).encode())
    async with await Client.connect(address) as client:
        t = TaskClient(client)

        async def pause_resume() -> None:
            await t.pause(task_pb2.PauseRequest(id=id))
            await t.resume(task_pb2.ResumeRequest(id=id))

        ops: dict[str, Callable[[], Awaitable[object]]] = {
            "Stats": lambda: t.stats(task_pb2.StatsRequest(id=id)),
            "Update": lambda: t.update(task_pb2.UpdateTaskRequest(id=id, resources=resources)),
            "Pause+Resume": pause_resume,
        }
        out: dict[str, float] = {}
        for name, op in ops.items():
            await op()  # warm
            samples = []
            for _ in range(calls):
                start = time.perf_counter()
                await op()
                samples.append(time.perf_counter() - start)
            out[name] = statistics.median(samples) * 1e3
    return out


def _address(daemon: Daemon, id: str) -> str:
    [address] = daemon.shim_addresses(id)
    return address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="shimtypes-bench-kube-"))
    results: dict[str, dict[str, list[float]]] = {PY_RUNTIME: {}, GO_RUNTIME: {}}
    daemon = Daemon(tmp, str(Path(sys.executable).parent / SHIM_BINARY))
    try:
        for round in range(args.rounds):
            order = [PY_RUNTIME, GO_RUNTIME] if round % 2 == 0 else [GO_RUNTIME, PY_RUNTIME]
            for runtime in order:
                id = daemon.run(runtime, "/bin/sleep", "1000", detach=True)
                try:
                    for name, ms in asyncio.run(_time_calls(_address(daemon, id), id, args.calls)).items():
                        results[runtime].setdefault(name, []).append(ms)
                finally:
                    daemon.ctr("task", "kill", "-s", "KILL", id, check=False)
                    daemon.ctr("task", "rm", "-f", id, check=False)
                    daemon.ctr("c", "rm", id, check=False)
    finally:
        daemon.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"| call ({args.rounds} rounds x {args.calls} calls, median ms) | pyrunc | runc-v2 (Go) | ratio |")
    print("|---|---|---|---|")
    for name in results[PY_RUNTIME]:
        py, go = statistics.median(results[PY_RUNTIME][name]), statistics.median(results[GO_RUNTIME][name])
        print(f"| {name} | {py:.2f} | {go:.2f} | {py / go:.2f} |")


if __name__ == "__main__":
    main()
