"""Runs one module in a real forked child with real FIFOs, as the shim would."""

from __future__ import annotations

import os
import selectors
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from impl.pywasm._child import WasmChild, readiness, spawn, start
from impl.pywasm._engine import WasmEngine
from impl.pywasm._resolve import WasmProcess


@dataclass
class Outcome:
    status: int
    stdout: bytes
    stderr: bytes
    report: bytes


class Running:
    """A spawned child, the parent's read ends of its FIFOs, and its channel.

    ``report`` collects what the child sends on the channel after Start.
    """

    def __init__(self, engine: WasmEngine, process: WasmProcess, fifo_dir: Path, stdin: bytes = b"") -> None:
        fds: dict[str, int] = {}
        writers: list[int] = []
        for name in ("stdout", "stderr"):
            fifo = fifo_dir / name
            os.mkfifo(fifo)
            fds[name] = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            writers.append(os.open(fifo, os.O_WRONLY | os.O_CLOEXEC))
        stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC)
        os.write(stdin_w, stdin)
        os.close(stdin_w)
        pre = engine.prepare(process)
        self.child: WasmChild = spawn(engine, process, pre, (stdin_r, writers[0], writers[1]))
        for fd in (stdin_r, *writers):
            os.close(fd)
        self._fds = fds
        self._data = {name: bytearray() for name in ("stdout", "stderr", "report")}
        self._open = set(fds)
        self._sel = selectors.DefaultSelector()
        for name, fd in fds.items():
            self._sel.register(fd, selectors.EVENT_READ, name)

    def ready(self) -> str | None:
        self.child.channel.settimeout(10)
        return readiness(self.child.channel.recv(65536))

    def start(self) -> None:
        problem = self.ready()
        assert problem is None, problem
        start(self.child)
        self._fds["report"] = self.child.channel.fileno()
        self._open.add("report")
        self._sel.register(self.child.channel, selectors.EVENT_READ, "report")

    def read_until(self, name: str, needle: bytes, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self._data[name]:
            if not self._open or time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never came on {name}: {self._data}")
            self._pump(deadline - time.monotonic())

    def finish(self, timeout: float = 10) -> Outcome:
        deadline = time.monotonic() + timeout
        while self._open:
            if time.monotonic() > deadline:
                os.kill(self.child.pid, 9)
                raise AssertionError(f"child {self.child.pid} still running after {timeout}s: {self._data}")
            self._pump(deadline - time.monotonic())
        _, wait_status = os.waitpid(self.child.pid, 0)
        code = os.waitstatus_to_exitcode(wait_status)
        self._sel.close()
        self.child.channel.close()
        return Outcome(128 - code if code < 0 else code, *(bytes(self._data[n]) for n in ("stdout", "stderr", "report")))

    def _pump(self, timeout: float) -> None:
        for key, _ in self._sel.select(max(timeout, 0)):
            name = str(key.data)
            chunk = os.read(self._fds[name], 65536)
            if chunk:
                self._data[name] += chunk
            else:
                self._sel.unregister(key.fileobj)
                if name != "report":
                    os.close(self._fds[name])
                self._open.discard(name)


class Launch(Protocol):
    def __call__(self, args: list[str], env: list[str] | None = None, cwd: str = "/", stdin: bytes = b"") -> Running: ...


def run_module(launch: Launch, args: list[str], env: list[str] | None = None, cwd: str = "/", stdin: bytes = b"") -> Outcome:
    running = launch(args, env, cwd, stdin)
    running.start()
    return running.finish()
