"""pyrunc's ``delete`` action, run as containerd runs it (no containerd needed)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from shimtypes.pb.task_pb2 import DeleteResponse


def _shim_delete(bundle: Path, id: str) -> subprocess.CompletedProcess[bytes]:
    script = Path(sys.executable).parent / "containerd-shim-pyrunc-v1"
    return subprocess.run(
        [str(script), "-namespace", "pyrunc-unit", "-address", "/nonexistent.sock", "-id", id,
         "-bundle", str(bundle), "delete"],
        cwd=bundle,
        capture_output=True,
        timeout=30,
        check=False,
    )


@pytest.mark.skipif(
    not (Path(sys.executable).parent / "containerd-shim-pyrunc-v1").exists(), reason="console script not installed"
)
def test_delete_action_is_idempotent_quick_and_removes_a_dead_socket() -> None:
    with tempfile.TemporaryDirectory(prefix="pyrunc-bundle-") as tmp:
        bundle = Path(tmp)
        (bundle / "rootfs").mkdir()
        (bundle / "init.pid").write_text("4242")
        dead = bundle / "dead.sock"
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(dead))
        sock.close()  # a socket file nobody listens on, as a SIGKILLed shim leaves it
        (bundle / "address").write_text(f"unix://{dead}")
        id = f"unit-{uuid.uuid4().hex[:8]}"
        for _ in range(2):
            started = time.monotonic()
            proc = _shim_delete(bundle, id)
            assert time.monotonic() - started < 5
            assert proc.returncode == 0, proc.stderr
            assert proc.stderr == b""
            response = DeleteResponse.FromString(proc.stdout)
            assert (response.pid, response.exit_status) == (4242, 137)
            assert abs(response.exited_at.ToNanoseconds() / 1e9 - time.time()) < 60
            assert not dead.exists()
