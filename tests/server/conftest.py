"""Fixtures for the host tests (helpers live in ``_helpers``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._helpers import OtherUser, Sockets, make_user, remove_user, shared_dir, write_distribution, write_test_plugins


@pytest.fixture(scope="session")
def users() -> Iterator[tuple[OtherUser, OtherUser]]:
    """Two throwaway system users, removed at the end: a host's, and an intruder."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create users")  # a failure in CI (skips are)
    tag = f"{os.getpid() % 100000:05d}"
    made: list[OtherUser] = []
    try:
        made.append(make_user(f"sth{tag}h"))
        made.append(make_user(f"sth{tag}x"))
        yield made[0], made[1]
    finally:
        for user in made:
            remove_user(user)


@pytest.fixture(scope="session")
def readable_plugin_path() -> Iterator[Path]:
    """The good test distribution where any user can import it."""
    root = shared_dir("sthp-")
    try:
        write_test_plugins(root / "dists")
        for p in (root, *root.rglob("*")):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        yield root / "dists"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sys.path entry holding the good test distribution and a broken one."""
    root = tmp_path_factory.mktemp("dists")
    write_test_plugins(root)
    write_distribution(
        root,
        "aaa-broken-plugins",
        "9.9",
        {"kaput": "st_broken_plugins:REGISTRATIONS", "wrong-shape": "st_testplugins:TYPE"},
        {"st_broken_plugins": "raise ImportError('this plugin module is broken on purpose')\n"},
    )
    return root


@pytest.fixture(scope="session")
def good_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sys.path entry holding only the good test distribution."""
    root = tmp_path_factory.mktemp("gooddists")
    write_test_plugins(root)
    return root


@pytest.fixture
def sockets() -> Iterator[Sockets]:
    """A short private directory (unix socket paths are limited to 107 bytes)."""
    with tempfile.TemporaryDirectory(prefix="sth-") as d:
        yield Sockets(Path(d))
