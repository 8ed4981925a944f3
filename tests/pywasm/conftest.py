"""Fixtures for pywasm: a rootfs, an engine with a private cache, and
``launch`` (see ``_harness``) that forks module children torn down after the test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from impl.pywasm._engine import WasmEngine
from impl.pywasm._resolve import resolve_process

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
