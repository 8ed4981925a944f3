"""Compiling, linking and the compiled-module cache.

Whether an artifact was used is observed by behaviour: a cache entry
swapped for another module's artifact runs that other module.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
from pathlib import Path

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.pywasm._child import readiness, spawn, start
from impl.pywasm._engine import CACHE_ENV, Uncompiled, WasmEngine
from impl.pywasm._resolve import InvalidProcess, WasmProcess, resolve_process

from . import _modules as m
from ._harness import Launch, run_module


def _only_artifact(cache: Path) -> Path:
    (entry,) = cache.iterdir()
    return entry


def _swap_for(engine: WasmEngine, artifact: Path, wat: str) -> None:
    """Replace ``artifact`` by the compiled form of ``wat``, keeping its name and mode."""
    artifact.write_bytes(wasmtime.Module(engine.engine, wat).serialize())
    os.chmod(artifact, 0o600)


def test_artifact_is_written_private_and_reused(tmp_path: Path, rootfs: Path, launch: Launch) -> None:
    cache = tmp_path / "cache"
    m.install(rootfs, "app.wasm", m.say(then="exit 7"))
    assert run_module(launch, ["/app.wasm"]).status == 7
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    artifact = _only_artifact(cache)
    assert artifact.name.endswith(".cwasm") and stat.S_IMODE(artifact.stat().st_mode) == 0o600
    # A new engine (a new shim) with the same cache loads the artifact instead of compiling.
    fresh = WasmEngine(cache_dir=str(cache))
    _swap_for(fresh, artifact, m.say(then="exit 5"))
    process = resolve_process({"args": ["/app.wasm"]}, str(rootfs))
    assert isinstance(fresh.prepare(process), wasmtime.InstancePre)  # loaded, not left to the child
    assert _exit_status(fresh, process) == 5


def test_a_miss_is_validated_in_the_shim_and_compiled_in_the_child(engine: WasmEngine, rootfs: Path) -> None:
    """Compiling a large module must not stall the shim's event loop: the child does it, and caches it."""
    m.install(rootfs, "app.wasm", m.say(then="exit 7"))
    process = resolve_process({"args": ["/app.wasm"]}, str(rootfs))
    miss = engine.prepare(process)
    assert isinstance(miss, Uncompiled) and miss.save_to is not None and not os.path.exists(miss.save_to)
    assert _exit_status(engine, process) == 7
    assert os.path.exists(miss.save_to)
    assert isinstance(engine.prepare(process), wasmtime.InstancePre)  # the child's artifact, from the cache


def test_cached_module_with_data_runs_in_a_child(tmp_path: Path, rootfs: Path, launch: Launch) -> None:
    """A module loaded from the cache maps its data segments in the child (which closes inherited fds)."""
    m.install(rootfs, "hello.wasm", m.say(b"hello, cached\n"))
    assert run_module(launch, ["/hello.wasm"]).stdout == b"hello, cached\n"
    fresh = WasmEngine(cache_dir=str(tmp_path / "cache"))
    process = resolve_process({"args": ["/hello.wasm"]}, str(rootfs))
    pre = fresh.prepare(process)
    out_r, out_w = os.pipe()
    try:
        child = spawn(fresh, process, pre, (out_w, out_w, out_w))
        os.close(out_w)
        assert readiness(child.channel.recv(100)) is None
        start(child)
        child.channel.close()
        assert os.read(out_r, 100) == b"hello, cached\n"
        _, status = os.waitpid(child.pid, 0)
        os.close(child.pidfd)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(out_r)


