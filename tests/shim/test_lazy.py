"""``start`` and ``delete`` stay lean: no event loop, no grpc, no ttrpc, no whole API."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from .conftest import SHIMPROG, Bundle, connect, terminate

_IMPORT = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|(\s*)(\S+)$")

# Never on the short-lived paths.
FORBIDDEN = (
    "asyncio",
    "grpc",
    "impl.ttrpc",
    "impl.loader",
    "impl.plugin",
    "impl.shim._serve",
    "impl.shim._task",
    "impl.shim._stdio",
    "impl.shim._reaper",
    "impl.shim.zygote._server",
    "logging",
)


def imported_modules(b: Bundle, action: str) -> set[str]:
    """Modules the action imported, from ``python -X importtime`` (its own stderr)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(SHIMPROG), *b.flags("-bundle", str(b.path)), action],
        cwd=b.path,
        env=b.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    names = set()
    for line in proc.stderr.decode().splitlines():
        m = _IMPORT.match(line)
        if m:
            names.add(m.group(2))
    assert "impl.shim" in names  # the parse worked
    return names


def _hits(names: set[str], prefixes: tuple[str, ...]) -> set[str]:
    return {n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)}


def test_start_imports_no_event_loop_and_no_protobuf(bundle: Bundle) -> None:
    names = imported_modules(bundle, "start")
    try:
        assert _hits(names, FORBIDDEN) == set()
        assert _hits(names, ("google", "shimtypes.pb")) == set()
    finally:
        terminate(connect((bundle.path / "address").read_text(), bundle.id).shim_pid)


def test_delete_imports_only_the_delete_response(bundle: Bundle) -> None:
    names = imported_modules(bundle, "delete")
    assert _hits(names, FORBIDDEN) == set()
    pb = {n for n in names if n.startswith("shimtypes.pb.")}
    # task_pb2 (DeleteResponse) and what it is built on; no events, ttrpc or CRI modules.
    assert "shimtypes.pb.task_pb2" in pb
    assert pb <= {"shimtypes.pb.task_pb2", "shimtypes.pb.mount_pb2", "shimtypes.pb.task_types_pb2"}


# pyrunc runs ``start`` and ``delete`` without ``init`` (``ShimOptions(serving=..., cleanup=...)``):
# not even ``typing`` or ``shimtypes`` (a third of the interpreter's start-up each).
PYRUNC_FORBIDDEN = (
    *FORBIDDEN,
    "typing",
    "shimtypes",
    "google",
    "subprocess",
    "signal",
    "enum",
    "re",
    "hashlib",
    "impl.pyrunc._ops",
)
PYRUNC = os.path.join(os.path.dirname(sys.executable), "containerd-shim-pyrunc-v1")


def pyrunc_imports(b: Bundle, action: str) -> tuple[set[str], bytes]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", PYRUNC, *b.flags("-bundle", str(b.path)), action],
        cwd=b.path,
        env=b.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-2000:]
    names = {m.group(2) for m in map(_IMPORT.match, err.splitlines()) if m}
    assert "impl.pyrunc" in names
    return names, proc.stdout


def test_pyrunc_delete_imports_neither_typing_nor_protobuf(bundle: Bundle) -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    from shimtypes.pb.task_pb2 import DeleteResponse

    before = Timestamp()
    before.GetCurrentTime()
    names, out = pyrunc_imports(bundle, "delete")
    assert _hits(names, PYRUNC_FORBIDDEN) == set()
    response = DeleteResponse.FromString(out)
    assert (response.pid, response.exit_status) == (0, 137)
    assert response.exited_at.ToNanoseconds() >= before.ToNanoseconds()


def test_pyrunc_start_imports_neither_typing_nor_protobuf(bundle: Bundle) -> None:
    names, out = pyrunc_imports(bundle, "start")
    try:
        assert out.decode() == (bundle.path / "address").read_text()
        assert _hits(names, PYRUNC_FORBIDDEN) == set()
    finally:
        terminate(connect((bundle.path / "address").read_text(), bundle.id).shim_pid)
