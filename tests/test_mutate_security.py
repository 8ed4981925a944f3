"""Each security protection is caught by its test when removed (scripts/mutate-security)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.mutation
def test_every_protection_is_caught_when_removed() -> None:
    if os.geteuid() != 0:
        pytest.skip("the protections' tests run other users: needs root")
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts/mutate-security")],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = r.stdout.splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    assert lines and all(line.startswith("caught  ") for line in lines), r.stdout
