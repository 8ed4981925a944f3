"""pyrunc's pieces that need no containerd: mounts, stdin pump, the ``delete`` action."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from impl.shim._runc_io import open_stdio
from impl.shim._runc_mount import (
    MS_BIND,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MountSpec,
    _unescape,
    is_mounted,
    mount_all,
    parse_options,
    unmount_all,
)
from shimtypes.pb.task_pb2 import DeleteResponse

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mount(2) needs root")

WORDS = ["ro", "rw", "bind", "rbind", "nosuid", "suid", "rprivate", "lowerdir=/a", "size=1m", "mode=755"]


@given(st.lists(st.sampled_from(WORDS), max_size=8))
def test_parse_options_last_word_wins_and_data_keeps_order(opts: list[str]) -> None:
    parsed = parse_options(opts)
    ro = [o for o in opts if o in ("ro", "rw")]
    assert bool(parsed.flags & MS_RDONLY) == (bool(ro) and ro[-1] == "ro")
    su = [o for o in opts if o in ("nosuid", "suid")]
    assert bool(parsed.flags & MS_NOSUID) == (bool(su) and su[-1] == "nosuid")
    assert bool(parsed.flags & MS_BIND) == any(o in ("bind", "rbind") for o in opts)
    assert bool(parsed.flags & MS_REC) == ("rbind" in opts)
    assert parsed.data == ",".join(o for o in opts if "=" in o)
    assert bool(parsed.propagation) == ("rprivate" in opts)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\0"), max_size=20))
def test_mountinfo_unescape_inverts_the_kernel_escape(path: str) -> None:
    escaped = "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)
    assert _unescape(escaped) == path


@needs_root
def test_bind_mount_ro_then_unmount_all_is_idempotent() -> None:
    with tempfile.TemporaryDirectory(prefix="pyrunc-mnt-") as tmp:
        src, dst = Path(tmp, "src"), Path(tmp, "dst")
        src.mkdir()
        dst.mkdir()
        (src / "file").write_text("x")
        assert not is_mounted(str(dst))
        mount_all([MountSpec("bind", str(src), ["rbind", "ro"])], str(dst))
        try:
            assert is_mounted(str(dst))
            assert (dst / "file").read_text() == "x"
            with pytest.raises(OSError):
                (dst / "other").write_text("y")  # the read-only remount took effect
        finally:
            unmount_all(str(dst))
        assert not is_mounted(str(dst))
        assert not (dst / "file").exists()
        unmount_all(str(dst))  # nothing mounted: a no-op


@needs_root
def test_failed_mount_names_source_and_target() -> None:
    with tempfile.TemporaryDirectory(prefix="pyrunc-mnt-") as tmp:
        with pytest.raises(OSError) as info:
            mount_all([MountSpec("nosuchfs", "none", [])], tmp)
        assert "nosuchfs" in str(info.value) and tmp in str(info.value)
        assert not is_mounted(tmp)


def test_stdin_pump_copies_fifo_to_container_and_closes_at_eof() -> None:
    async def main() -> bytes:
        with tempfile.TemporaryDirectory(prefix="pyrunc-fifo-") as tmp:
            fifo = os.path.join(tmp, "stdin")
            os.mkfifo(fifo)
            loop = asyncio.get_running_loop()
            # Opened before any writer exists: must not be taken as EOF.
            stdio = open_stdio(loop, fifo, "", "")
            container_stdin = os.dup(stdio.fds[0])
            stdio.close_child_ends()
            await asyncio.sleep(0)  # let the loop poll the writer-less FIFO once
            payload = os.urandom(300_000)  # larger than a pipe: exercises backpressure
            writer = await loop.run_in_executor(None, lambda: os.open(fifo, os.O_WRONLY))

            def write_all() -> None:
                view = memoryview(payload)
                while view:
                    view = view[os.write(writer, view) :]
                os.close(writer)

            def read_all() -> bytes:
                chunks = []
                while chunk := os.read(container_stdin, 65536):
                    chunks.append(chunk)
                os.close(container_stdin)
                return b"".join(chunks)

            w = loop.run_in_executor(None, write_all)
            got = await asyncio.wait_for(loop.run_in_executor(None, read_all), 30)
            await w
            assert got == payload
            assert stdio.pump is not None
            stdio.pump.close()  # idempotent after EOF closed it
            return got

    assert len(asyncio.run(main())) == 300_000


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