@pytest.mark.parametrize("weak", ["dir-mode", "file-mode"])
def test_artifact_others_could_write_is_ignored(
    tmp_path: Path, rootfs: Path, weak: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "shared-cache"
    m.install(rootfs, "app.wasm", m.say(then="exit 7"))
    process = resolve_process({"args": ["/app.wasm"]}, str(rootfs))
    assert _exit_status(WasmEngine(cache_dir=str(cache)), process) == 7  # the child writes the artifact
    artifact = _only_artifact(cache)
    fresh = WasmEngine(cache_dir=str(cache))
    _swap_for(fresh, artifact, m.say(then="exit 5"))
    if weak == "dir-mode":
        os.chmod(cache, 0o777)
    else:
        os.chmod(artifact, 0o666)
    with caplog.at_level(logging.WARNING, logger="impl.pywasm._engine"):
        fresh.prepare(process)
    assert _exit_status(fresh, process) == 7
    assert "pywasm cache: ignoring" in caplog.text and str(cache) in caplog.text


def test_corrupt_artifact_falls_back_to_compiling(tmp_path: Path, rootfs: Path) -> None:
    cache = tmp_path / "cache"
    m.install(rootfs, "app.wasm", m.say(then="exit 7"))
    process = resolve_process({"args": ["/app.wasm"]}, str(rootfs))
    assert _exit_status(WasmEngine(cache_dir=str(cache)), process) == 7
    artifact = _only_artifact(cache)
    artifact.write_bytes(b"\x7fELF" + os.urandom(512))
    fresh = WasmEngine(cache_dir=str(cache))
    fresh.prepare(process)
    assert _exit_status(fresh, process) == 7


def test_cache_can_be_disabled(tmp_path: Path, rootfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "")
    m.install(rootfs, "app.wasm", m.say())
    engine = WasmEngine()
    assert engine.cache_dir is None
    engine.prepare(resolve_process({"args": ["/app.wasm"]}, str(rootfs)))


def test_invalid_module_body_names_the_module(engine: WasmEngine, rootfs: Path) -> None:
    (rootfs / "bad.wasm").write_bytes(b"\0asm\x01\0\0\0\x01\xff\xff")
    process = resolve_process({"args": ["/bad.wasm"]}, str(rootfs))
    with pytest.raises(InvalidProcess, match=r"^module /bad.wasm: invalid WebAssembly: "):
        engine.prepare(process)


def test_import_outside_wasi_names_the_module_and_import(engine: WasmEngine, launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "env.wasm", '(module (import "env" "host_fn" (func)) (func (export "_start")))')
    running = launch(["/env.wasm"])  # compiled in the child: linking fails there
    problem = running.ready()
    assert problem is not None and problem.startswith("module /env.wasm: cannot link against WASI preview 1: ")
    assert "host_fn" in problem and running.finish().status == 1
    process = resolve_process({"args": ["/env.wasm"]}, str(rootfs))
    with pytest.raises(InvalidProcess, match=r"^module /env.wasm: cannot link against WASI preview 1: .*host_fn"):
        engine.prepare(process)  # now from the cache: linking fails in the shim


def test_module_without_start_is_not_ready(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "lib.wasm", '(module (func (export "helper")))')
    running = launch(["/lib.wasm"])
    assert running.ready() == "pywasm: module /lib.wasm: no exported function _start"
    out = running.finish()
    assert (out.status, out.stdout, out.stderr) == (1, b"", b"")


def test_instantiation_failure_is_not_ready(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "start.wasm", '(module (func $boom unreachable) (start $boom) (func (export "_start")))')
    running = launch(["/start.wasm"])
    problem = running.ready()
    assert problem is not None and problem.startswith("pywasm: module /start.wasm: cannot instantiate: ")
    assert running.finish().status == 1


def _exit_status(engine: WasmEngine, process: WasmProcess) -> int:
    null = os.open(os.devnull, os.O_RDWR)
    try:
        child = spawn(engine, process, engine.prepare(process), (null, null, null))
    finally:
        os.close(null)
    assert readiness(child.channel.recv(100)) is None
    start(child)
    child.channel.close()
    _, status = os.waitpid(child.pid, 0)
    os.close(child.pidfd)
    return os.waitstatus_to_exitcode(status)


_VALID = bytes(wasmtime.wat2wasm('(module (memory 1) (data (i32.const 8) "hi") (func (export "_start") (nop)))'))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=200).map(lambda tail: b"\0asm\x01\0\0\0" + tail),
        st.lists(st.tuples(st.integers(8, len(_VALID) - 1), st.integers(1, 255)), min_size=1, max_size=4).map(
            lambda flips: _flipped(_VALID, flips)
        ),
    )
)
def test_fuzzed_module_bytes_are_refused_or_prepared(rootfs: Path, data: bytes) -> None:
    """Compiling happens in the serving shim: any bytes are a module or an InvalidProcess, never a crash."""
    (rootfs / "fuzz.wasm").write_bytes(data)
    process = resolve_process({"args": ["/fuzz.wasm"]}, str(rootfs))
    try:
        _uncached().prepare(process)
    except InvalidProcess as exc:
        assert str(exc).startswith("module /fuzz.wasm: ")


@functools.cache
def _uncached() -> WasmEngine:
    return WasmEngine(cache_dir="")


def _flipped(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for at, mask in flips:
        out[at] ^= mask
    return bytes(out)
