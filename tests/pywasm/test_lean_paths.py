"""pywasm's short-lived processes stay lean: wasmtime only in the serving process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from impl.shim import KILLED_STATUS
from shimtypes.pb.task_pb2 import DeleteResponse

from ._ctrd import shim_script

_IMPORT = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$")
HEAVY = ("wasmtime", "asyncio", "google", "impl.pywasm._ops", "impl.pywasm._engine", "impl.pywasm._child")


def _imports(stderr: bytes) -> set[str]:
    names = {m.group(1) for line in stderr.decode().splitlines() if (m := _IMPORT.match(line))}
    assert "impl.pywasm" in names  # the parse worked
    return names


def _heavy(names: set[str]) -> set[str]:
    return {n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY)}


def test_delete_action_imports_no_wasmtime(tmp_path: Path) -> None:
    """containerd's ``delete`` after a dead shim: the SDK's cleanup, a hand-encoded response."""
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    flags = ["-namespace", "pywasm-lean", "-address", str(tmp_path / "none.sock"), "-id", "lean", "-bundle", str(bundle)]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", shim_script(), *flags, "delete"],
        cwd=bundle,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert _heavy(_imports(proc.stderr)) == set()
    response = DeleteResponse.FromString(proc.stdout)
    assert response.exit_status == KILLED_STATUS and response.exited_at.seconds > 0


def test_importing_the_runtime_and_its_init_is_cheap() -> None:
    code = "import impl.pywasm as p; assert p.init and p.main and p.RUNTIME_ID == 'io.containerd.pywasm.v1'"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, timeout=30, check=True)
    assert _heavy(_imports(proc.stderr)) == set()
