"""Session fixture: one private containerd for all e2e tests.

containerd's log, which also carries every shim's log lines (shims write to
the bundle's ``log`` FIFO, which containerd copies to its stderr), is
attached to each failing test's report.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from ._ctrd import Containerd, missing_requirement


@pytest.fixture(scope="session")
def containerd() -> Iterator[Containerd]:
    reason = missing_requirement()
    if reason is not None:
        pytest.skip(f"e2e: {reason}")
    tmp = Path(tempfile.mkdtemp(prefix="shimtypes-e2e-"))
    daemon = Containerd(tmp)
    try:
        daemon.setup()
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)


_LOG_OFFSET = pytest.StashKey[tuple[Containerd, int]]()


@pytest.fixture
def ctrd(containerd: Containerd, request: pytest.FixtureRequest) -> Containerd:
    """The session containerd; its log since the test began goes into a failure's report."""
    request.node.stash[_LOG_OFFSET] = (containerd, containerd.log_size())
    return containerd


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and _LOG_OFFSET in item.stash:
        daemon, offset = item.stash[_LOG_OFFSET]
        report.sections.append(("containerd + shim log (since the test began)", daemon.log_tail(offset)))
    return report
