"""One container process: a forked child that runs a module's ``_start``.

The serving shim forks at Create, so the process has a pid from the start
and signals reach it as they would a runc container's init. The child
waits on a gate pipe until Start (the shim writing one byte) and then runs
the module with everything already compiled and linked by the parent.

Exit statuses: ``proc_exit(n)`` gives ``n`` (wasmtime accepts 0..125 and
turns larger codes into an error); returning from ``_start`` gives 0; a
trap or that error gives ``TRAP_STATUS`` (134, what the wasmtime CLI uses:
128 + SIGABRT, kept apart from the 137 of a SIGKILL); a failure to
instantiate gives 1. Signals keep their default
actions, so SIGKILL yields 137 and SIGTERM 143, even in an endless loop.
Trap and failure messages go to the container's stderr and, one line per
message, to the report pipe the shim logs from.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
from typing import NamedTuple

import wasmtime

from ._resolve import WasmProcess

__all__ = ["TRAP_STATUS", "UNSTARTED_STATUS", "Stdio", "WasmChild", "spawn", "start"]

TRAP_STATUS = 134
UNSTARTED_STATUS = 137
"""The child's status when the gate closes without Start (the shim went away)."""

_GATE_FD = 3
_REPORT_FD = 4
_PR_SET_PDEATHSIG = 1
# Signals an asyncio/Python parent may have handled, ignored or blocked;
# wasmtime's own trap handlers (SEGV, BUS, ILL, FPE) must stay.
_RESET = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGPIPE,
    signal.SIGCHLD,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGALRM,
    signal.SIGXFSZ,
    signal.SIGWINCH,
)


class Stdio(NamedTuple):
    """The parent's fds that become the child's 0, 1 and 2."""

    stdin: int
    stdout: int
    stderr: int


class WasmChild(NamedTuple):
    """A forked, not yet started module; the parent owns both fds."""

    pid: int
    gate: int
    """Write end of the gate: ``start`` writes one byte and closes it."""
    report: int
    """Read end of the report pipe; EOF once the child has exited."""


def spawn(engine: wasmtime.Engine, process: WasmProcess, pre: wasmtime.InstancePre, stdio: Stdio) -> WasmChild:
    """Fork the child for ``process``; it waits for ``start``.

    Call it from the thread that lives as long as the shim (the main
    thread): the child is killed when that thread exits (PDEATHSIG), so a
    dying shim leaves no module running. The parent must reap the pid.
    """
    gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which always _exits
        status = 1
        try:
            status = _child(parent, engine, process, pre, stdio, gate_r, report_w)
        finally:
            os._exit(status)
    os.close(gate_r)
    os.close(report_w)
    return WasmChild(pid, gate_w, report_r)


def start(child: WasmChild) -> None:
    """Let the child run its module (it has already been forked)."""
    try:
        os.write(child.gate, b"\1")
    finally:
        os.close(child.gate)


def _child(
    parent: int, engine: wasmtime.Engine, process: WasmProcess, pre: wasmtime.InstancePre, stdio: Stdio, gate: int, report: int
) -> int:
    _place_fds([stdio.stdin, stdio.stdout, stdio.stderr, gate, report])
    signal.set_wakeup_fd(-1)
    for sig in _RESET:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        return UNSTARTED_STATUS
    if os.read(_GATE_FD, 1) != b"\1":
        return UNSTARTED_STATUS
    os.close(_GATE_FD)
    return _run(wasmtime.Store(engine), process, pre)


def _run(store: wasmtime.Store, process: WasmProcess, pre: wasmtime.InstancePre) -> int:
    name = process.args[0]
    try:
        wasi = wasmtime.WasiConfig()
        wasi.argv = process.args
        wasi.env = process.env
        wasi.inherit_stdin()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
        wasi.preopen_dir(process.rootfs, "/")
        if process.cwd != "/":
            wasi.preopen_dir(process.cwd_host, ".")
        store.set_wasi(wasi)
        instance = pre.instantiate(store)
        entry = instance.exports(store).get("_start")
        if not isinstance(entry, wasmtime.Func):
            _report(f"pywasm: module {name}: no exported function _start")
            return 1
    except wasmtime.WasmtimeError as exc:
        _report(f"pywasm: module {name}: cannot instantiate: {exc}")
        return 1
    try:
        entry(store)
    except wasmtime.ExitTrap as exc:
        return exc.code & 0xFF
    except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
        _report(f"pywasm: module {name} trapped: {exc}")
        return TRAP_STATUS
    return 0


def _report(message: str) -> None:
    line = message.rstrip("\n") + "\n"
    for fd in (2, _REPORT_FD):
        try:
            os.write(fd, line.encode(errors="replace"))
        except OSError:
            pass


def _place_fds(fds: list[int]) -> None:
    """Make ``fds[i]`` the child's fd ``i`` and close every other fd."""
    base = len(fds)
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base) for fd in fds]
    for target, fd in enumerate(moved):
        os.dup2(fd, target, inheritable=target < 3)
    os.closerange(base, 0x7FFFFFFF)  # close_range(2): one syscall
