"""containerd-shim-pyrunc-v1 vs containerd-shim-runc-v2, side by side on one private containerd.

Run as root: ``python bench/shim.py [--rounds 15] [--phases]``. Per round,
rotating which goes first, ``ctr run --rm ... /bin/true`` through each
runtime (wall time of the whole ``ctr`` command); then the memory of a
serving shim with a sleeping container (VmRSS, and Pss from smaps_rollup).
Prints a markdown table of medians and Python/Go ratios against the goals
(<= 1.5). ``--phases`` adds where the Python shim's time and memory go: the
fixed costs of its three processes (``start``, the serving process, ``delete``).

The Python shim runs as deployed (serving shims forked by its zygote, which
the first ``start`` launches and which lives while shims keep coming), and
on one more daemon per ``--cold`` mode: ``fork`` (``SHIMTYPES_ZYGOTE=0``: the
serving shim forked from ``start`` imports the serving path itself, as the
first container after an idle spell does) and ``exec`` (every serving shim a
re-executed interpreter).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PY_RUNTIME = "io.containerd.pyrunc.v1"
GO_RUNTIME = "io.containerd.runc.v2"
SHIM_BINARY = "containerd-shim-pyrunc-v1"
GOAL = 1.5
COLD_LABELS = {"fork": "no zygote", "exec": "re-exec"}


class Daemon:
    def __init__(self, tmp: Path, shim: str, **env_extra: str) -> None:
        self.tmp = tmp
        self.address = str(tmp / "containerd.sock")
        self.rootfs = tmp / "rootfs"
        self.namespace = f"shimtypes-bench-{uuid.uuid4().hex[:6]}"
        (self.rootfs / "bin").mkdir(parents=True)
        for d in ("proc", "sys", "dev", "tmp"):
            (self.rootfs / d).mkdir()
        shutil.copy2(shutil.which("busybox") or "/bin/busybox", self.rootfs / "bin" / "busybox")
        for applet in ("sh", "true", "sleep"):
            (self.rootfs / "bin" / applet).symlink_to("busybox")
        (tmp / "bin").mkdir()
        (tmp / "bin" / SHIM_BINARY).symlink_to(shim)
        config = tmp / "config.toml"
        config.write_text(
            f'version = 2\nroot = "{tmp}/root"\nstate = "{tmp}/state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.address}"\n[ttrpc]\n  address = "{self.address}.ttrpc"\n'
        )
        env = dict(os.environ, PATH=f"{tmp}/bin:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}")
        env.update(env_extra)
        self.log = open(tmp / "containerd.log", "wb")
        self.proc = subprocess.Popen(
            ["containerd", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while self.ctr("version", check=False).returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("containerd did not come up; see " + str(tmp / "containerd.log"))
            time.sleep(0.05)

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["ctr", "--address", self.address, "--namespace", self.namespace, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and proc.returncode != 0:
            raise SystemExit(f"ctr {' '.join(args)}: exit {proc.returncode}: {proc.stderr}")
        return proc

    def run(self, runtime: str, *cmd: str, detach: bool = False) -> str:
        id = f"bench-{uuid.uuid4().hex[:10]}"
        self.ctr("run", "-d" if detach else "--rm", "--runtime", runtime, "--rootfs", str(self.rootfs), id, *cmd)
        return id

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        try:
            os.rmdir(f"/run/containerd/runc/{self.namespace}")
        except OSError:
            pass


def run_time(daemon: Daemon, runtime: str) -> float:
    start = time.perf_counter()
    daemon.run(runtime, "/bin/true")
    return time.perf_counter() - start


def _status_kb(pid: int, field: str, path: str = "status") -> int:
    with open(f"/proc/{pid}/{path}") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def shim_memory(daemon: Daemon, runtime: str) -> tuple[int, int]:
    """(VmRSS kB, Pss kB) of the serving shim of a sleeping container."""
    id = daemon.run(runtime, "/bin/sleep", "1000", detach=True)
    try:
        rows = [line.split() for line in daemon.ctr("task", "ls").stdout.splitlines()[1:]]
        task_pid = next(int(r[1]) for r in rows if r and r[0] == id)
        shim_pid = _status_kb(task_pid, "PPid")  # the shim is the container's subreaper parent
        rss = _status_kb(shim_pid, "VmRSS")
        try:
            pss = _status_kb(shim_pid, "Pss", "smaps_rollup")
        except OSError:
            pss = 0
        return rss, pss
    finally:
        daemon.ctr("task", "kill", "-s", "KILL", id)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = [line.split() for line in daemon.ctr("task", "ls").stdout.splitlines()[1:]]
            if any(r and r[0] == id and r[2] == "STOPPED" for r in rows):
                break
            time.sleep(0.02)
        daemon.ctr("task", "rm", id, check=False)
        daemon.ctr("c", "rm", id, check=False)


def _min_wall(cmd: list[str], n: int = 11, cwd: str | None = None) -> float:
    walls = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, check=False)
        walls.append(time.perf_counter() - start)
    return min(walls) * 1000


SERVE_IMPORTS = "import sys; sys.modules['ssl'] = None; import impl.shim._serve, impl.pyrunc._ops"
RSS_STEPS = (
    ("interpreter", "pass"),
    ("+ asyncio", "import asyncio"),
    ("+ protobuf messages", "import shimtypes.pb.task_pb2, shimtypes.pb.task_events_pb2, shimtypes.pb.events_pb2"),
    ("+ impl.ttrpc, loader, runner, pyrunc", "import impl.ttrpc, impl.loader, impl.shim._serve, impl.pyrunc._ops"),
)


def phases(shim: str) -> None:
    """Fixed costs (min wall of 11 runs, this machine) and the serving RSS by import layer."""
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="shimtypes-bench-bundle-") as bundle:
        delete = [shim, "-namespace", "bench", "-address", "/nonexistent.sock", "-id", "nosuch", "-bundle", bundle, "delete"]
        rows = [
            ("python -c pass (interpreter floor)", _min_wall([py, "-c", "pass"])),
            ("start path imports", _min_wall([py, "-c", "import impl.pyrunc, impl.shim._runner, impl.shim._start"])),
            ("serving path imports", _min_wall([py, "-c", SERVE_IMPORTS])),
            ("`delete` action, nothing to clean", _min_wall(delete, cwd=bundle)),
            ("Go: containerd-shim-runc-v2 -v (process floor)", _min_wall(["containerd-shim-runc-v2", "-v"])),
            ("Go: runc --version", _min_wall(["runc", "--version"])),
        ]
    print("\n| fixed cost | min wall ms |\n|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} |")
    print("\n| serving-shim RSS by import layer (ssl blocked) | VmRSS MiB |\n|---|---:|")
    code = "import sys; sys.modules['ssl'] = None\n"
    for name, stmt in RSS_STEPS:
        code += stmt + "\n"
        probe = code + "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS')][0])"
        kb = int(subprocess.run([py, "-c", probe], capture_output=True, text=True, check=True).stdout)
        print(f"| {name} | {kb / 1024:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--memory-rounds", type=int, default=3)
    parser.add_argument("--shim", default=str(Path(sys.executable).parent / SHIM_BINARY))
    parser.add_argument("--phases", action="store_true", help="also break down the Python shim's fixed costs")
    parser.add_argument(
        "--cold",
        type=lambda v: [m for m in v.split(",") if m],
        default=["fork"],
        help="comma-separated cold modes to add: fork (no zygote), exec (re-exec every serving shim)",
    )
    args = parser.parse_args()
    if set(args.cold) - COLD_LABELS.keys():
        parser.error(f"--cold: modes are {', '.join(COLD_LABELS)}")
    if os.geteuid() != 0:
        raise SystemExit("run as root (containerd, runc)")
    # As a wheel install would: byte-compile first, so no shim compiles at start-up
    # (an inherited PYTHONDONTWRITEBYTECODE would otherwise make every shim recompile).
    import compileall

    import impl
    import shimtypes

    for pkg in (impl, shimtypes):
        compileall.compile_dir(os.path.dirname(pkg.__file__ or ""), quiet=1)
    tmp = Path(tempfile.mkdtemp(prefix="shimtypes-bench-"))
    daemons = [(Daemon(tmp, args.shim), tmp)]
    # (label, daemon, runtime): the deployed Python shim, the cold modes, Go last.
    runs = [("pyrunc", daemons[0][0], PY_RUNTIME)]
    try:
        for mode in args.cold:
            tmp_cold = Path(tempfile.mkdtemp(prefix=f"shimtypes-bench-{mode}-"))
            cold = Daemon(tmp_cold, args.shim, SHIMTYPES_ZYGOTE="0" if mode == "fork" else "exec")
            daemons.append((cold, tmp_cold))
            runs.append((f"pyrunc, {COLD_LABELS[mode]}", cold, PY_RUNTIME))
    except BaseException:
        for d, t in daemons:
            d.stop()
            shutil.rmtree(t, ignore_errors=True)
        raise
    runs.append(("runc v2 (Go)", daemons[0][0], GO_RUNTIME))
    n = len(runs)
    try:
        for _, d, runtime in runs:  # warm caches, the binary lookup, and start the zygote
            run_time(d, runtime)
        times: dict[str, list[float]] = {label: [] for label, _, _ in runs}
        for i in range(args.rounds):
            for label, d, runtime in runs[i % n :] + runs[: i % n]:
                times[label].append(run_time(d, runtime))
        mem: dict[str, list[tuple[int, int]]] = {label: [] for label, _, _ in runs}
        for i in range(args.memory_rounds):
            for label, d, runtime in runs[i % n :] + runs[: i % n]:
                mem[label].append(shim_memory(d, runtime))
    finally:
        for d, t in daemons:
            d.stop()
            shutil.rmtree(t, ignore_errors=True)

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    labels = [label for label, _, _ in runs]
    go = labels[-1]
    wall = {k: med(v) * 1000 for k, v in times.items()}
    rss = {k: med([float(m[0]) for m in v]) / 1024 for k, v in mem.items()}
    pss = {k: med([float(m[1]) for m in v]) / 1024 for k, v in mem.items()}
    rows = [
        (f"`ctr run --rm ... /bin/true` wall (median of {args.rounds})", wall, "ms", True),
        (f"serving shim VmRSS (median of {args.memory_rounds})", rss, "MiB", True),
        (f"serving shim Pss (median of {args.memory_rounds})", pss, "MiB", False),
    ]
    print(f"containerd {subprocess.run(['containerd', '--version'], capture_output=True, text=True).stdout.split()[2]}, "
          f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}\n")
    pys = labels[:-1]
    print(f"| metric | {' | '.join(labels)} | {' | '.join(f'ratio {k}/Go' for k in pys)} | goal ({labels[0]}) |")
    print("|---|" + "---:|" * (len(labels) + len(pys)) + "---|")
    for name, values, unit, has_goal in rows:
        ratios = [values[k] / values[go] if values[go] else float("inf") for k in pys]
        goal = (f"<= {GOAL} {'met' if ratios[0] <= GOAL else 'MISSED'}") if has_goal else "-"
        cells = " | ".join(f"{values[k]:.1f} {unit}" for k in labels)
        print(f"| {name} | {cells} | {' | '.join(f'{r:.2f}' for r in ratios)} | {goal} |")
    spread = {r: (min(t) * 1000, max(t) * 1000) for r, t in times.items()}
    print("\nwall min/max ms: " + ", ".join(f"{k} {lo:.0f}/{hi:.0f}" for k, (lo, hi) in spread.items()))
    if args.phases:
        phases(args.shim)
    return 0


if __name__ == "__main__":
    sys.exit(main())
