"""Reading an OCI bundle (``impl.shim.load_bundle_spec``, ``parse_process``, ``bundle_root``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impl import errdefs
from impl.shim import OCIProcess, bundle_root, load_bundle_spec, parse_process


def test_a_bundle_spec_gives_process_and_root(tmp_path: Path) -> None:
    spec = {
        "process": {"args": ["/app.wasm", "a b"], "env": ["A=1", "B=x=y", "A=2", "junk"], "cwd": "/work"},
        "root": {"path": "rootfs"},
    }
    (tmp_path / "config.json").write_text(json.dumps(spec))
    loaded = load_bundle_spec(str(tmp_path))
    process = parse_process(loaded["process"], "config.json")
    assert process == OCIProcess(("/app.wasm", "a b"), ("A=1", "B=x=y", "A=2", "junk"), "/work", False)
    assert process.environ() == {"A": "2", "B": "x=y"}
    assert bundle_root(str(tmp_path), loaded) == str(tmp_path / "rootfs")
    assert bundle_root(str(tmp_path), {"root": {"path": "/abs/root"}}) == "/abs/root"
    assert bundle_root(str(tmp_path), {}) == str(tmp_path / "rootfs")


def test_missing_or_broken_spec_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(errdefs.NotFound, match=str(tmp_path / "config.json")):
        load_bundle_spec(str(tmp_path))
    (tmp_path / "config.json").write_text("{nope")
    with pytest.raises(errdefs.InvalidArgument, match="not JSON"):
        load_bundle_spec(str(tmp_path))
    (tmp_path / "config.json").write_text("[]")
    with pytest.raises(errdefs.InvalidArgument, match="not a JSON object"):
        load_bundle_spec(str(tmp_path))


@pytest.mark.parametrize(
    ("process", "field"),
    [
        ({"args": []}, "process.args is empty"),
        ({}, "process.args is empty"),
        ({"args": ["x", 1]}, "process.args"),
        ({"args": ["x"], "env": "A=1"}, "process.env"),
        ({"args": ["x"], "cwd": "relative"}, "process.cwd"),
        ({"args": ["x"], "terminal": "yes"}, "process.terminal"),
        ([], "not a JSON object"),
        (b"\xff", "not JSON"),
    ],
)
def test_bad_process_is_invalid_argument_naming_the_field(process: object, field: str) -> None:
    with pytest.raises(errdefs.InvalidArgument) as info:
        parse_process(process, "exec e1")
    assert str(info.value).startswith("exec e1: ") and field in str(info.value)


@given(
    st.lists(st.text(min_size=1), min_size=1, max_size=5),
    st.lists(st.text(), max_size=5),
    st.booleans(),
)
def test_exec_spec_bytes_round_trip(args: list[str], env: list[str], terminal: bool) -> None:
    raw = json.dumps({"args": args, "env": env, "terminal": terminal, "cwd": "/"}).encode()
    assert parse_process(raw, "exec") == OCIProcess(tuple(args), tuple(env), "/", terminal)
