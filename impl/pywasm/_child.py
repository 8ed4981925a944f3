"""One container process: a forked child that runs a module's ``_start``.

The serving shim forks at Create, so the process has a pid from the start
and signals reach it as they would a runc container's init. A seqpacket
socket pair, the channel, carries the rest: the child says ``ready`` once
the module is instantiated, or why it cannot be (Create fails with that);
Start is one byte from the shim, after which only the call into ``_start``
remains; then trap messages, for the shim's log. EOF: the child exited.

Exit statuses: ``proc_exit(n)`` gives ``n`` (wasmtime accepts 0..125 and
turns larger codes into an error); returning from ``_start`` gives 0; a
trap or that error gives ``TRAP_STATUS`` (134, what the wasmtime CLI uses:
128 + SIGABRT, apart from SIGKILL's 137); a module that cannot be
instantiated, 1. Signals keep their default actions, so SIGKILL yields 137
and SIGTERM 143, even in an endless loop.
"""

from __future__ import annotations

import os
import socket
from typing import NamedTuple

import wasmtime
from wasmtime import InstancePre

from impl.shim import enter_child
from impl.shim.zygote import set_cmdline

from ._engine import Uncompiled, WasmEngine
from ._resolve import InvalidProcess, WasmProcess

__all__ = ["TRAP_STATUS", "UNSTARTED_STATUS", "WasmChild", "readiness", "spawn", "start"]

TRAP_STATUS = 134
UNSTARTED_STATUS = 137
"""The child's status when the channel closes before Start (the shim went away)."""

_READY = b"ready"
_CHANNEL_FD = 3


class WasmChild(NamedTuple):
    """A forked module process; the shim owns ``pidfd`` and ``channel``."""

    pid: int
    pidfd: int
    """For ``signal.pidfd_send_signal``: it never names a reused pid."""
    channel: socket.socket


def spawn(engine: WasmEngine, process: WasmProcess, pre: InstancePre | Uncompiled, stdio: tuple[int, int, int]) -> WasmChild:
    """Fork the child for ``process``: it compiles the module if ``pre`` is ``Uncompiled``,
    instantiates it, says so, and waits for ``start``.

    Call it from the thread that lives as long as the shim (the main
    thread): the child is killed when that thread exits (PDEATHSIG), so a
    dying shim leaves no module running. The caller reaps the pid.
    """
    channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which always _exits
        status = 1
        try:
            status = _child(parent, engine, process, pre, [*stdio, theirs.fileno()])
        finally:
            os._exit(status)
    pidfd = os.pidfd_open(pid)  # before any reaping can happen
    theirs.close()
    return WasmChild(pid, pidfd, channel)


def readiness(message: bytes) -> str | None:
    """The child's first message: None when ready, else why it cannot run."""
    if message == _READY:
        return None
    return message.decode(errors="replace") or "the module's process exited before it was ready"


def start(child: WasmChild) -> None:
    """Let the ready child call the module's ``_start``."""
    child.channel.send(b"\1")


def _child(parent: int, engine: WasmEngine, process: WasmProcess, pre: InstancePre | Uncompiled, fds: list[int]) -> int:
    if not enter_child(fds, parent):  # stdio on 0-2, the channel on 3, default signals, dies with the shim
        return UNSTARTED_STATUS
    set_cmdline(["pywasm", *process.args])  # for ps: the module, not the shim's command line
    store = wasmtime.Store(engine.engine)
    if process.memory_limit is not None:  # memory.grow returns -1 beyond it
        store.set_limits(memory_size=process.memory_limit)
    entry = _instantiate(store, engine, process, pre)
    os.write(_CHANNEL_FD, entry.encode(errors="replace") if isinstance(entry, str) else _READY)
    if isinstance(entry, str):
        return 1
    if os.read(_CHANNEL_FD, 1) != b"\1":
        return UNSTARTED_STATUS
    try:
        entry(store)
    except wasmtime.ExitTrap as exc:
        return exc.code & 0xFF
    except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
        message = f"pywasm: module {process.args[0]} trapped: {exc}".encode(errors="replace")
        for fd, data in ((2, message + b"\n"), (_CHANNEL_FD, message)):
            try:
                os.write(fd, data)
            except OSError:
                pass
        return TRAP_STATUS
    return 0


def _instantiate(store: wasmtime.Store, engine: WasmEngine, process: WasmProcess, pre: InstancePre | Uncompiled) -> wasmtime.Func | str:
    """The module's ``_start`` in a fresh instance wired to WASI, or why not."""
    if isinstance(pre, Uncompiled):
        try:
            pre = engine.compile(process, pre)
        except InvalidProcess as exc:
            return str(exc)
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
        return f"pywasm: module {process.args[0]}: cannot instantiate: {exc}"
    entry = instance.exports(store).get("_start")
    if not isinstance(entry, wasmtime.Func):
        return f"pywasm: module {process.args[0]}: no exported function _start"
    return entry
