"""pywasm under pyright strict (mypy --strict covers it through mypy.ini)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.typing


def test_pyright_strict_on_impl_pywasm(tmp_path: Path) -> None:
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent)) or shutil.which("pyright")
    if pyright is None:
        pytest.fail("pyright is not installed (pip install -e '.[dev]')")
    config = tmp_path / "pyrightconfig.json"
    config.write_text(json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.11", "extraPaths": [str(REPO)]}))
    proc = subprocess.run(
        [pyright, "--pythonpath", sys.executable, "--outputjson", "-p", str(config), str(REPO / "impl" / "pywasm")],
        cwd=REPO,
        env={**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(proc.stdout[proc.stdout.find("{") :])
    errors = [f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}" for d in report["generalDiagnostics"]]
    assert report["summary"]["filesAnalyzed"] >= 5
    assert errors == [], "\n".join(errors)
