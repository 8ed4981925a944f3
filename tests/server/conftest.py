"""Fixtures for the host tests (helpers live in ``_helpers``)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._helpers import Sockets, write_distribution, write_test_plugins


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
