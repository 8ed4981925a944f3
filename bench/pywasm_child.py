"""pywasm's module child: time to first instruction, with and without the compiled-module cache.

Run: ``python bench/pywasm_child.py [--rounds 9]``. Each sample is a fresh
interpreter, as each container gets a fresh serving shim: it imports
wasmtime, builds the engine, prepares the module (loads the artifact from
the cache, or only validates the module) and forks the child, which
compiles it on a cache miss (storing the artifact), instantiates it and
says ready (all of that is Create); "first instruction" is the first
byte the module writes after Start, read by the parent. Two modules: a
hello world and a synthetic one with many functions (compile time grows
with code size, loading an artifact barely does). Prints medians in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _hello_wat() -> str:
    return """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "hello\\n")
  (func (export "_start")
    (i32.store (i32.const 16) (i32.const 64))
    (i32.store (i32.const 20) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))"""


def _big_wat(functions: int = 3000) -> str:
    body = "".join(
        f"(func $f{i} (param i32) (result i32) (i32.add (i32.mul (local.get 0) (i32.const {i + 3})) "
        f"(i32.xor (local.get 0) (i32.const {i * 7 + 1}))))\n"
        for i in range(functions)
    )
    calls = "".join(f"(drop (call $f{i} (i32.const {i})))" for i in range(0, functions, 97))
    hello = _hello_wat()
    head, _, tail = hello.partition('(func (export "_start")')
    return f'{head}{body}(func (export "_start") {calls}{tail}'


def worker(module: str, cache: str) -> None:
    """One sample, in a fresh interpreter; prints the phases as JSON (seconds)."""
    t0 = time.perf_counter()
    sys.path.insert(0, str(REPO))
    from impl.pywasm._child import readiness, spawn, start
    from impl.pywasm._engine import WasmEngine
    from impl.pywasm._resolve import resolve_process

    t1 = time.perf_counter()
    engine = WasmEngine(cache_dir=cache)
    t2 = time.perf_counter()
    rootfs, name = os.path.split(module)
    process = resolve_process({"args": ["/" + name]}, rootfs)
    pre = engine.prepare(process)
    t3 = time.perf_counter()
    out_r, out_w = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    child = spawn(engine, process, pre, (null, out_w, null))
    os.close(out_w)
    problem = readiness(child.channel.recv(65536))
    assert problem is None, problem
    t4 = time.perf_counter()
    start(child)
    first = os.read(out_r, 1)
    t5 = time.perf_counter()
    os.waitpid(child.pid, 0)
    os.close(child.pidfd)
    child.channel.close()
    assert first == b"h", first
    print(json.dumps({"import": t1 - t0, "engine": t2 - t1, "prepare": t3 - t2, "fork_to_ready": t4 - t3, "first_instruction": t5 - t4}))


def main() -> int:
    parser = argparse.ArgumentParser(description="pywasm child: time to first instruction")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--worker", nargs=2, metavar=("MODULE", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return 0
    import wasmtime

    tmp = Path(tempfile.mkdtemp(prefix="pywasm-bench-"))
    try:
        modules = {"hello": _hello_wat(), "3000 functions": _big_wat()}
        for name, wat in modules.items():
            path = tmp / "rootfs" / (name.replace(" ", "_") + ".wasm")
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(wasmtime.wat2wasm(wat))
        warm = tmp / "warm-cache"
        for name in modules:  # fill the warm cache
            module = str(tmp / "rootfs" / (name.replace(" ", "_") + ".wasm"))
            subprocess.run([sys.executable, __file__, "--worker", module, str(warm)], check=True, capture_output=True)
        samples: dict[tuple[str, str], list[dict[str, float]]] = {}
        for _ in range(args.rounds):
            for name in modules:
                module = str(tmp / "rootfs" / (name.replace(" ", "_") + ".wasm"))
                for mode, cache in (("no cache", ""), ("cold cache", str(tmp / "cold")), ("warm cache", str(warm))):
                    shutil.rmtree(tmp / "cold", ignore_errors=True)
                    out = subprocess.run(
                        [sys.executable, __file__, "--worker", module, cache], check=True, capture_output=True, text=True
                    ).stdout
                    samples.setdefault((name, mode), []).append(json.loads(out))
        size = {n: (tmp / "rootfs" / (n.replace(" ", "_") + ".wasm")).stat().st_size for n in modules}
        print(f"pywasm child, medians of {args.rounds} fresh interpreters (ms)\n")
        print("| module | cache | import | engine | prepare | fork -> ready | Start -> first byte | prepare + fork + first byte |")
        print("|---|---|---|---|---|---|---|---|")
        for (name, mode), rows in samples.items():
            med = {k: statistics.median(r[k] for r in rows) * 1000 for k in rows[0]}
            total = med["prepare"] + med["fork_to_ready"] + med["first_instruction"]
            print(
                f"| {name} ({size[name]} B) | {mode} | {med['import']:.1f} | {med['engine']:.1f} | {med['prepare']:.1f} "
                f"| {med['fork_to_ready']:.1f} | {med['first_instruction']:.2f} | {total:.1f} |"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
