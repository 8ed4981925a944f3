"""Fixtures for impl.ttrpc tests; plain helpers live in ``_helpers``.

Every test module that drives the asyncio layer (it imports ``run``) runs
once under the default event loop and once under uvloop.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest

from ._helpers import LOOPS, use_loop


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if hasattr(metafunc.module, "run") and "event_loop_kind" in metafunc.fixturenames:
        metafunc.parametrize("event_loop_kind", LOOPS, indirect=True)


@pytest.fixture(autouse=True)
def event_loop_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """The loop ``run`` uses: ``asyncio`` unless parametrized (then both)."""
    kind: str = getattr(request, "param", "asyncio")
    use_loop(kind)
    try:
        yield kind
    finally:
        use_loop("asyncio")


@pytest.fixture
def sock_dir() -> Iterator[str]:
    """A short private directory (unix socket paths are limited to 108 bytes)."""
    d = tempfile.mkdtemp(prefix="ttrpc-h2a-", dir="/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
