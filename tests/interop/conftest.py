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

from _loops import event_loop_kind as event_loop_kind
from _loops import pytest_generate_tests as pytest_generate_tests

from ._peer import NOBODY, GoServer, build, fetch_ttrpc_1_2, private_dir

_BUILD_SECONDS = pytest.StashKey[float]()


@pytest.fixture(scope="session")
def go_cache() -> Iterator[Path]:
    """The Go build cache of this session: private and freshly created, removed after."""
    if shutil.which("go") is None:
        pytest.skip("go is not installed (the interop tests need golang-go and Debian's ttrpc 1.1.1)")
    cache = private_dir("shimtypes-gocache-")
    try:
        yield cache
    finally:
        shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def go_bin_dir() -> Iterator[Path]:
    """Where the peers are built (readable by other uids: credential tests run them as nobody)."""
    out = Path(tempfile.mkdtemp(prefix="shimtypes-gopeer-"))
    out.chmod(0o755)
    try:
        yield out
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="session")
def go_peer(request: pytest.FixtureRequest, go_cache: Path, go_bin_dir: Path) -> Path:
    """The ttrpc 1.1.1 ``peer`` binary (Debian 12's ttrpc)."""
    start = time.monotonic()
    peer = build(go_bin_dir, go_cache)
    request.config.stash[_BUILD_SECONDS] = request.config.stash.get(_BUILD_SECONDS, 0.0) + time.monotonic() - start
    return peer


@pytest.fixture(scope="session")
def go_peer12(request: pytest.FixtureRequest, go_cache: Path, go_bin_dir: Path) -> Path:
    """The ttrpc 1.2.7 ``peer12`` binary (Debian sid's ttrpc, fetched by scripts/fetch-debs)."""
    start = time.monotonic()
    peer = build(go_bin_dir, go_cache, "ttrpcpeer/cmd/peer12", fetch_ttrpc_1_2())
    request.config.stash[_BUILD_SECONDS] = request.config.stash.get(_BUILD_SECONDS, 0.0) + time.monotonic() - start
    return peer


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    seconds = config.stash.get(_BUILD_SECONDS, None)
    if seconds is not None:
        terminalreporter.write_line(f"interop: go peers fetched and built in {seconds:.1f}s")


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


@pytest.fixture(scope="module")
def go_server12(go_peer12: Path) -> Iterator[GoServer]:
    """One Go ttrpc 1.2.7 server (the ttrpcpeer.Streams service) shared by a module."""
    d = Path(tempfile.mkdtemp(prefix="ttrpc-go12-"))
    server = GoServer(go_peer12, str(d / "go12.sock"), trace=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(d, ignore_errors=True)
