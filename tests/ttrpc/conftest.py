"""Fixtures for impl.ttrpc tests; plain helpers live in ``_helpers``."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture
def sock_dir() -> Iterator[str]:
    """A short private directory (unix socket paths are limited to 108 bytes)."""
    d = tempfile.mkdtemp(prefix="ttrpc-h2a-", dir="/tmp")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
