"""The committed protobuf modules are exactly what proto/ regenerates to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_committed_pb_modules_match_protos(tmp_path: Path) -> None:
    protos = sorted((ROOT / "proto/shimtypes/pb").glob("*.proto"))
    assert protos
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
         f"--python_out={tmp_path}", f"--mypy_out={tmp_path}", *map(str, protos)],
        check=True, env=env, capture_output=True,
    )
    generated = sorted(p.name for p in (tmp_path / "shimtypes/pb").iterdir())
    committed = sorted(p.name for p in (ROOT / "shimtypes/pb").iterdir() if "_pb2" in p.name)
    assert generated == committed, "run scripts/regen-protos"
    for name in generated:
        fresh = (tmp_path / "shimtypes/pb" / name).read_text()
        assert fresh == (ROOT / "shimtypes/pb" / name).read_text(), f"{name} is stale: run scripts/regen-protos"
