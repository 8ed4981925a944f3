"""A private containerd of one pinned version, ``ctr`` bound to it, and what it leaves behind.

The one harness every suite that drives containerd uses (ctr scenarios,
pywasm, CRI, the publisher check, the benches). Everything a daemon owns is
under one temporary directory (root, state, sockets, the opt plugin's dir) or
named after it (a unique namespace), so "nothing left" checks look only at
their own paths. NRI is off (its socket is machine-wide). Binaries come from
the pinned ``Peer`` (``_peers``): the daemon's PATH is its own ``bin`` (shims
and wrappers the test puts there), then the peer's directory (its Go
``containerd-shim-runc-v2``), then the system's (``runc``).

The config is version-aware: 1.x reads ``version = 2``, 2.x ``version = 3``,
and the CRI plugin ids differ (1.x ``io.containerd.grpc.v1.cri``; 2.x adds
``io.containerd.cri.v1.runtime`` / ``io.containerd.cri.v1.images``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from _peers import Peer, busybox, runc
from impl.shim import socket_address

PYRUNC_RUNTIME: Final = "io.containerd.pyrunc.v1"
PYRUNC_SHIM: Final = "containerd-shim-pyrunc-v1"
GO_RUNTIME: Final = "io.containerd.runc.v2"
TASK_DIR: Final = "io.containerd.runtime.v2.task"
RUNC_STATE: Final = Path("/run/containerd/runc")
"""runc's default root; the runc shims use ``<it>/<namespace>``."""
FIFO_DIR: Final = Path("/run/containerd/fifo")
"""Where ``ctr`` makes a task's stdio FIFOs (``<dir>/<random>/<id>-stdout``...)."""
CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
BUSYBOX_APPLETS: Final = ("sh", "echo", "cat", "sleep", "true", "false", "env", "ls")
CRI_PLUGINS_1X: Final = ("io.containerd.grpc.v1.cri",)
CRI_PLUGINS_2X: Final = ("io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images")


