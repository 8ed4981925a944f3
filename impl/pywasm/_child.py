"""One container process: a forked child that runs a module's ``_start``.

The serving shim forks at Create, so the process has a pid from the start
and signals reach it as they would a runc container's init. On a gate
(a seqpacket socket pair) the child says ``ready`` once the module is
instantiated, or why it cannot be (Create then fails with that message),
and waits for Start: one byte from the shim, after which only the call
into ``_start`` remains.

Exit statuses: ``proc_exit(n)`` gives ``n`` (wasmtime accepts 0..125 and
turns larger codes into an error); returning from ``_start`` gives 0; a
trap or that error gives ``TRAP_STATUS`` (134, what the wasmtime CLI uses:
128 + SIGABRT, kept apart from the 137 of a SIGKILL); a failure to
instantiate gives 1. Signals keep their default
actions, so SIGKILL yields 137 and SIGTERM 143, even in an endless loop.
Trap messages go to the container's stderr and to the report pipe the
shim logs from.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import select
import signal
import socket
from typing import NamedTuple

import wasmtime

from ._resolve import WasmProcess

__all__ = ["READY", "TRAP_STATUS", "UNSTARTED_STATUS", "Stdio", "WasmChild", "readiness", "spawn", "start", "wait_ready"]

TRAP_STATUS = 134
UNSTARTED_STATUS = 137
"""The child's status when the gate closes without Start (the shim went away)."""
READY = b"ready"

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
    pidfd: int
    """Signal it with ``signal.pidfd_send_signal``: never a reused pid."""
    gate: int
    """The shim's end of the gate: read ``readiness`` from it, then ``start``."""
    report: int
    """Read end of the report pipe (NUL-terminated messages); EOF once the child has exited."""


def spawn(engine: wasmtime.Engine, process: WasmProcess, pre: wasmtime.InstancePre, stdio: Stdio) -> WasmChild:
    """Fork the child for ``process``; it waits for ``start``.

    Call it from the thread that lives as long as the shim (the main
    thread): the child is killed when that thread exits (PDEATHSIG), so a
    dying shim leaves no module running. The parent must reap the pid.
    """
    gate_r, gate_w = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which always _exits
        status = 1
        try:
            status = _child(parent, engine, process, pre, stdio, gate_r.fileno(), report_w)
        finally:
            os._exit(status)
    pidfd = os.pidfd_open(pid)  # before any reaping: this fd names our child for good
    gate_r.close()
    os.close(report_w)
    return WasmChild(pid, pidfd, gate_w.detach(), report_r)


def readiness(message: bytes) -> str | None:
    """What the child said on the gate: None when ready, else why it cannot run."""
    if message == READY:
        return None
    if not message:
        return "the module's process exited before it was ready"
    return message.decode(errors="replace")


def wait_ready(child: WasmChild, timeout: float) -> str | None:
    """Blocking ``readiness`` (an asyncio shim reads ``child.gate`` itself)."""
    ready, _, _ = select.select([child.gate], [], [], timeout)
    if not ready:
        return f"the module's process was not ready within {timeout} s"
    return readiness(os.read(child.gate, 65536))


def start(child: WasmChild) -> None:
    """Let the (ready) child call the module's ``_start``."""
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
    store = wasmtime.Store(engine)
    entry = _instantiate(store, process, pre)
    if isinstance(entry, str):
        os.write(_GATE_FD, entry.encode(errors="replace"))
        return 1
    os.write(_GATE_FD, READY)
    if os.read(_GATE_FD, 1) != b"\1":
        return UNSTARTED_STATUS
    os.close(_GATE_FD)
    try:
        entry(store)
    except wasmtime.ExitTrap as exc:
        return exc.code & 0xFF
    except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
        _report(f"pywasm: module {process.args[0]} trapped: {exc}")
        return TRAP_STATUS
    return 0


def _instantiate(store: wasmtime.Store, process: WasmProcess, pre: wasmtime.InstancePre) -> wasmtime.Func | str:
    """The module's ``_start`` in a fresh instance wired to WASI, or why not."""
    name = process.args[0]
    wasi = wasmtime.WasiConfig()
    wasi.argv = process.args
    wasi.env = process.env
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    try:
        wasi.preopen_dir(process.rootfs, "/")
        if process.cwd != "/":
            wasi.preopen_dir(process.cwd_host, ".")
        store.set_wasi(wasi)
        instance = pre.instantiate(store)
    except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:  # a trap in the start function too
        return f"pywasm: module {name}: cannot instantiate: {exc}"
    entry = instance.exports(store).get("_start")
    if not isinstance(entry, wasmtime.Func):
        return f"pywasm: module {name}: no exported function _start"
    return entry


def _report(message: str) -> None:
    """The full message on stderr; on the report pipe, NUL-terminated (messages have newlines)."""
    text = message.rstrip("\n").encode(errors="replace")
    for fd, data in ((2, text + b"\n"), (_REPORT_FD, text.replace(b"\0", b"") + b"\0")):
        try:
            os.write(fd, data)
        except OSError:
            pass


def _place_fds(fds: list[int]) -> None:
    """Make ``fds[i]`` the child's fd ``i`` and close every other fd."""
    base = len(fds)
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base) for fd in fds]
    for target, fd in enumerate(moved):
        os.dup2(fd, target, inheritable=target < 3)
    os.closerange(base, 0x7FFFFFFF)  # close_range(2): one syscall
