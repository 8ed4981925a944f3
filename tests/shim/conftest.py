"""Fixtures for the shim runner tests: bundles, the test shim program, an events sink.

Every shim here is a real process started the way containerd starts one
(``start`` in the bundle, stdout and stderr on one pipe), serving on a real
socket under ``/run/containerd/s``; events go to a real ttrpc server.
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from impl.shim import SOCKET_DIR, socket_path
from impl.ttrpc import Client, Code, Server, TaskClient, TTRPCError
from shimtypes import EVENTS_SERVICE_NAME, TTRPCMethodContext
from shimtypes.pb.events_pb2 import ForwardRequest
from shimtypes.pb.task_pb2 import ConnectRequest, ConnectResponse

PYRUNC = os.path.join(os.path.dirname(sys.executable), "containerd-shim-pyrunc-v1")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SHIMPROG = HERE / "shimprog.py"


def shim_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("TTRPC_ADDRESS", None)
    env.update(extra)
    return env


def wait_pid_exit(pid: int, timeout: float) -> bool:
    """Wait for a process that is not our child (pidfd: an event, not polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def read_until_eof(fd: int) -> bytes:
    """Everything written to the pipe or FIFO ``fd`` until its writers close it; closes ``fd``."""
    os.set_blocking(fd, True)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Bounded polling, for states no event announces (a socket file appearing, a process stopping)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def zygote_pid(path: str) -> int:
    """The pid of whatever listens on ``path`` (SO_PEERCRED), 0 if nothing."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(1)
        try:
            s.connect(path)
        except OSError:
            return 0
        pid, _, _ = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return int(pid)


def proc_state(pid: int) -> str:
    """The process's state letter (``R``, ``S``, ``T``, ``Z``...), or "gone" once it was reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0].decode()
    except FileNotFoundError:
        return "gone"


def fd_targets(pid: int) -> set[str]:
    """What the process's fds above stdio point at (``socket:[inode]``, file paths).

    The process opens and closes descriptors while it runs (a shim still
    importing opens a file per module): one listed but gone before
    ``readlink`` is skipped, never taken for the whole process being gone.
    """
    targets = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        if int(fd) > 2:
            try:
                targets.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except FileNotFoundError:
                pass
    return targets


def listening_pid(path: str) -> int | None:
    """Who (other than this process) holds the socket bound at ``path``, from /proc: a serving
    shim is not our child. None if nobody does."""
    with open("/proc/net/unix") as f:
        inodes = {f"socket:[{line.split()[6]}]" for line in f.readlines()[1:] if line.split()[7:8] == [path]}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            held = fd_targets(int(pid))
        except OSError:  # gone, or not ours to read
            continue
        if held & inodes:
            return int(pid)
    return None


def sock_path(address: str) -> str:
    """The socket file of a ``unix://`` address."""
    assert address.startswith("unix://")
    return address[len("unix://") :]


async def _connect(path: str, id: str) -> ConnectResponse:
    client = await Client.connect(path)
    try:
        return await TaskClient(client).connect(ConnectRequest(id=id), timeout=5)
    finally:
        await client.close()


def connect(address: str, id: str) -> ConnectResponse:
    """The shim's ``Connect`` answer (its pid and the task's), over a real ttrpc connection."""
    return asyncio.run(_connect(sock_path(address), id))


def terminate(pid: int) -> None:
    """SIGTERM a serving shim and wait (bounded) for it to be gone."""
    os.kill(pid, signal.SIGTERM)
    assert wait_pid_exit(pid, 15), f"shim {pid} still running 15 s after SIGTERM"


@dataclass
class Bundle:
    """A bundle directory and the flags containerd would pass for it."""

    path: Path
    namespace: str
    id: str
    address: str
    env: dict[str, str] = field(default_factory=shim_env)

    def flags(self, *extra: str) -> list[str]:
        return [
            "-namespace", self.namespace,
            "-address", self.address,
            "-publish-binary", "/usr/bin/containerd",
            "-id", self.id,
            *extra,
        ]  # fmt: skip

    def run(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[bytes]:
        """Run the test shim in the bundle, stdout and stderr on one pipe (as containerd does)."""
        return subprocess.run(
            [sys.executable, str(SHIMPROG), *args],
            cwd=self.path,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )

    def start(self, *extra: str) -> str:
        proc = self.run(*self.flags(*extra), "start")
        assert proc.returncode == 0, proc.stdout
        return proc.stdout.decode()


@contextmanager
def serving_pyrunc(b: Bundle) -> Iterator[str]:
    """A real pyrunc shim for ``b``, started as containerd starts it (re-executed, so no zygote is
    left behind); yields its socket path, SIGTERMs it after."""
    proc = subprocess.run(
        [sys.executable, PYRUNC, *b.flags(), "start"],
        cwd=b.path,
        env={**b.env, "SHIMTYPES_ZYGOTE": "exec"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    address = proc.stdout.decode()
    pid = connect(address, b.id).shim_pid
    try:
        yield sock_path(address)
    finally:
        terminate(pid)


async def statuses(calls: Mapping[str, Awaitable[object]]) -> dict[str, tuple[Code, str]]:
    """Each call's outcome, in turn: its ``TTRPCError``'s code and message, or ``(OK, "")``."""
    out: dict[str, tuple[Code, str]] = {}
    for name, call in calls.items():
        try:
            await call
        except TTRPCError as err:
            out[name] = (err.code, err.message)
        else:
            out[name] = (Code.OK, "")
    return out


@pytest.fixture
def bundle() -> Iterator[Bundle]:
    os.makedirs(SOCKET_DIR, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="shimtest-bundle-"))
    b = Bundle(path, f"ns-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:12]}", str(path / "containerd.sock"))
    try:
        yield b
    finally:
        _kill_leftover(b)
        shutil.rmtree(path, ignore_errors=True)


def _kill_leftover(b: Bundle) -> None:
    """A failing test must not leave a serving shim or its socket behind."""
    pid_file = b.path / "shimtest.pid"
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGKILL)
            wait_pid_exit(pid, 5)
        except (ValueError, ProcessLookupError):
            pass
    address_file = b.path / "address"
    if address_file.exists():
        try:
            os.unlink(socket_path(address_file.read_text()))
        except FileNotFoundError:
            pass


@dataclass
class Forwarded:
    request: ForwardRequest
    metadata: dict[str, list[str]]


class EventsSink:
    """containerd's ttrpc Events service, recording Forward calls (own thread and loop)."""

    def __init__(self, path: str, delay: float = 0.0) -> None:
        self.path = path
        self.delay = delay
        """Seconds each Forward takes: lets a test catch events still queued at exit."""
        self.calls: list[Forwarded] = []
        self._cond = threading.Condition()
        self._open = threading.Event()
        self._open.set()
        self._loop = asyncio.new_event_loop()
        self._server = Server()
        self._server.register_service(EVENTS_SERVICE_NAME, {"Forward": self._forward})
        # Bound and listening before the constructor returns: clients may dial at once.
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen(64)
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._server.serve(self._listener))

    async def _forward(self, ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        request = ForwardRequest.FromString(payload)
        if not self._open.is_set():
            await asyncio.to_thread(self._open.wait)
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow containerd, not synchronisation
        with self._cond:
            self.calls.append(Forwarded(request, {k: list(v) for k, v in ctx.metadata.items()}))
            self._cond.notify_all()
        return b""

    def hold(self) -> None:
        """Answer no Forward until ``release``: events stay undelivered, whatever the clock."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Forwarded]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.calls) >= count, timeout)
            return list(self.calls)

    def close(self) -> None:
        self.release()
        if self._thread.is_alive():
            fut = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)
            fut.result(10)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def events_sink() -> Iterator[EventsSink]:
    d = tempfile.mkdtemp(prefix="shimtest-events-")
    sink = EventsSink(os.path.join(d, "containerd.sock.ttrpc"), delay=0.1)
    try:
        yield sink
    finally:
        sink.close()
        shutil.rmtree(d, ignore_errors=True)


class LogReader:
    """The read end of the bundle's ``log`` FIFO, opened the way containerd opens it."""

    def __init__(self, bundle: Path) -> None:
        path = bundle / "log"
        os.mkfifo(path, 0o700)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = b""

    def read_until_eof(self, timeout: float = 15.0) -> list[str]:
        """Everything written until the last writer closed (the shim exited)."""
        self._read(timeout, lambda: False)
        return self.data.decode().splitlines()

    def wait_for(self, text: str, timeout: float = 15.0) -> None:
        """Block until a line containing ``text`` has been logged."""
        if not self._read(timeout, lambda: text.encode() in self.data):
            raise AssertionError(f"log closed without {text!r}: {self.data!r}")

    def _read(self, timeout: float, done: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP)
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"log FIFO: gave up after {timeout}s; got {self.data!r}")
            if not poller.poll(left * 1000):
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                return done()
            self.data += chunk
        return True

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def log_reader(bundle: Bundle) -> Iterator[LogReader]:
    reader = LogReader(bundle.path)
    try:
        yield reader
    finally:
        reader.close()
