"""Build and drive the Go reference peer (tests/go, GOPATH mode, Debian's ttrpc 1.1.1)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

from impl.ttrpc import Server, StreamMethod
from shimtypes import PeerCredentials, TTRPCMethod

from _loops import loop_kind
from ._service import SERVICE

GO_ROOT = Path(__file__).resolve().parent.parent / "go"
DEBIAN_GOPATH = "/usr/share/gocode"
NOBODY = 65534
CLIENT_TIMEOUT = 60.0

PeerCheck = Callable[[PeerCredentials], bool]


TTRPC_1_2_PINS = ("golang-github-containerd-ttrpc-dev=1.2.7-1", "golang-github-containerd-log-dev=0.1.0-2")
"""Debian sid's Go ttrpc 1.2.7 and the containerd/log it needs; both build with Debian 12's Go 1.19."""


def go_env(cache: Path, gopath: tuple[str, ...] = ()) -> dict[str, str]:
    """GOPATH-mode build settings: tests/go, then ``gopath`` (it shadows), then Debian's sources.

    ``cache`` is the Go build cache: a private directory the caller made
    fresh (never a predictable shared path).
    """
    env = dict(os.environ)
    env.update(
        GO111MODULE="off",
        GOPATH=":".join((str(GO_ROOT), *gopath, DEBIAN_GOPATH)),
        GOFLAGS="",
        GOCACHE=str(cache),
    )
    return env


def private_dir(prefix: str) -> Path:
    """A freshly created directory only this user can enter."""
    return Path(tempfile.mkdtemp(prefix=prefix))  # mkdtemp creates it 0700, failing if it exists


def fetch_ttrpc_1_2() -> tuple[str, ...]:
    """GOPATH roots of Go ttrpc 1.2.7 and containerd/log, fetched by scripts/fetch-debs (cached)."""
    script = GO_ROOT.parent.parent / "scripts" / "fetch-debs"
    proc = subprocess.run(
        [str(script), "sid", *TTRPC_1_2_PINS], capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/fetch-debs sid {' '.join(TTRPC_1_2_PINS)} failed:\n{proc.stderr[-3000:]}")
    dirs = [line for line in proc.stdout.splitlines() if line.startswith("/")]
    roots = tuple(f"{d}/root/usr/share/gocode" for d in dirs)
    if len(roots) != len(TTRPC_1_2_PINS) or not all(Path(r, "src").is_dir() for r in roots):
        raise RuntimeError(f"scripts/fetch-debs printed {proc.stdout!r}; expected {len(TTRPC_1_2_PINS)} package dirs")
    return roots


def build(out_dir: Path, cache: Path, package: str = "ttrpcpeer/cmd/peer", gopath: tuple[str, ...] = ()) -> Path:
    """``go build`` one command of tests/go into out_dir; raise with go's output on failure."""
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("go is not installed")
    out = out_dir / package.rsplit("/", 1)[-1]
    proc = subprocess.run(
        [go, "build", "-o", str(out), package],
        env=go_env(cache, gopath),
        cwd=GO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"go build {package} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return out


def as_user(uid: int | None) -> list[str]:
    """Command prefix that runs a program under another uid/gid (needs root)."""
    if uid is None:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]


