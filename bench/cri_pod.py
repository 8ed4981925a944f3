"""A 3-container pod, start to ready, through CRI: pyrunc vs the Go runc shim, per containerd version.

Run as root: ``python bench/cri_pod.py [--rounds 7] [--versions 1.6,1.7,2.1]``.
One private containerd per version (the pinned peers of ``tests/cri``), both
runtime handlers on it. Per round, rotating which handler goes first:
RunPodSandbox, then create and start three containers, until CRI reports
all three RUNNING (wall time of the whole sequence); then the shim processes
serving the pod are counted; the pod is stopped and removed outside the
timing. One untimed warm-up round per handler first (pyrunc's zygote starts
there, as on a node that runs pods all day). Prints a markdown table of
medians and pyrunc/runc ratios against the goal (<= 1.5).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cri._client import CRIClient, ContainerSpec, PodSpec  # noqa: E402  (tests/cri: the suite's harness)
from _containerd import wait_until  # noqa: E402
from _peers import VERSIONS, containerd_peer  # noqa: E402
from cri._daemon import APP_IMAGE, CRIDaemon  # noqa: E402

GOAL = 1.5
HANDLERS = ("runc", "pyrunc")
SLEEP = ("/bin/sleep", "inf")


def pod_start(daemon: CRIDaemon, cri: CRIClient, handler: str) -> tuple[float, int]:
    """(seconds from RunPodSandbox to three RUNNING containers, shim processes serving the pod)."""
    uid = uuid.uuid4().hex
    spec = PodSpec(
        name=f"bench-{handler}-{uid[:6]}",
        handler=handler,
        cgroup_parent=f"{daemon.cgroup_parent}/pod{uid}",
        log_directory=str(daemon.log_dir / uid),
        uid=uid,
    )
    started = time.perf_counter()
    pod = cri.run_pod(spec)
    ids = [cri.run_container(pod, ContainerSpec(f"c{i}", SLEEP, APP_IMAGE)) for i in range(3)]
    wait_until(lambda: all(cri.container_status(i).state == "CONTAINER_RUNNING" for i in ids), 60, "3 running")
    elapsed = time.perf_counter() - started
    shims = len([s for s in daemon.shims() if s.id in (pod.id, *ids)])
    cri.stop_pod(pod.id)
    cri.remove_pod(pod.id)
    return elapsed, shims


def bench_version(version: str, rounds: int) -> dict[str, tuple[list[float], int]]:
    tmp = Path(tempfile.mkdtemp(prefix="shimtypes-bench-cri-"))
    daemon = CRIDaemon(containerd_peer(version), tmp)
    results: dict[str, tuple[list[float], int]] = {h: ([], 0) for h in HANDLERS}
    try:
        daemon.setup()
        cri = CRIClient(daemon.endpoint)
        cri.wait_ready(30)
        for handler in HANDLERS:
            pod_start(daemon, cri, handler)  # warm-up
        for r in range(rounds):
            order = HANDLERS if r % 2 == 0 else HANDLERS[::-1]
            for handler in order:
                seconds, shims = pod_start(daemon, cri, handler)
                results[handler][0].append(seconds)
                results[handler] = (results[handler][0], shims)
        cri.close()
    finally:
        daemon.stop()
        daemon.remove_cgroup_parent()
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def print_table(versions: list[str], rounds: int) -> None:
    """The pod table, one row per pinned containerd (``bench/shim.py`` prints it too)."""
    print(f"3-container pod, RunPodSandbox to all RUNNING, median of {rounds} rounds\n")
    print("| containerd | runc.v2 ms | pyrunc ms | ratio | goal <= 1.5 | shims/pod runc | shims/pod pyrunc |")
    print("|---|---|---|---|---|---|---|")
    for version in versions:
        res = bench_version(version, rounds)
        go, py = (statistics.median(res[h][0]) * 1000 for h in HANDLERS)
        ratio = py / go
        verdict = "ok" if ratio <= GOAL else "MISSED"
        print(f"| {version} | {go:.0f} | {py:.0f} | {ratio:.2f} | {verdict} | {res['runc'][1]} | {res['pyrunc'][1]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--versions", default=",".join(VERSIONS))
    args = parser.parse_args()
    print_table(args.versions.split(","), args.rounds)


if __name__ == "__main__":
    main()
