"""Fixtures for pywasm: a rootfs, an engine with a private cache, ``launch``
(see ``_harness``) that forks module children torn down after the test, and
a private containerd for the end-to-end tests (see ``_ctrd``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from impl.pywasm._engine import WasmEngine
from impl.pywasm._resolve import resolve_process

from ._ctrd import Containerd, missing_requirement
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


@pytest.fixture(scope="session")
def wasm_containerd() -> Iterator[Containerd]:
    """One private containerd for the pywasm end-to-end tests."""
    reason = missing_requirement()
    if reason is not None:
        pytest.skip(f"pywasm e2e: {reason}")
    tmp = Path(tempfile.mkdtemp(prefix="shimtypes-pywasm-"))
    daemon = Containerd(tmp)
    try:
        daemon.setup()
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)


_LOG_OFFSET = pytest.StashKey[tuple[Containerd, int]]()


@pytest.fixture
def ctrd(wasm_containerd: Containerd, request: pytest.FixtureRequest) -> Containerd:
    """The session containerd; its log (shim logs included) since the test began goes into a failure's report."""
    request.node.stash[_LOG_OFFSET] = (wasm_containerd, wasm_containerd.log_size())
    return wasm_containerd


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and _LOG_OFFSET in item.stash:
        daemon, offset = item.stash[_LOG_OFFSET]
        report.sections.append(("containerd + shim log (since the test began)", daemon.log_tail(offset)))
    return report