def wait_until(cond: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Bounded polling, for states nothing signals."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def missing_requirement(*, runc_needed: bool = True) -> str | None:
    """Why a private containerd cannot run its containers here, or None."""
    if os.geteuid() != 0:
        return "needs root"
    if runc_needed and runc() is None:
        return "runc is not installed"
    if busybox() is None:
        return "busybox(-static) is not installed"
    return None


def console_script(name: str, extra: str = "") -> Path:
    """A console script installed beside this interpreter (the checkout's venv)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise AssertionError(f"{path} is missing: install this checkout (scripts/setup-venv{extra})")
    return path


def pyrunc_shim() -> Path:
    return console_script(PYRUNC_SHIM)


def unique_id(tag: str, prefix: str = "e2e") -> str:
    return f"{prefix}-{tag}-{uuid.uuid4().hex[:8]}"


def install_busybox(rootfs: Path, applets: Sequence[str] = BUSYBOX_APPLETS) -> None:
    """A minimal rootfs: busybox-static and its applets in ``/bin``."""
    (rootfs / "bin").mkdir(parents=True, exist_ok=True)
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        (rootfs / d).mkdir(exist_ok=True)
    bb = busybox()
    assert bb is not None, "busybox(-static) is not installed"
    shutil.copy2(bb, rootfs / "bin" / "busybox")
    for applet in applets:
        (rootfs / "bin" / applet).symlink_to("busybox")


def recorder(log: Path, real: str) -> str:
    """A script that appends its argv (one line) to ``log``, then execs ``real`` (a wrapper, not a mock)."""
    return f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {real} "$@"\n'


def config_toml(peer: Peer, tmp: Path, address: str, *, debug: bool, cri: Sequence[str] | None) -> str:
    """containerd's config for ``peer`` with everything under ``tmp``.

    ``cri``: the CRI plugin's tables (``CRIDaemon`` writes them), or None to
    disable every CRI plugin of that version.
    """
    lines = [f"version = {3 if peer.major >= 2 else 2}"]
    if cri is None:
        disabled = CRI_PLUGINS_2X if peer.major >= 2 else CRI_PLUGINS_1X
        lines.append(f"disabled_plugins = [{', '.join(repr(p) for p in disabled)}]")
    lines += [
        f"root = '{tmp}/root'",
        f"state = '{tmp}/state'",
        "[grpc]",
        f"  address = '{address}'",
        "[ttrpc]",
        f"  address = '{address}.ttrpc'",
        "[debug]",
        f"  level = '{'debug' if debug else 'info'}'",
        "[plugins.'io.containerd.internal.v1.opt']",
        f"  path = '{tmp}/opt'",
        "[plugins.'io.containerd.nri.v1.nri']",
        "  disable = true",
    ]
    if peer.major >= 2:
        lines += ["[plugins.'io.containerd.image-verifier.v1.bindir']", f"  bin_dir = '{tmp}/opt/image-verifier/bin'"]
    return "\n".join([*lines, *(cri or ())]) + "\n"


@dataclass(frozen=True)
class ShimProcess:
    pid: int
    id: str
    """The ``-id`` it was started with (a group or sandbox id when one shim serves several containers)."""
    argv: tuple[str, ...]


class Containerd:
    """A running private containerd (one pinned version) and ``ctr`` bound to it.

    ``shims``: executables (name -> target) linked into the daemon's ``bin``,
    e.g. ``containerd-shim-pyrunc-v1``; ``wrappers``: scripts (name -> text)
    written there, e.g. a recording ``runc``; ``env``: more environment for
    the daemon and so for every shim it starts.
    """

    def __init__(
        self,
        peer: Peer,
        tmp: Path,
        *,
        namespace: str | None = None,
        debug: bool = True,
        shims: Mapping[str, Path] | None = None,
        wrappers: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        runtime: str = PYRUNC_RUNTIME,
    ) -> None:
        self.peer = peer
        self.tmp = tmp
        self.address = str(tmp / "containerd.sock")
        self.root = tmp / "root"
        self.state = tmp / "state"
        self.rootfs = tmp / "rootfs"
        self.bin = tmp / "bin"
        self.config = tmp / "config.toml"
        self.log_path = tmp / "containerd.log"
        self.namespace = namespace or f"shimtypes-e2e-{uuid.uuid4().hex[:6]}"
        self.debug = debug
        self.shims_linked = dict({PYRUNC_SHIM: pyrunc_shim()} if shims is None else shims)
        self.wrappers = dict(wrappers or {})
        self.env = dict(env or {})
        self.runtime = runtime
        """What ``run_args`` runs containers on unless told otherwise."""
        self.proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------

    def cri_config(self) -> Sequence[str] | None:
        """The CRI plugin's config lines; None: CRI disabled (``CRIDaemon`` overrides)."""
        return None

    def setup(self) -> None:
        for d in (self.bin, self.tmp / "opt"):
            d.mkdir(parents=True, exist_ok=True)
        for name, target in self.shims_linked.items():
            (self.bin / name).symlink_to(target)
        for name, script in self.wrappers.items():
            (self.bin / name).write_text(script)
            (self.bin / name).chmod(0o755)
        self.config.write_text(config_toml(self.peer, self.tmp, self.address, debug=self.debug, cri=self.cri_config()))
        self.start()

    def start(self) -> None:
        path = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        env = dict(os.environ, PATH=f"{self.bin}:{self.peer.bin}:{path}", **self.env)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.peer.containerd), "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        wait_until(self._serving, 30, f"containerd {self.peer.version} to serve {self.address}")

    def _serving(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"containerd exited with {self.proc.returncode}:\n{self.log_tail()}")
        return self.ctr("version", check=False, timeout=5).returncode == 0 and os.path.exists(self.address + ".ttrpc")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the daemon (shims keep running, as in production)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.proc = None

    def restart(self, sig: signal.Signals) -> None:
        self.stop(sig)
        self.start()

    def sweep(self) -> None:
        """Kill and remove whatever a failed test left in the namespace (shims outlive containerd)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        ids = set(self.containers())
        for id in self.tasks():
            self.ctr("task", "kill", "-a", "-s", "KILL", id, check=False)
        for id in self.tasks():
            self.ctr("task", "rm", "-f", id, check=False)
        for id in ids:
            self.ctr("c", "rm", id, check=False)
        for path in fifos(*ids):
            path.unlink()
            if not any(path.parent.iterdir()):
                path.parent.rmdir()

    def close(self) -> None:
        """Sweep, stop, and remove the namespace's (empty) runc state root and cgroup parent (``ctr``'s ``/<namespace>``)."""
        try:
            self.sweep()
        finally:
            self.stop()
            try:
                os.rmdir(RUNC_STATE / self.namespace)
            except OSError:
                pass
            remove_cgroups("/" + self.namespace)

    # -- ctr -----------------------------------------------------------------------

    def ctr_argv(self, *args: str) -> list[str]:
        return [str(self.peer.ctr), "--address", self.address, "--namespace", self.namespace, *args]

    def ctr(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.ctr_argv(*args), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"ctr {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def ctr_popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.ctr_argv(*args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def run_args(
        self, id: str, *cmd: str, detach: bool = False, runtime: str | None = None, env: Sequence[str] = ()
    ) -> list[str]:
        env_args = [a for e in env for a in ("--env", e)]
        rt = runtime or self.runtime
        return ["run", "-d" if detach else "--rm", *env_args, "--runtime", rt, "--rootfs", str(self.rootfs), id, *cmd]

    def import_archive(self, ref: str, archive: bytes) -> str:
        """``ctr image import`` of ``archive`` unless ``ref`` is there already."""
        if ref not in self.ctr("image", "ls", "-q").stdout.split():
            path = self.tmp / f"image-{hashlib.sha256(ref.encode()).hexdigest()[:12]}.tar"
            path.write_bytes(archive)
            self.ctr("image", "import", str(path), timeout=120)
        return ref

    def tasks(self) -> dict[str, tuple[int, str]]:
        """``ctr task ls`` as {id: (pid, status)}."""
        rows = [line.split() for line in self.ctr("task", "ls").stdout.splitlines()[1:] if line.strip()]
        return {r[0]: (int(r[1]), r[2]) for r in rows}

    def containers(self) -> list[str]:
        return [line.split()[0] for line in self.ctr("c", "ls", "-q").stdout.splitlines() if line.strip()]

    # -- what it owns ----------------------------------------------------------------

    def bundle(self, id: str) -> Path:
        return self.state / TASK_DIR / self.namespace / id

    def bundles(self) -> list[str]:
        try:
            return sorted(os.listdir(self.state / TASK_DIR / self.namespace))
        except FileNotFoundError:
            return []

    def socket_path(self, id: str) -> str:
        """The socket a shim started for ``id`` listens on (the group's, for a group id)."""
        return socket_address(self.address, self.namespace, id).removeprefix("unix://")

    def debug_socket_path(self, id: str) -> str:
        """The debug socket a shim run with ``-debug`` may also listen on (``<address>/<ns>/<id>/debug`` hashed)."""
        return self.socket_path(f"{id}/debug")

    def runc_state(self, id: str) -> Path:
        return RUNC_STATE / self.namespace / id

    def shim_addresses(self, id: str) -> set[str]:
        """Socket paths named in ``id``'s bundle (``address``; 2.x: ``bootstrap.json``, JSON forms too)."""
        out: set[str] = set()
        for name in ("address", "bootstrap.json"):
            try:
                text = (self.bundle(id) / name).read_text().strip()
            except OSError:
                continue
            if text.startswith("{"):  # the JSON forms: {"address": "unix://...", ...}
                text = str(json.loads(text).get("address", ""))
            if text:
                out.add(text.removeprefix("unix://"))
        return out

    def shim_sockets(self) -> set[str]:
        """Socket paths named in the live bundles."""
        return {path for id in self.bundles() for path in self.shim_addresses(id)}

    def failed_with(self, proc: subprocess.CompletedProcess[str], kind: str, detail: str) -> bool:
        """``ctr`` failed naming ``detail``, and the errdefs ``kind`` (``not found``) where this ctr shows one.

        1.x's ctr ends a shim's error with its kind; 2.x's prints the message alone.
        """
        return proc.returncode != 0 and detail in proc.stderr and (self.peer.major >= 2 or kind in proc.stderr)

    def shims(self) -> list[ShimProcess]:
        """Serving shim processes started by this daemon (``-address`` is ours; not ``start``/``delete``)."""
        out: list[ShimProcess] = []
        for pid, argv in processes():
            if self.address not in argv or "-id" not in argv or argv[-1] in ("start", "delete"):
                continue
            i = argv.index("-id")
            if i + 1 < len(argv):
                out.append(ShimProcess(pid, argv[i + 1], argv))
        return out

    def shim_pids(self, id: str) -> list[int]:
        """Serving shims started with ``-id id`` by this daemon, still alive."""
        return [s.pid for s in self.shims() if s.id == id]

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_tail(self, offset: int = 0, limit: int = 60000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError as err:
            return f"(no containerd log: {err})"
        return data.decode(errors="replace")[-limit:]


@contextmanager
def running(daemon: Containerd) -> Iterator[Containerd]:
    """``daemon`` set up and started; afterwards closed (swept, stopped) and its directory removed."""
    try:
        daemon.setup()
        yield daemon
    finally:
        daemon.close()
        shutil.rmtree(daemon.tmp, ignore_errors=True)


def new_tmp(prefix: str) -> Path:
    """A fresh directory for a daemon (``running`` removes it)."""
    return Path(tempfile.mkdtemp(prefix=prefix))


class CtrEvents:
    """``ctr events`` of a daemon, line by line (read on a thread); use as a context manager."""

    def __init__(self, daemon: Containerd) -> None:
        self.daemon = daemon
        self.proc = daemon.ctr_popen("events")
        self.lines: queue.Queue[str] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None

        def pump() -> None:
            for line in stdout:
                self.lines.put(line)

        threading.Thread(target=pump, daemon=True).start()

    def __enter__(self) -> CtrEvents:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def subscribed(self) -> None:
        """Prove ``ctr events`` is subscribed: create namespaces until one's event shows up."""
        for attempt in range(40):
            probe = f"{self.daemon.namespace}-probe{attempt}"
            self.daemon.ctr("namespaces", "create", probe)
            self.daemon.ctr("namespaces", "remove", probe)
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                try:
                    if "/namespaces/create" in self.lines.get(timeout=0.05):
                        return
                except queue.Empty:
                    continue
        raise AssertionError("ctr events never showed a namespace event")

    def collect(self, id: str, until: str, count: int = 1, timeout: float = 20) -> list[str]:
        """Task event lines of container ``id`` up to the ``count``-th containing ``until``."""
        mine: list[str] = []
        deadline = time.monotonic() + timeout
        while sum(until in line for line in mine) < count and time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if "/tasks/" in line and f'"container_id":"{id}"' in line.replace(" ", ""):
                mine.append(line)
        return mine

    def wait_for(self, topic: str, id: str, timeout: float = 30) -> str:
        """The next ``topic`` event of container ``id``."""
        mine = self.collect(id, topic, timeout=timeout)
        if not mine or topic not in mine[-1]:
            raise AssertionError(f"no {topic} for {id} within {timeout}s (saw {mine})")
        return mine[-1]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


_DAEMON_LOG: Final = pytest.StashKey[tuple[Containerd, int]]()


def watch_log(daemon: Containerd, node: pytest.Item) -> None:
    """Attach ``daemon``'s log from now on (containerd's and every shim's lines) to ``node``'s failure report."""
    node.stash[_DAEMON_LOG] = (daemon, daemon.log_size())


def attach_log(item: pytest.Item, report: pytest.TestReport) -> None:
    """What ``watch_log`` asked for (the root conftest calls it for every failed report)."""
    if _DAEMON_LOG in item.stash:
        daemon, offset = item.stash[_DAEMON_LOG]
        report.sections.append(("containerd + shim log (since the test began)", daemon.log_tail(offset)))


def assert_nothing_left(daemon: Containerd, ids: Sequence[str], *, timeout: float = 10, fifo_check: bool = True) -> None:
    """Nothing of containers ``ids`` is left (``leftovers``); shims may exit a moment after ctr returns."""
    last: list[str] = []

    def clean() -> bool:
        last[:] = leftovers(daemon, ids, fifo_check=fifo_check)
        return not last

    try:
        wait_until(clean, timeout, "nothing to be left")
    except AssertionError:
        raise AssertionError(f"left behind after {timeout}s: {last}") from None


def leftovers(daemon: Containerd, ids: Sequence[str], *, fifo_check: bool = True) -> list[str]:
    """What is left of containers ``ids`` (ctr-made, in ``daemon``'s namespace), as readable lines.

    Tasks, containers, bundles, shim processes and sockets (at their
    addresses and anywhere under the daemon's state), runc state, ctr's FIFOs
    (``fifo_check=False`` for detached tasks no ctr removed), mounts under the
    daemon's directory, and cgroups under ctr's default parent
    ``/<namespace>`` in every v1 hierarchy.
    """
    out: list[str] = []
    tasks, containers = daemon.tasks(), set(daemon.containers())
    mine = set(ids)
    out += [f"task {id} {tasks[id]}" for id in ids if id in tasks]
    out += [f"container {id}" for id in ids if id in containers]
    out += [f"bundle {id}" for id in daemon.bundles() if id in mine]
    out += [f"shim pid {s.pid} for {s.id}" for s in daemon.shims() if s.id in mine]
    out += [f"shim socket {p}" for p in map(daemon.socket_path, ids) if os.path.exists(p)]
    out += [f"shim debug socket {p}" for p in map(daemon.debug_socket_path, ids) if os.path.exists(p)]
    out += [f"socket {p}" for p in daemon.state.rglob("*") if p.is_socket()]
    out += [f"runc state {id}" for id in ids if daemon.runc_state(id).exists()]
    if fifo_check:
        out += [f"fifo {p}" for p in fifos(*ids)]
    out += [f"mount {m}" for m in mounts_under(daemon.tmp)]
    out += [f"cgroup {d}" for d in cgroup_dirs("/" + daemon.namespace) if d.name in mine]
    return out


def fifos(*ids: str) -> list[Path]:
    """ctr's stdio FIFOs of ``ids``."""
    if not FIFO_DIR.is_dir() or not ids:
        return []
    prefixes = tuple(id + "-" for id in ids)
    return [p for d in FIFO_DIR.iterdir() if d.is_dir() for p in d.iterdir() if p.name.startswith(prefixes)]


def hierarchies() -> Iterator[Path]:
    """Mounted cgroup v1 hierarchies (one directory per mount; symlinks like cpu,cpuacct skipped)."""
    seen: set[str] = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] != "cgroup":
                continue
            if fields[4] not in seen:
                seen.add(fields[4])
                yield Path(fields[4])


def cgroup_dirs(parent: str) -> list[Path]:
    """Every cgroup directory below ``parent`` (e.g. ``/<namespace>``), in every v1 hierarchy."""
    out: list[Path] = []
    for hierarchy in hierarchies():
        top = hierarchy / parent.lstrip("/")
        if top.is_dir():
            out.extend(p for p in top.rglob("*") if p.is_dir())
    return out


def remove_cgroups(parent: str) -> None:
    """rmdir an (empty) cgroup tree, deepest first; a busy one is left for a leak check to name."""
    for hierarchy in hierarchies():
        top = hierarchy / parent.lstrip("/")
        if not top.is_dir():
            continue
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            try:
                d.rmdir()
            except OSError:
                pass
        try:
            top.rmdir()
        except OSError:
            pass


def processes() -> Iterator[tuple[int, tuple[str, ...]]]:
    """(pid, argv) of every process whose command line is readable."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        if raw:
            yield int(entry), tuple(a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0"))


def mounts_under(prefix: Path) -> list[str]:
    """Mount points below ``prefix`` in this mount namespace."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p.startswith(str(prefix) + "/")]


def docker_archive(rootfs: Path, tag: str) -> bytes:
    """A one-layer ``docker save`` archive of ``rootfs``, for ``ctr image import``.

    Running an image (instead of ``--rootfs``) makes containerd pass the
    snapshot's mounts in Create, so the shim has to mount the rootfs itself.
    """
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for path in sorted(rootfs.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(rootfs)), recursive=False)
    data = layer.getvalue()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(data).hexdigest()]},
            "config": {"Cmd": ["/bin/sh"]},
        }
    ).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}]).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, blob in (("layer.tar", data), ("config.json", config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return out.getvalue()
