"""The suite's CI policy (tests/conftest.py): a skip under ``CI`` fails the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SKIPPING = '''
import pytest

def test_needs_a_peer() -> None:
    pytest.skip("no peer here")

@pytest.mark.skipif(True, reason="marker")
def test_marked() -> None:
    pass
'''


SKIPPED_MODULE = '''
import pytest

pytest.importorskip("no_such_module_anywhere")

def test_never_collected() -> None:
    pass
'''


def _run(tmp_path: Path, ci: str | None, module: str = SKIPPING) -> subprocess.CompletedProcess[str]:
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_skipping.py").write_text(module)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_skip_fails_under_ci(tmp_path: Path) -> None:
    proc = _run(tmp_path, "true")
    assert proc.returncode == 1, proc.stdout
    assert "skipped in CI" in proc.stdout and "no peer here" in proc.stdout
    assert "1 failed, 1 error" in proc.stdout


def test_skip_is_a_skip_elsewhere(tmp_path: Path) -> None:
    proc = _run(tmp_path, None)
    assert proc.returncode == 0, proc.stdout
    assert "2 skipped" in proc.stdout


def test_module_skipped_at_collection_fails_under_ci(tmp_path: Path) -> None:
    proc = _run(tmp_path, "true", SKIPPED_MODULE)
    assert proc.returncode == 2, proc.stdout  # an error while collecting
    assert "skipped in CI" in proc.stdout and "no_such_module_anywhere" in proc.stdout
    assert "1 error" in proc.stdout


def test_module_skipped_at_collection_is_a_skip_elsewhere(tmp_path: Path) -> None:
    proc = _run(tmp_path, None, SKIPPED_MODULE)
    assert proc.returncode == 5, proc.stdout  # pytest's "no tests ran": the only module was skipped
    assert "1 skipped" in proc.stdout
