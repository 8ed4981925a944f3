"""From a spec's process to a module: paths stay in the rootfs, bad input is named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl import errdefs
from impl.pywasm._resolve import InvalidProcess, ModuleMissing, WasmProcess, memory_limit, resolve_process

WASM = b"\0asm\x01\0\0\0"


def test_resolves_module_args_env_and_cwd(rootfs: Path) -> None:
    (rootfs / "app.wasm").write_bytes(WASM)
    p = resolve_process({"args": ["/app.wasm", "a", "b c"], "env": ["A=1", "B=x=y", "C="], "cwd": "/etc"}, str(rootfs))
    assert p == WasmProcess(
        module=str(rootfs / "app.wasm"),
        args=["/app.wasm", "a", "b c"],
        env=[("A", "1"), ("B", "x=y"), ("C", "")],
        cwd="/etc",
        cwd_host=str(rootfs / "etc"),
        rootfs=str(rootfs),
    )


def test_relative_module_is_found_from_cwd(rootfs: Path) -> None:
    (rootfs / "etc" / "tool.wasm").write_bytes(WASM)
    p = resolve_process({"args": ["tool.wasm"], "cwd": "/etc"}, str(rootfs))
    assert p.module == str(rootfs / "etc" / "tool.wasm") and p.args == ["tool.wasm"]


def test_symlinks_resolve_inside_the_rootfs(rootfs: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.wasm").write_bytes(WASM)
    (rootfs / "bin").mkdir()
    (rootfs / "bin" / "real.wasm").write_bytes(WASM)
    (rootfs / "app.wasm").symlink_to("/bin/real.wasm")
    (rootfs / "up").symlink_to("../../outside.wasm")
    assert resolve_process({"args": ["/app.wasm"]}, str(rootfs)).module == str(rootfs / "bin" / "real.wasm")
    with pytest.raises(ModuleMissing, match=r"module /up \(in rootfs .*\): no such file"):
        resolve_process({"args": ["/up"]}, str(rootfs))


def test_missing_module_names_the_path(rootfs: Path) -> None:
    with pytest.raises(ModuleMissing, match=r"^module /nope.wasm \(in rootfs .*/rootfs\): no such file$"):
        resolve_process({"args": ["/nope.wasm"]}, str(rootfs))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"not a WebAssembly module \(no \\0asm header\)"),
        (b"#!/bin/sh\necho hi\n", r"not a WebAssembly module"),
        (b"(module)", r"not a WebAssembly module"),
        (b"\0asm\x0d\0\x01\0", r"not a WebAssembly core module \(binary version 0d000100; components"),
    ],
)
def test_not_webassembly_names_the_path(rootfs: Path, content: bytes, message: str) -> None:
    (rootfs / "bad.wasm").write_bytes(content)
    with pytest.raises(InvalidProcess, match=r"^module /bad.wasm \(in rootfs .*\): " + message):
        resolve_process({"args": ["/bad.wasm"]}, str(rootfs))


def test_directory_and_fifo_are_not_modules(rootfs: Path) -> None:
    os.mkfifo(rootfs / "fifo")
    for name in ("/etc", "/fifo"):
        with pytest.raises(InvalidProcess, match=f"module {name} .*: not a regular file"):
            resolve_process({"args": [name]}, str(rootfs))


@pytest.mark.parametrize(
    ("process", "message"),
    [
        ({}, r"process.args must be a list of strings, got None"),
        ({"args": []}, r"process.args is empty"),
        ({"args": [""]}, r"process.args is empty"),
        ({"args": "/app.wasm"}, r"process.args must be a list"),
        ({"args": ["/app.wasm", 3]}, r"process.args\[1\] must be a string, got 3"),
        ({"args": ["/app.wasm", "a\0b"]}, r"process.args\[1\] contains a NUL byte"),
        ({"args": ["/app.wasm"], "env": ["NOEQUALS"]}, r"process.env entry 'NOEQUALS' is not KEY=VALUE"),
        ({"args": ["/app.wasm"], "env": ["=v"]}, r"process.env entry '=v' is not KEY=VALUE"),
        ({"args": ["/app.wasm"], "cwd": "relative"}, r"process.cwd must be an absolute path, got 'relative'"),
    ],
)
def test_malformed_process_is_named(rootfs: Path, process: dict[str, object], message: str) -> None:
    (rootfs / "app.wasm").write_bytes(WASM)
    with pytest.raises(InvalidProcess, match=message):
        resolve_process(process, str(rootfs))


def test_errors_are_containerd_kinds(rootfs: Path) -> None:
    """The SDK maps them: a missing module is NOT_FOUND, a bad one INVALID_ARGUMENT."""
    assert issubclass(ModuleMissing, errdefs.NotFound) and issubclass(InvalidProcess, errdefs.InvalidArgument)
    (rootfs / "a").symlink_to("b")
    (rootfs / "b").symlink_to("a")
    with pytest.raises(errdefs.InvalidArgument, match="Too many levels of symbolic links"):
        resolve_process({"args": ["/a/app.wasm"]}, str(rootfs))


def test_memory_limit_from_spec() -> None:
    def spec(limit: object) -> dict[str, object]:
        return {"linux": {"resources": {"memory": {"limit": limit}}}}

    assert memory_limit({}) is None and memory_limit({"linux": {"resources": {}}}) is None
    assert memory_limit(spec(1 << 20)) == 1 << 20
    assert memory_limit(spec(-1)) is None  # unlimited
    for bad in ("1M", True, 1.5):
        with pytest.raises(InvalidProcess, match="linux.resources.memory.limit must be an integer"):
            memory_limit(spec(bad))


def test_missing_cwd_and_rootfs(rootfs: Path, tmp_path: Path) -> None:
    (rootfs / "app.wasm").write_bytes(WASM)
    with pytest.raises(ModuleMissing, match=r"process.cwd /nowhere: no such directory in rootfs"):
        resolve_process({"args": ["/app.wasm"], "cwd": "/nowhere"}, str(rootfs))
    with pytest.raises(ModuleMissing, match=r"rootfs .*/absent: no such directory"):
        resolve_process({"args": ["/app.wasm"]}, str(tmp_path / "absent"))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_processes = st.fixed_dictionaries(
    {},
    optional={
        "args": st.one_of(st.lists(st.sampled_from(["/app.wasm", "app.wasm", "/etc", "", "x\0", "../app.wasm"]) | st.text(max_size=8), max_size=4), _json_values),
        "env": st.one_of(st.lists(st.text(max_size=8), max_size=4), _json_values),
        "cwd": st.one_of(st.sampled_from(["/", "/etc", "etc", "/nope", "/../.."]), _json_values),
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(process=_processes)
def test_fuzzed_process_resolves_or_is_refused_clearly(rootfs: Path, process: dict[str, object]) -> None:
    """Any JSON in the process object: a WasmProcess inside the rootfs, or one of the two named errors."""
    (rootfs / "app.wasm").write_bytes(WASM)
    try:
        p = resolve_process(process, str(rootfs))
    except (InvalidProcess, ModuleMissing) as exc:
        assert str(exc)
        return
    assert p.module.startswith(str(rootfs) + "/") and p.args == process["args"]
    assert all("\0" not in a for a in p.args)
    assert all(k and "=" not in k for k, _ in p.env)
