"""A private containerd with ``containerd-shim-pywasm-v1`` on its PATH, and ``ctr`` bound to it.

As ``tests/e2e/_ctrd.py`` does for pyrunc: temporary root, state and
sockets (never the system ones), a unique namespace, and a rootfs holding
the test modules (compiled from ``_modules``). Shims inherit the daemon's
environment, which points the compiled-module cache at the temporary
directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from . import _modules as m

RUNTIME = "io.containerd.pywasm.v1"
SHIM_BINARY = "containerd-shim-pywasm-v1"
FIFO_DIR = Path("/run/containerd/fifo")  # where ctr makes a task's stdio FIFOs


def missing_requirement() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("containerd", "ctr"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def shim_script() -> str:
    beside = Path(sys.executable).parent / SHIM_BINARY
    found = str(beside) if beside.exists() else shutil.which(SHIM_BINARY)
    assert found is not None, f"{SHIM_BINARY} console script is not installed (pip install -e '.[wasm]')"
    return found


def wait_until(cond: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Bounded polling, for states ctr offers no event for."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def install_modules(rootfs: Path) -> None:
    """The modules every e2e test and the bench use, in ``rootfs``."""
    (rootfs / "etc").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc" / "greeting").write_text("hello from the rootfs\n")
    m.install(rootfs, "echo.wasm", m.echo())
    m.install(rootfs, "hello.wasm", m.say(b"hello\n"))
    m.install(rootfs, "exit7.wasm", m.say(b"out\n", b"err\n", then="exit 7"))
    m.install(rootfs, "trap.wasm", m.say(b"before the trap\n", then="trap"))
    m.install(rootfs, "loop.wasm", m.say(b"looping\n", then="loop"))
    m.install(rootfs, "bin/cat.wasm", m.cat("etc/greeting"))
    m.install(rootfs, "stdin.wasm", m.cat_stdin())
    m.install(rootfs, "bin/catcwd.wasm", m.cat("greeting", dirfd=4))  # fd 4: the cwd, preopened as "."
    m.install(rootfs, "flood.wasm", m.flood(16, 3))
    m.install(rootfs, "grow.wasm", m.grow(100))
    (rootfs / "not-wasm.wasm").write_text("#!/bin/sh\necho I am a script\n")


class Containerd:
    """A running private containerd and a ``ctr`` bound to it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.address = str(tmp / "containerd.sock")
        self.state = tmp / "state"
        self.rootfs = tmp / "rootfs"
        self.cache = tmp / "cache"
        self.log_path = tmp / "containerd.log"
        self.namespace = f"shimtypes-pywasm-{uuid.uuid4().hex[:6]}"
        self.proc: subprocess.Popen[bytes] | None = None

    def setup(self, **env_extra: str) -> None:
        install_modules(self.rootfs)
        bin_dir = self.tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / SHIM_BINARY).symlink_to(shim_script())
        config = self.tmp / "config.toml"
        config.write_text(
            f'version = 2\nroot = "{self.tmp}/root"\nstate = "{self.state}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.address}"\n[ttrpc]\n  address = "{self.address}.ttrpc"\n'
            '[debug]\n  level = "debug"\n'
        )
        env = dict(os.environ, PATH=f"{bin_dir}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}")
        env["SHIMTYPES_PYWASM_CACHE"] = str(self.cache)
        env.update(env_extra)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["containerd", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        wait_until(self._ready, 20, "containerd to answer `ctr version`")

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"containerd exited with {self.proc.returncode}:\n{self.log_tail()}")
        return self.ctr("version", check=False, timeout=5).returncode == 0

    def sweep(self) -> None:
        """Kill and remove whatever a failed test left in this namespace (shims outlive containerd)."""
        ids = set(self.containers())
        for id in self.tasks():
            self.ctr("task", "kill", "-s", "KILL", id, check=False)
        for id in self.tasks():
            self.ctr("task", "rm", "-f", id, check=False)
        for id in ids:
            self.ctr("c", "rm", id, check=False)
        for fifo_dir in FIFO_DIR.iterdir() if FIFO_DIR.is_dir() else ():
            mine = [p for p in fifo_dir.iterdir() if any(p.name.startswith(id + "-") for id in ids)]
            for path in mine:
                path.unlink()
            if mine and not any(fifo_dir.iterdir()):
                fifo_dir.rmdir()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.sweep()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None

    def ctr(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["ctr", "--address", self.address, "--namespace", self.namespace, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def ctr_popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["ctr", "--address", self.address, "--namespace", self.namespace, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_args(self, id: str, *cmd: str, detach: bool = False, env: tuple[str, ...] = ()) -> list[str]:
        env_args = [a for e in env for a in ("--env", e)]
        return ["run", "-d" if detach else "--rm", *env_args, "--runtime", RUNTIME, "--rootfs", str(self.rootfs), id, *cmd]

    def tasks(self) -> dict[str, tuple[int, str]]:
        """``ctr task ls`` as {id: (pid, status)}."""
        rows = [line.split() for line in self.ctr("task", "ls").stdout.splitlines()[1:] if line.strip()]
        return {r[0]: (int(r[1]), r[2]) for r in rows}

    def containers(self) -> list[str]:
        return [line.split()[0] for line in self.ctr("c", "ls", "-q").stdout.splitlines() if line.strip()]

    def bundle(self, id: str) -> Path:
        return self.state / "io.containerd.runtime.v2.task" / self.namespace / id

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_tail(self, offset: int = 0, limit: int = 60000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")[-limit:]
        except OSError as err:
            return f"(no containerd log: {err})"


def unique_id(tag: str) -> str:
    return f"wasm-{tag}-{uuid.uuid4().hex[:8]}"
