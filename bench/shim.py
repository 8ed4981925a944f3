"""containerd-shim-pyrunc-v1 vs containerd-shim-runc-v2, side by side on one private containerd.

Run as root: ``python bench/shim.py [--rounds 15] [--phases] [--containerd 1.6]``: the
pinned containerd (default 1.6.20) and its own Go shim (``tests/_peers.py``). Per round,
rotating which goes first, ``ctr run --rm ... /bin/true`` through each
runtime (wall time of the whole ``ctr`` command; for pywasm, a hello-world
module instead, goal <= 0.3 s); then the memory of a serving shim with a
sleeping container (VmRSS, and Pss from smaps_rollup).
Prints a markdown table of medians and Python/Go ratios against the goals
(<= 1.5). ``--phases`` adds where the Python shim's time and memory go: the
fixed costs of its three processes (``start``, the serving process, ``delete``),
and the ``start`` path outside containerd (``start`` through the zygote, the
zygote's share, the forked shim's way to its first reply).

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _containerd import Containerd, install_busybox  # noqa: E402
from _peers import VERSIONS, containerd_peer  # noqa: E402

PY_RUNTIME = "io.containerd.pyrunc.v1"
GO_RUNTIME = "io.containerd.runc.v2"
WASM_RUNTIME = "io.containerd.pywasm.v1"
SHIM_BINARY = "containerd-shim-pyrunc-v1"
WASM_SHIM_BINARY = "containerd-shim-pywasm-v1"
GOAL = 1.5
WASM_GOAL_MS = 300.0
# pywasm's /bin/true and /bin/sleep: a hello world, and a module that loops forever.
_WASM_HELLO = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1) (data (i32.const 64) "hello\\n")
  (func (export "_start") (i32.store (i32.const 16) (i32.const 64)) (i32.store (i32.const 20) (i32.const 6))
    (drop (call $w (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))"""
_WASM_LOOP = '(module (func (export "_start") (loop $l (br $l))))'
COLD_LABELS = {"fork": "no zygote", "exec": "re-exec"}


class Daemon(Containerd):
    """A private containerd of a pinned version (1.6 unless ``--containerd``) with both Python shims and a rootfs."""

    def __init__(self, tmp: Path, shim: str, version: str = "1.6", **env_extra: str) -> None:
        env = {"SHIMTYPES_PYWASM_CACHE": str(tmp / "pywasm-cache"), **env_extra}
        shims = {SHIM_BINARY: Path(shim), WASM_SHIM_BINARY: Path(shim).parent / WASM_SHIM_BINARY}
        super().__init__(
            containerd_peer(version), tmp, namespace=f"shimtypes-bench-{uuid.uuid4().hex[:6]}", debug=False, shims=shims, env=env
        )
        install_busybox(self.rootfs, ("sh", "true", "sleep"))
        import wasmtime

        (self.rootfs / "hello.wasm").write_bytes(wasmtime.wat2wasm(_WASM_HELLO))
        (self.rootfs / "loop.wasm").write_bytes(wasmtime.wat2wasm(_WASM_LOOP))
        self.setup()

    def run(self, runtime: str, *cmd: str, detach: bool = False) -> str:
        id = f"bench-{uuid.uuid4().hex[:10]}"
        self.ctr(*self.run_args(id, *cmd, detach=detach, runtime=runtime))
        return id


def run_time(daemon: Daemon, runtime: str) -> float:
    start = time.perf_counter()
    daemon.run(runtime, "/hello.wasm" if runtime == WASM_RUNTIME else "/bin/true")
    return time.perf_counter() - start


def _status_kb(pid: int, field: str, path: str = "status") -> int:
    with open(f"/proc/{pid}/{path}") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def shim_memory(daemon: Daemon, runtime: str) -> tuple[int, int]:
    """(VmRSS kB, Pss kB) of the serving shim of a sleeping container."""
    id = daemon.run(runtime, *(["/loop.wasm"] if runtime == WASM_RUNTIME else ["/bin/sleep", "1000"]), detach=True)
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


