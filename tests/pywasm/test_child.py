"""The module child on its own: real forks, real FIFOs, real signals."""

from __future__ import annotations

import os
import select
import signal
from pathlib import Path

import pytest

from impl.pywasm._child import TRAP_STATUS, UNSTARTED_STATUS, readiness, spawn, start
from impl.pywasm._engine import WasmEngine
from impl.pywasm._resolve import resolve_process

from . import _modules as m
from ._harness import Launch, Running, run_module


def test_hello_with_args_and_env(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "app.wasm", m.echo())
    out = run_module(launch, ["/app.wasm", "one", "two words", ""], env=["A=1", "EMPTY=", "X=y=z"])
    assert out.status == 0
    assert out.stdout == b"/app.wasm\none\ntwo words\n\nA=1\nEMPTY=\nX=y=z\n"
    assert out.stderr == b"" and out.report == b""


def test_exit_status_is_proc_exit_code(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "seven.wasm", m.say(b"before exit\n", then="exit 7"))
    out = run_module(launch, ["/seven.wasm"])
    assert (out.status, out.stdout) == (7, b"before exit\n")


def test_largest_exit_code(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "max.wasm", m.say(then="exit 125"))
    assert run_module(launch, ["/max.wasm"]).status == 125


def test_exit_code_outside_wasi_range_is_a_trap(launch: Launch, rootfs: Path) -> None:
    """wasmtime refuses proc_exit codes >= 126 (the shell's own range) as an error."""
    m.install(rootfs, "big.wasm", m.say(then="exit 513"))
    out = run_module(launch, ["/big.wasm"])
    assert out.status == TRAP_STATUS
    assert b"invalid exit status" in out.report


def test_trap_is_reported_on_stderr_and_report_pipe(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "trap.wasm", m.say(b"partial\n", b"on stderr\n", then="trap"))
    out = run_module(launch, ["/trap.wasm"])
    assert out.status == TRAP_STATUS
    assert out.stdout == b"partial\n"
    assert out.stderr.startswith(b"on stderr\npywasm: module /trap.wasm trapped: ")
    assert b"unreachable" in out.stderr
    assert out.report.startswith(b"pywasm: module /trap.wasm trapped: ")
    assert out.report + b"\n" in out.stderr
    assert b"unreachable" in out.report


def test_reads_a_file_from_the_rootfs(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "bin/cat.wasm", m.cat("etc/greeting"))
    out = run_module(launch, ["/bin/cat.wasm"])
    assert (out.status, out.stdout) == (0, b"hello from the rootfs\n")


def test_cwd_is_preopened_as_dot(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "bin/cat.wasm", m.cat("greeting", dirfd=4))
    out = run_module(launch, ["../bin/cat.wasm"], cwd="/etc")
    assert (out.status, out.stdout) == (0, b"hello from the rootfs\n")


