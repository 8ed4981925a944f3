"""Rootfs mounts (``impl.shim.mount_all``/``unmount_all``): option parsing, real bind mounts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from impl.shim import MountSpec, is_mounted, mount_all, parse_options, unmount_all
from impl.shim._mount import MS_BIND, MS_NOSUID, MS_RDONLY, MS_REC
from impl.shim._mountinfo import _unescape

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
