"""``ShimOptions``: the runner's cheap ``start``/``delete`` for any runtime (here the test shim program)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from impl.shim import ShimOptions
from shimtypes.pb.task_pb2 import DeleteResponse

from .conftest import SHIMPROG, Bundle, connect, terminate


def test_options_are_validated_and_immutable() -> None:
    options = ShimOptions(serving="fork", preload=["json"])
    assert (options.serving, options.preload, options.cleanup) == ("fork", ("json",), None)
    with pytest.raises(AttributeError, match="immutable"):
        setattr(options, "serving", "exec")
    with pytest.raises(ValueError, match="'spawn' is not one of zygote, fork, exec"):
        ShimOptions(serving="spawn")  # type: ignore[arg-type]
    assert "serving='fork'" in repr(options)


def _run(b: Bundle, action: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, str(SHIMPROG), *b.flags("-bundle", str(b.path)), action],
        cwd=b.path,
        env={**b.env, "SHIMTEST_KEY": b.id, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("serving", ["fork", "exec"])
def test_standard_start_without_init_serves_the_same(bundle: Bundle, serving: str) -> None:
    """``start`` makes the serving process itself; it looks and answers as a re-executed one."""
    assert _run(bundle, "start", SHIMTEST_INIT_ONLY_TO_SERVE="1").returncode == 1, "init is called without options"
    proc = _run(bundle, "start", SHIMTEST_SERVING=serving, SHIMTEST_INIT_ONLY_TO_SERVE="1")
    assert proc.returncode == 0, proc.stderr
    address = proc.stdout.decode()
    assert address == (bundle.path / "address").read_text()
    pid = connect(address, bundle.id).shim_pid
    try:
        assert os.getsid(pid) == pid
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")[:-1]
        assert b"start" not in argv and argv[-8:-6] == [b"-namespace", bundle.namespace.encode()]
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"
    finally:
        terminate(pid)


def test_cleanup_option_is_the_delete_action_without_init(bundle: Bundle) -> None:
    assert _run(bundle, "delete", SHIMTEST_INIT_ONLY_TO_SERVE="1").returncode == 1, "init is called without options"
    proc = _run(bundle, "delete", SHIMTEST_CLEANUP="1", SHIMTEST_INIT_ONLY_TO_SERVE="1")
    assert proc.returncode == 0, proc.stderr
    response = DeleteResponse.FromString(proc.stdout)
    assert (response.pid, response.exit_status) == (4242, 3)
    assert response.exited_at.ToNanoseconds() == 1_700_000_000_123_456_789
    without = _run(bundle, "delete")
    assert DeleteResponse.FromString(without.stdout).exit_status == 137, "init's cleanup otherwise"
