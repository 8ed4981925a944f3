"""The bundle helpers: the spec, the rootfs path, paths resolved inside the rootfs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl import errdefs
from impl.shim import join_in_root, parse_spec, read_spec, rootfs_path


def test_read_spec(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "process": {"args": ["/x"]}}))
    assert read_spec(str(tmp_path))["process"] == {"args": ["/x"]}


@pytest.mark.parametrize(
    ("content", "kind", "message"),
    [
        (None, errdefs.NotFound, r"config.json not found"),
        ("{not json", errdefs.InvalidArgument, r"config.json is not JSON: "),
        ("[1, 2]", errdefs.InvalidArgument, r"config.json is not a JSON object"),
    ],
)
def test_read_spec_errors_name_the_file(tmp_path: Path, content: str | None, kind: type[Exception], message: str) -> None:
    if content is not None:
        (tmp_path / "config.json").write_text(content)
    with pytest.raises(kind, match=str(tmp_path) + "/" + message):
        read_spec(str(tmp_path))


def test_parse_spec_names_what() -> None:
    with pytest.raises(errdefs.InvalidArgument, match="^exec 'e1' process is not a JSON object$"):
        parse_spec(b'"args"', "exec 'e1' process")


def test_rootfs_path() -> None:
    assert rootfs_path({}, "/b") == "/b/rootfs"
    assert rootfs_path({"root": {"readonly": True}}, "/b") == "/b/rootfs"
    assert rootfs_path({"root": {"path": "fs"}}, "/b") == "/b/fs"
    assert rootfs_path({"root": {"path": "/abs/dir"}}, "/b") == "/abs/dir"
    for bad in ("", 3):
        with pytest.raises(errdefs.InvalidArgument, match="root.path must be a non-empty string"):
            rootfs_path({"root": {"path": bad}}, "/b")


def test_join_in_root_follows_symlinks_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "real").write_text("x")
    (root / "abs").symlink_to("/bin/real")
    (root / "rel").symlink_to("bin/../bin/real")
    (root / "out").symlink_to("../../../etc/passwd")
    assert join_in_root(str(root), "/abs") == str(root / "bin" / "real")
    assert join_in_root(str(root), "rel") == str(root / "bin" / "real")
    assert join_in_root(str(root), "/out") == str(root / "etc" / "passwd")
    assert join_in_root(str(root), "/../../missing/x") == str(root / "missing" / "x")
    assert join_in_root(str(root), "/") == str(root)


def test_join_in_root_symlink_loop_is_invalid(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(errdefs.InvalidArgument, match=r"^/a/x: Too many levels of symbolic links at /a"):
        join_in_root(str(tmp_path), "/a/x")


_parts = st.sampled_from(["a", "b", "..", ".", "etc", "link", "up", "abs", ""])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(_parts, max_size=8), absolute=st.booleans())
def test_join_in_root_never_leaves_the_root(tmp_path: Path, parts: list[str], absolute: bool) -> None:
    """Whatever the path and the symlinks on the way, the result is under the root."""
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True, exist_ok=True)
    for name, target in (("link", "../../.."), ("up", "a/../../etc"), ("abs", "/a/b/../..")):
        if not (root / "a" / name).is_symlink():
            (root / "a" / name).symlink_to(target)
    path = ("/" if absolute else "") + "/".join(parts)
    real = os.path.realpath(join_in_root(str(root), path))
    assert os.path.commonpath([real, os.path.realpath(root)]) == os.path.realpath(root)
