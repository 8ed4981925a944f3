"""Suite-wide policy: in CI a skipped test is a failed test.

Tests that need root, Go, openssl, ctr, a real containerd or another uid skip
on a developer's machine that lacks them (a test, or a whole module while it
is collected). CI (the ``CI`` environment variable
set, as ``.ci/run`` runs it) installs every peer, so a skip there means a real
peer did not run and the green run would prove less than it claims.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator

import pytest

IN_CI = bool(os.environ.get("CI"))

# grpcio's fork support (on by default) runs its fork handlers in every child this process forks.
# The pywasm child-runner tests fork wasmtime children from the test process itself, standing in for
# a shim, which never has grpc loaded; once the CRI tests had made grpc calls here, those children died
# before instantiating their module. Read by grpcio when it is imported, so set before any test module.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")


def _fail_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped in CI (CI={os.environ['CI']!r}), where every peer must run: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        _fail_skip(report)
    harness = sys.modules.get("_containerd")  # the private-containerd harness, once a test has used it
    if report.failed and harness is not None:
        harness.attach_log(item, report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A whole module skipped while collected (``allow_module_level``, ``importorskip``) too."""
    report = yield
    if IN_CI and report.skipped:
        _fail_skip(report)
    return report
