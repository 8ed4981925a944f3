"""Fixtures for the Go interop tests: build the Go peer once per session.

The tests skip only when ``go`` is not installed (CI installs it); a build
failure is an error, not a skip.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._peer import NOBODY, GoServer, build

_BUILD_SECONDS = pytest.StashKey[float]()


@pytest.fixture(scope="session")
def go_peer(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The ``peer`` binary, built into a session temp dir (readable by other uids)."""
    if shutil.which("go") is None:
        pytest.skip("go is not installed (the interop tests need golang-go and Debian's ttrpc 1.1.1)")
    out = Path(tempfile.mkdtemp(prefix="shimtypes-gopeer-"))
    out.chmod(0o755)  # the credential tests run the binary as nobody
    start = time.monotonic()
    try:
        peer = build(out)
        request.config.stash[_BUILD_SECONDS] = time.monotonic() - start
        yield peer
    finally:
        shutil.rmtree(out, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    seconds = config.stash.get(_BUILD_SECONDS, None)
    if seconds is not None:
        terminalreporter.write_line(f"interop: go peer built in {seconds:.1f}s")


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short, world-searchable directory for socket paths (AF_UNIX paths are <108 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="ttrpc-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def abstract_name() -> str:
    """A unique abstract socket name (no filesystem permissions get in the way)."""
    return f"@shimtypes-interop-{os.getpid()}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def go_server(go_peer: Path) -> Iterator[GoServer]:
    """One Go ttrpc server shared by a module's Python-client tests."""
    d = Path(tempfile.mkdtemp(prefix="ttrpc-go-"))
    server = GoServer(go_peer, str(d / "go.sock"))
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def other_uid() -> int:
    """An unprivileged uid to run a peer as; needs root and setpriv."""
    if os.geteuid() != 0:
        pytest.skip("switching a peer to another uid needs root")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    return NOBODY