def _cpu_s(pid: int) -> float:
    """Seconds process ``pid`` has run on a CPU (schedstat), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def _pids_with(marker: bytes, environ: bytes = b"") -> list[int]:
    """Our processes whose command line holds ``marker`` (and environment ``environ``)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker not in f.read():
                        continue
                if environ:
                    with open(f"/proc/{entry}/environ", "rb") as f:
                        if environ not in f.read():
                            continue
                found.append(int(entry))
            except OSError:
                pass
    return found


def _connect_frame(id: str) -> bytes:
    """A ttrpc request frame for ``containerd.task.v2.Task/Connect`` of ``id``, hand-encoded."""

    def field(number: int, data: bytes) -> bytes:
        return bytes([number << 3 | 2, len(data)]) + data

    body = field(1, b"containerd.task.v2.Task") + field(2, b"Connect") + field(3, field(1, id.encode()))
    return len(body).to_bytes(4, "big") + (1).to_bytes(4, "big") + b"\1\0" + body


def start_path(shim: str, n: int = 15) -> None:
    """The ``start`` action through the zygote outside containerd: its wall and CPU, the zygote's
    CPU per request, the forked shim's first reply (a ``Connect``) and CPU until then; medians."""
    import resource
    import socket

    def children_cpu() -> float:  # rusage: microseconds, where os.times counts clock ticks
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    walls: dict[str, list[float]] = {k: [] for k in ("start", "reply", "cpu_start", "cpu_zygote", "cpu_shim")}
    namespace = f"shimtypes-bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="shimtypes-bench-start-") as tmp:
        for i in range(n + 2):  # the first two start the zygote and warm it
            id = f"bench-{uuid.uuid4().hex[:10]}"
            bundle = os.path.join(tmp, id)
            os.mkdir(bundle)
            with open(os.path.join(bundle, "config.json"), "w") as f:
                f.write('{"ociVersion":"1.0.2","process":{"args":["/bin/true"]}}')
            zygotes = _pids_with(shim.encode(), b"SHIMTYPES_ZYGOTE_SOCKET=")
            zygote_cpu = sum(_cpu_s(z) for z in zygotes)
            before = children_cpu()
            t0 = time.perf_counter()
            proc = subprocess.run(
                [shim, "-namespace", namespace, "-address", os.path.join(tmp, "none.sock"), "-publish-binary",
                 "/bin/true", "-id", id, "start"],
                cwd=bundle, stdin=subprocess.DEVNULL, capture_output=True, check=False,
            )
            t1 = time.perf_counter()
            after = children_cpu()
            zygote_cpu = sum(_cpu_s(z) for z in zygotes) - zygote_cpu
            if proc.returncode != 0:
                raise SystemExit(f"start: {proc.stderr.decode(errors='replace')}")
            with socket.socket(socket.AF_UNIX) as conn:
                conn.connect(proc.stdout.decode().removeprefix("unix://"))
                conn.sendall(_connect_frame(id))
                if not conn.recv(4096):
                    raise SystemExit(f"shim {id}: no reply to Connect")
                t2 = time.perf_counter()
            shims = _pids_with(f"-id\0{id}\0".encode())
            shim_cpu = sum(_cpu_s(p) for p in shims)
            for pid in shims:
                os.kill(pid, signal.SIGKILL)
            subprocess.run([shim, "-namespace", namespace, "-address", os.path.join(tmp, "none.sock"), "-id", id,
                            "-bundle", bundle, "delete"], cwd=bundle, stdin=subprocess.DEVNULL, capture_output=True,
                           check=False)
            if i >= 2:
                walls["start"].append(t1 - t0)
                walls["reply"].append(t2 - t1)
                walls["cpu_start"].append(after - before)
                walls["cpu_zygote"].append(zygote_cpu)
                walls["cpu_shim"].append(shim_cpu)
    ms = {k: statistics.median(v) * 1000 for k, v in walls.items()}
    print(f"\n| `start` path, outside containerd (median of {n}) | ms |\n|---|---:|")
    print(f"| `start` action wall (through the zygote) | {ms['start']:.1f} |")
    print(f"| `start` action CPU | {ms['cpu_start']:.1f} |")
    print(f"| zygote CPU per request (checks, fork) | {ms['cpu_zygote']:.1f} |")
    print(f"| `start` exit to the forked shim's first reply, wall | {ms['reply']:.1f} |")
    print(f"| forked shim CPU until its first reply | {ms['cpu_shim']:.1f} |")


