"""Benchmark: impl.plugin's graph() vs containerd 1.6's walk vs graphlib.

Run: python bench/graph.py  (about two minutes on 2 cores)

The registries are generated like containerd's: plugins in five layers of
types, each requiring 0-3 types of lower layers (so the registry is acyclic,
as it must be for the 1.6 walk to end), registered in a shuffled order, plus
one "*" plugin (a type nobody requires; a second "*" would be a cycle).

Three orderings run on the same registrations: ours; a direct port of
containerd 1.6's recursive Graph (recursion before the "already added" check,
so every shared dependency is walked again: its visit count is the number of
dependency *paths*); and graphlib.TopologicalSorter fed the same edges (it does
not even give containerd's order). The port runs under a time cap; its full
visit count is computed exactly by counting paths.
"""

from __future__ import annotations

import argparse
import gc
import graphlib
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from impl.plugin import InitContext, Registration, Registry

Reg = Registration[Any]


class Capped(Exception):
    pass


def _init(ic: InitContext) -> object:
    return None


def generate(n: int, seed: int, layers: int = 5, per_type: int = 4) -> list[Reg]:
    """``n`` plugins in ``layers`` layers of types, ~``per_type`` plugins a type.

    Like containerd (content/snapshotters, metadata, services, grpc, then a
    "*" plugin): a plugin requires 0-3 types of lower layers, mostly the
    layer just below. Types per layer grow with ``n``, depth does not.
    """
    rng = random.Random(seed)
    per_layer = max(2, n // (layers * per_type))
    types = [[f"io.bench.l{lv}.t{k}.v1" for k in range(per_layer)] for lv in range(layers)]
    regs: list[Reg] = []
    for i in range(n - 1):
        layer = rng.randrange(layers)
        below = [t for lv in range(layer) for t in types[lv]]
        pool = types[layer - 1] if layer and rng.random() < 0.7 else below
        k = min(len(pool), rng.choice((0, 1, 1, 2, 2, 3)))
        regs.append(Registration(rng.choice(types[layer]), f"p{i}", _init, requires=tuple(rng.sample(pool, k))))
    regs.append(Registration("io.bench.all.v1", "wildcard", _init, requires=("*",)))
    rng.shuffle(regs)
    return regs


def layered(width: int, layers: int) -> list[Reg]:
    """``layers`` types of ``width`` plugins each; every plugin requires the type below.

    Edges grow as width² x layers, the 1.6 walk's visits as width^layers.
    """
    return [
        Registration(f"io.bench.l{lv}.v1", f"p{k}", _init, requires=(f"io.bench.l{lv - 1}.v1",) if lv else ())
        for lv in reversed(range(layers))
        for k in range(width)
    ]


def edges(regs: Sequence[Reg]) -> dict[int, list[int]]:
    """index -> indices it requires, as containerd resolves requirements."""
    by_type: dict[str, list[int]] = {}
    for i, r in enumerate(regs):
        by_type.setdefault(r.type, []).append(i)
    everyone = list(range(len(regs)))
    out: dict[int, list[int]] = {}
    for i, r in enumerate(regs):
        deps: list[int] = []
        for t in r.requires:
            deps.extend(j for j in (everyone if t == "*" else by_type.get(t, ())) if j != i)
        out[i] = deps
    return out


def port_visits(deps: dict[int, list[int]]) -> int:
    """Exactly how many dependency visits the 1.6 walk makes (path counting)."""
    walk: dict[int, int] = {}  # visits made by children(i)
    for i in graphlib.TopologicalSorter(deps).static_order():
        walk[i] = sum(1 + walk[j] for j in deps[i])
    return sum(walk.values())


def containerd_port(regs: Sequence[Reg], deadline: float) -> list[Reg]:
    """containerd 1.6 plugin.Graph with nothing disabled, transcribed (plus a time cap)."""
    added: set[int] = set()
    ordered: list[Reg] = []
    visits = 0

    def children(reg: Reg) -> None:
        nonlocal visits
        for t in reg.requires:
            for r in regs:
                if r.uri != reg.uri and (t == "*" or r.type == t):
                    visits += 1
                    if visits % 4096 == 0 and time.perf_counter() > deadline:
                        raise Capped
                    children(r)
                    if id(r) not in added:
                        ordered.append(r)
                        added.add(id(r))

    for r in regs:
        children(r)
        if id(r) not in added:
            ordered.append(r)
            added.add(id(r))
    return ordered


def _registry(regs: Sequence[Reg]) -> Registry:
    registry = Registry()
    for r in regs:
        registry.register(r)
    return registry


def time_it(fn: Callable[[], object], rounds: int) -> float:
    times: list[float] = []
    for _ in range(rounds):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_port(regs: Sequence[Reg], expected: list[Reg], rounds: int, cap: float) -> float | None:
    """Median over the rounds that fit in ``cap`` seconds; None if not even one did."""
    times: list[float] = []
    end = time.perf_counter() + cap
    while len(times) < rounds:
        gc.collect()
        t0 = time.perf_counter()
        try:
            got = containerd_port(regs, end)
        except Capped:
            break
        times.append(time.perf_counter() - t0)
        assert got == expected, "graph() differs from containerd 1.6's order"
    return statistics.median(times) if times else None


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    ap.add_argument("--depths", type=int, nargs="*", default=[4, 6, 8, 10, 12])
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--cap", type=float, default=20.0, help="seconds the port may run per row")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sys.setrecursionlimit(1_000_000)
    print(
        f"Python {sys.version.split()[0]}; medians of {args.rounds} rounds "
        f"(the port: of the rounds that fit in {args.cap:g} s)\n"
    )

    print(
        "| plugins | edges | ours graph() | graphlib | 1.6 port | ours/graphlib | port/ours "
        "| port visits | visits/edge |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        regs = generate(n, args.seed)
        registry = _registry(regs)
        deps = edges(regs)
        nedges = sum(map(len, deps.values()))

        def topo() -> list[int]:
            ts: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
            for i, d in deps.items():
                ts.add(i, *d)
            return list(ts.static_order())

        expected = registry.graph()
        assert len(topo()) == len(expected) == n
        ours = time_it(registry.graph, args.rounds)
        theirs = time_it(topo, args.rounds)
        visits = port_visits(deps)
        port = time_port(regs, expected, args.rounds, args.cap)
        port_s = fmt(port) if port is not None else f"> {args.cap:g} s (capped)"
        ratio = port / ours if port is not None else args.cap / ours
        print(
            f"| {n:,} | {nedges:,} | {fmt(ours)} | {fmt(theirs)} | {port_s} "
            f"| {ours / theirs:.2f} | {'' if port is not None else '> '}{ratio:,.0f}x "
            f"| {visits:,} | {visits / nedges:,.0f} |",
            flush=True,
        )

    if not args.depths:
        return
    cap = args.cap / 4
    print(
        f"\nWhere the port explodes: layers of {args.width} plugins, each requiring the layer "
        f"below (port capped at {cap:g} s)\n"
    )
    print("| layers | plugins | edges | ours graph() | 1.6 port | port/ours | port visits |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for layers in args.depths:
        regs = layered(args.width, layers)
        registry = _registry(regs)
        deps = edges(regs)
        expected = registry.graph()
        ours = time_it(registry.graph, args.rounds)
        visits = port_visits(deps)
        port = time_port(regs, expected, 3, cap)
        port_s = fmt(port) if port is not None else f"> {cap:g} s (capped)"
        ratio = f"{port / ours:,.0f}x" if port is not None else f"> {cap / ours:,.0f}x"
        print(
            f"| {layers} | {len(regs)} | {sum(map(len, deps.values())):,} | {fmt(ours)} | {port_s} "
            f"| {ratio} | {visits:,} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
