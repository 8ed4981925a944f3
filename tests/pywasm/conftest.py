"""Fixtures for pywasm: a rootfs, an engine with a private cache, ``launch``
(see ``_harness``) that forks module children torn down after the test, and
a private containerd per pinned version for the end-to-end tests (see ``_ctrd``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from _containerd import Containerd, missing_requirement, new_tmp, running, watch_log
from _peers import VERSIONS, containerd_peer
from impl.pywasm._engine import WasmEngine
from impl.pywasm._resolve import resolve_process

from ._ctrd import wasm_containerd
from ._harness import Launch, Running


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "greeting").write_text("hello from the rootfs\n")
    return root


@pytest.fixture
def engine(tmp_path: Path) -> WasmEngine:
    return WasmEngine(cache_dir=str(tmp_path / "cache"))


@pytest.fixture
def launch(engine: WasmEngine, rootfs: Path, tmp_path: Path) -> Iterator[Launch]:
    started: list[Running] = []
    counter = iter(range(1_000_000))

    def launch(args: list[str], env: list[str] | None = None, cwd: str = "/", stdin: bytes = b"") -> Running:
        fifo_dir = tmp_path / f"io{next(counter)}"
        fifo_dir.mkdir()
        process = resolve_process({"args": args, "env": env or [], "cwd": cwd}, str(rootfs))
        running = Running(engine, process, fifo_dir, stdin)
        started.append(running)
        return running

    yield launch
    for running in started:
        try:
            os.kill(running.child.pid, 9)
            os.waitpid(running.child.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(running.child.pidfd)
        running.child.channel.close()


@pytest.fixture(scope="session", params=VERSIONS, ids=lambda v: f"containerd-{v}")
def wasm_containerd_of_version(request: pytest.FixtureRequest) -> Iterator[Containerd]:
    """One private containerd per pinned version for the pywasm end-to-end tests."""
    reason = missing_requirement(runc_needed=False)
    if reason is not None:
        pytest.skip(f"pywasm e2e: {reason}")
    with running(wasm_containerd(containerd_peer(request.param), new_tmp("shimtypes-pywasm-"))) as daemon:
        yield daemon


@pytest.fixture
def ctrd(wasm_containerd_of_version: Containerd, request: pytest.FixtureRequest) -> Containerd:
    """The version's containerd; its log (shim logs included) since the test began goes into a failure's report."""
    watch_log(wasm_containerd_of_version, request.node)
    return wasm_containerd_of_version