def phases(shim: str, go_shim: str) -> None:
    """Fixed costs (min wall of 11 runs, this machine) and the serving RSS by import layer."""
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="shimtypes-bench-bundle-") as bundle:
        delete = [shim, "-namespace", "bench", "-address", "/nonexistent.sock", "-id", "nosuch", "-bundle", bundle, "delete"]
        rows = [
            ("python -c pass (interpreter floor)", _min_wall([py, "-c", "pass"])),
            ("start path imports", _min_wall([py, "-c", "import impl.pyrunc, impl.shim._runner, impl.shim._start"])),
            ("serving path imports", _min_wall([py, "-c", SERVE_IMPORTS])),
            ("`delete` action, nothing to clean", _min_wall(delete, cwd=bundle)),
            ("Go: containerd-shim-runc-v2 -v (process floor)", _min_wall([go_shim, "-v"])),
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
        "--pod-rounds", type=int, default=7, help="rounds of the CRI pod table (bench/cri_pod.py); 0 leaves it out"
    )
    parser.add_argument("--containerd", choices=VERSIONS, default="1.6", help="the pinned containerd (and Go shim) to run")
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
    daemons = [(Daemon(tmp, args.shim, args.containerd), tmp)]
    # (label, daemon, runtime): the deployed Python shim, the cold modes, Go last.
    runs = [("pyrunc", daemons[0][0], PY_RUNTIME)]
    try:
        for mode in args.cold:
            tmp_cold = Path(tempfile.mkdtemp(prefix=f"shimtypes-bench-{mode}-"))
            cold = Daemon(tmp_cold, args.shim, args.containerd, SHIMTYPES_ZYGOTE="0" if mode == "fork" else "exec")
            daemons.append((cold, tmp_cold))
            runs.append((f"pyrunc, {COLD_LABELS[mode]}", cold, PY_RUNTIME))
    except BaseException:
        for d, t in daemons:
            d.close()
            shutil.rmtree(t, ignore_errors=True)
        raise
    runs.append(("pywasm (hello.wasm)", daemons[0][0], WASM_RUNTIME))
    if "fork" in args.cold:  # the first module after an idle spell: the serving shim imports wasmtime
        runs.append(("pywasm, no zygote", daemons[args.cold.index("fork") + 1][0], WASM_RUNTIME))
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
            d.close()
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
    print(f"containerd {subprocess.run([str(containerd_peer(args.containerd).containerd), '--version'], capture_output=True, text=True).stdout.split()[2]}, "
          f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}\n")
    pys = labels[:-1]
    print(f"| metric | {' | '.join(labels)} | {' | '.join(f'ratio {k}/Go' for k in pys)} | goal ({labels[0]}) |")
    print("|---|" + "---:|" * (len(labels) + len(pys)) + "---|")
    for name, values, unit, has_goal in rows:
        ratios = [values[k] / values[go] if values[go] else float("inf") for k in pys]
        goal = (f"<= {GOAL} {'met' if ratios[0] <= GOAL else 'MISSED'}") if has_goal else "-"
        cells = " | ".join(f"{values[k]:.1f} {unit}" for k in labels)
        print(f"| {name} | {cells} | {' | '.join(f'{r:.2f}' for r in ratios)} | {goal} |")
    hello = wall["pywasm (hello.wasm)"]
    print(f"\npywasm `ctr run --rm` of a hello-world module: {hello:.0f} ms median "
          f"(goal <= {WASM_GOAL_MS:.0f} ms {'met' if hello <= WASM_GOAL_MS else 'MISSED'})")
    spread = {r: (min(t) * 1000, max(t) * 1000) for r, t in times.items()}
    print("\nwall min/max ms: " + ", ".join(f"{k} {lo:.0f}/{hi:.0f}" for k, (lo, hi) in spread.items()))
    if args.phases:
        phases(args.shim, str(containerd_peer(args.containerd).runc_shim))
        start_path(args.shim)
    if args.pod_rounds:
        print()
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from bench.cri_pod import print_table

        print_table(list(VERSIONS), args.pod_rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
