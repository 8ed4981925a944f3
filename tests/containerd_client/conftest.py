"""Prints the per-test runc.v2 / pyrunc summary of containerd's client tests after the session."""

from __future__ import annotations

import pytest

from ._suite import SUMMARY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    summary = config.stash.get(SUMMARY, None)
    if summary is not None:
        terminalreporter.write_sep("-", "containerd client tests (tests/containerd_client)")
        terminalreporter.write_line(summary)