def test_cannot_escape_the_rootfs(launch: Launch, rootfs: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("host file\n")
    m.install(rootfs, "escape.wasm", m.cat("../secret"))
    out = run_module(launch, ["/escape.wasm"])
    assert out.status > 100 and out.stdout == b""  # 100 + a WASI errno (ENOTCAPABLE or EPERM)


def test_large_output_then_exit(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "flood.wasm", m.flood(16, 3))
    out = run_module(launch, ["/flood.wasm"])
    assert (out.status, out.stdout) == (3, b"a" * (16 * 65536))


def test_memory_limit_refuses_growth(engine: WasmEngine, rootfs: Path, tmp_path: Path) -> None:
    m.install(rootfs, "grow.wasm", m.grow(100))
    process = resolve_process({"args": ["/grow.wasm"]}, str(rootfs))
    statuses = []
    for i, limit in enumerate((None, 1 << 20)):
        (tmp_path / f"limit{i}").mkdir()
        running = Running(engine, process._replace(memory_limit=limit), tmp_path / f"limit{i}")
        running.start()
        statuses.append(running.finish().status)
    assert statuses == [0, 5]  # 104 pages (6.5 MiB) fit without a limit, not in 1 MiB


def test_memory_limit_below_the_initial_memory_is_not_ready(engine: WasmEngine, rootfs: Path, tmp_path: Path) -> None:
    m.install(rootfs, "grow.wasm", m.grow(1))
    process = resolve_process({"args": ["/grow.wasm"]}, str(rootfs))._replace(memory_limit=65536)
    running = Running(engine, process, tmp_path)
    problem = running.ready()
    assert problem is not None and problem.startswith("pywasm: module /grow.wasm: cannot instantiate: ")
    assert running.finish().status == 1


def test_stdin_reaches_the_module(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "cat.wasm", m.cat_stdin())
    data = os.urandom(3000)
    out = run_module(launch, ["/cat.wasm"], stdin=data)
    assert (out.status, out.stdout) == (0, data)


def test_endless_loop_is_killed_by_sigkill(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "loop.wasm", m.say(b"looping\n", then="loop"))
    running = launch(["/loop.wasm"])
    running.start()
    running.read_until("stdout", b"looping\n")
    signal.pidfd_send_signal(running.child.pidfd, signal.SIGKILL)
    assert running.finish().status == 137
    # Reaped: the pidfd refuses, where a pid could by now name another process.
    with pytest.raises(ProcessLookupError):
        signal.pidfd_send_signal(running.child.pidfd, signal.SIGKILL)


def test_sigterm_has_its_default_action(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "loop.wasm", m.say(b"looping\n", then="loop"))
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # what the child inherits must not matter
    try:
        running = launch(["/loop.wasm"])
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    running.start()
    running.read_until("stdout", b"looping\n")
    os.kill(running.child.pid, signal.SIGTERM)
    assert running.finish().status == 143


def test_killed_before_start_runs_nothing(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "app.wasm", m.say(b"must not run\n"))
    running = launch(["/app.wasm"])
    os.kill(running.child.pid, signal.SIGKILL)
    out = running.finish()
    assert (out.status, out.stdout) == (137, b"")


def test_channel_closed_without_start_runs_nothing(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "app.wasm", m.say(b"must not run\n"))
    running = launch(["/app.wasm"])
    assert running.ready() is None
    running.child.channel.close()
    out = running.finish()
    assert (out.status, out.stdout) == (UNSTARTED_STATUS, b"")


def test_child_holds_only_its_stdio_and_channel(launch: Launch, rootfs: Path) -> None:
    m.install(rootfs, "loop.wasm", m.say(b"looping\n", then="loop"))
    stray_r, stray_w = os.pipe()  # inheritable, as a careless shim's fds might be
    try:
        running = launch(["/loop.wasm"])
        running.start()
        running.read_until("stdout", b"looping\n")
        fds: dict[int, str] = {}
        for fd in os.listdir(f"/proc/{running.child.pid}/fd"):
            try:
                fds[int(fd)] = os.readlink(f"/proc/{running.child.pid}/fd/{fd}")
            except FileNotFoundError:
                pass
        with open(f"/proc/{running.child.pid}/cmdline", "rb") as f:
            assert f.read() == b"pywasm\0/loop.wasm\0"  # what ps shows
        stray = f"pipe:[{os.fstat(stray_r).st_ino}]"
        assert stray not in fds.values(), fds
        assert fds[3].startswith("socket:"), fds  # the channel
        wasmtime_own = ("/memfd:", "anon_inode:[eventpoll]", "anon_inode:[eventfd]", str(rootfs))
        unexpected = {fd: t for fd, t in fds.items() if fd > 3 and not t.startswith(wasmtime_own)}
        assert unexpected == {}, fds
        os.kill(running.child.pid, signal.SIGKILL)
        assert running.finish().status == 137
    finally:
        os.close(stray_r)
        os.close(stray_w)


def test_child_dies_with_the_process_that_forked_it(engine: WasmEngine, rootfs: Path) -> None:
    """PDEATHSIG: a shim that dies leaves no module running."""
    m.install(rootfs, "loop.wasm", m.say(then="loop"))
    process = resolve_process({"args": ["/loop.wasm"]}, str(rootfs))
    pre = engine.prepare(process)
    pid_r, pid_w = os.pipe()
    go_r, go_w = os.pipe()
    middle = os.fork()
    if middle == 0:  # pragma: no cover - the stand-in shim
        code = 1
        try:
            os.close(pid_r)
            os.close(go_w)
            null = os.open(os.devnull, os.O_RDWR)
            child = spawn(engine, process, pre, (null, null, null))
            assert readiness(child.channel.recv(100)) is None
            start(child)
            os.write(pid_w, str(child.pid).encode())
            os.close(child.pidfd)
            os.read(go_r, 1)
            code = 0
        finally:
            os._exit(code)
    os.close(pid_w)
    os.close(go_r)
    pid = int(os.read(pid_r, 32))
    pidfd = os.pidfd_open(pid)
    try:
        os.close(go_w)  # the stand-in shim exits now
        os.waitpid(middle, 0)
        ready, _, _ = select.select([pidfd], [], [], 10)
        assert ready == [pidfd], f"module child {pid} survived its parent"
    finally:
        os.close(pidfd)
        os.close(pid_r)