class GoServer:
    """``peer server`` in a subprocess; stdout lines are queued for wait_for()."""

    def __init__(self, peer: Path, target: str, *, same_user: bool = False, trace: bool = True) -> None:
        args = [str(peer), "server", "-socket", target]
        if same_user:
            args.append("-require-same-user")
        if trace:
            args.append("-trace")
        self.target = target
        self.lines: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._stderr: list[str] = []
        self._pumps = [
            threading.Thread(target=self._pump, daemon=True),
            threading.Thread(target=self._pump_err, daemon=True),
        ]
        for t in self._pumps:
            t.start()
        try:
            self.wait_for("ready")
        except BaseException:
            self.stop()  # no stray server when start-up fails
            raise

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("<eof>")

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait_for(self, want: str, timeout: float = 20.0) -> None:
        """Block until the server prints ``want`` (raise on timeout or exit)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"go server did not print {want!r} in {timeout}s; stderr:\n{self.stderr}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line == want:
                return
            if line == "<eof>":
                self.proc.wait(5)
                raise RuntimeError(f"go server exited ({self.proc.returncode}) before {want!r}:\n{self.stderr}")

    async def await_line(self, want: str, timeout: float = 20.0) -> None:
        await asyncio.to_thread(self.wait_for, want, timeout)

    def stop(self) -> None:
        """Kill if still running; afterwards ``stderr`` holds everything it wrote."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for t in self._pumps:
            t.join(10)


async def go_client(
    peer: Path, target: str, test: str, arg: object = None, *, uid: int | None = None
) -> dict[str, object]:
    """Run one ``peer client`` scenario; return its JSON (raise on a crash)."""
    args = [*as_user(uid), str(peer), "client", "-socket", target, "-test", test]
    if arg is not None:
        args += ["-arg", json.dumps(arg)]
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CLIENT_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise AssertionError(
            f"go client {test!r} exited {proc.returncode}:\n{err.decode(errors='replace')[-4000:]}"
        )
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


def results(report: Mapping[str, object]) -> dict[str, dict[str, object]]:
    """A go_client report's results keyed by call name."""
    rows = report["results"]
    assert isinstance(rows, list)
    return {str(r["name"]): r for r in rows}


def listen(target: str) -> socket.socket:
    """A bound, listening unix socket: connectable before serve() runs."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind("\0" + target[1:] if target.startswith("@") else target)
    sock.listen(128)
    return sock


@contextlib.asynccontextmanager
async def py_server(
    target: str,
    methods: Mapping[str, TTRPCMethod | StreamMethod],
    *,
    peer_check: PeerCheck | None = None,
    legacy: bool = False,
    service: str = SERVICE,
) -> AsyncIterator[Server]:
    """A Python ttrpc server serving the echo service on target (``legacy``:
    with Go ttrpc 1.1.1's frame rules, to compare with the 1.1.1 peer)."""
    server = Server(peer_check=peer_check, legacy=legacy)
    server.register_service(service, methods)
    sock = listen(target)
    task = asyncio.create_task(server.serve(sock))
    try:
        yield server
    finally:
        if not task.done():
            server.close()
        await asyncio.wait_for(task, 10)
        sock.close()
        if not target.startswith("@"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)


PY_CLIENT_SCRIPT = r"""
import asyncio, json, sys
from impl.ttrpc import Client
async def main():
    out = {}
    try:
        client = await Client.connect(sys.argv[1])
    except Exception as exc:
        out["connect_error"] = f"{type(exc).__name__}: {exc}"
        return out
    try:
        await client.call(sys.argv[2], "Echo", b"\n\x02hi", timeout=10)
        out["ok"] = True
    except Exception as exc:
        out["error_type"] = [c.__name__ for c in type(exc).__mro__]
        out["error"] = str(exc)
    finally:
        await client.close()
    return out
run = asyncio.run if sys.argv[3] == "asyncio" else __import__("uvloop").run
print(json.dumps(run(main())))
"""


async def py_client_as(uid: int, target: str) -> dict[str, object]:
    """Run a Python ttrpc client under another uid; return what its one call saw."""
    args = [*as_user(uid), sys.executable, "-c", PY_CLIENT_SCRIPT, target, SERVICE, loop_kind()]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(GO_ROOT.parent.parent)
    )
    out, err = await asyncio.wait_for(proc.communicate(), CLIENT_TIMEOUT)
    if proc.returncode != 0:
        raise AssertionError(f"python client exited {proc.returncode}:\n{err.decode(errors='replace')}")
    result = json.loads(out)
    assert isinstance(result, dict)
    return result

