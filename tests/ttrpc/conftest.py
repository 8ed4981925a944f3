"""Fixtures for impl.ttrpc tests; plain helpers live in ``_helpers``.

Every test module that drives the asyncio layer (it imports ``run``) runs
once under the default event loop and once under uvloop.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest

from _loops import event_loop_kind as event_loop_kind
from _loops import pytest_generate_tests as pytest_generate_tests


@pytest.fixture
def sock_dir() -> Iterator[str]:
    """A short private directory (unix socket paths are limited to 108 bytes)."""
    d = tempfile.mkdtemp(prefix="ttrpc-h2a-", dir="/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
