"""The runtimes (impl/pyrunc, impl/pywasm), their SDK (impl/shim) and the host's generated gRPC bindings
and the built-ins that use them, under pyright strict.

mypy --strict covers them through mypy.ini; this is the second checker. One
pyright run over all of them (one start-up, shared analysis of the SDK).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHECKED = (
    "impl/pyrunc",
    "impl/pywasm",
    "impl/shim",
    "impl/_jsonvalue.py",
    "impl/server/_bindings",
    "impl/server/_grpc_methods.py",
    "impl/server/_builtins/_events.py",
    "impl/server/_builtins/_introspection.py",
    "impl/server/_builtins/_version.py",
)

pytestmark = pytest.mark.typing


def _source_files(target: Path) -> list[Path]:
    return [target] if target.is_file() else sorted(target.rglob("*.py"))


def test_pyright_strict_on_runtimes_and_sdk(tmp_path: Path) -> None:
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent)) or shutil.which("pyright")
    if pyright is None:
        pytest.fail("pyright is not installed (pip install -e '.[dev]')")
    config = tmp_path / "pyrightconfig.json"
    config.write_text(json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.11", "extraPaths": [str(REPO)]}))
    targets = [REPO / t for t in CHECKED]
    proc = subprocess.run(
        [pyright, "--pythonpath", sys.executable, "--outputjson", "-p", str(config), *map(str, targets)],
        cwd=REPO,
        env={**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    start = proc.stdout.find("{")
    assert start >= 0, f"pyright printed no JSON report (exit {proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    report = json.loads(proc.stdout[start:])
    errors = [
        f"{Path(d['file']).relative_to(REPO)}:{d['range']['start']['line'] + 1}: {d['message']} ({d.get('rule', d['severity'])})"
        for d in report["generalDiagnostics"]
    ]
    assert errors == [], "\n".join(errors)
    # Every source file of every checked package was analysed (a wrong path analyses nothing, silently).
    expected = sum(len(_source_files(t)) for t in targets)
    assert all(_source_files(t) for t in targets), "a checked path has no Python files"
    assert report["summary"]["filesAnalyzed"] >= expected
