"""A private containerd with its CRI plugin, for one pinned version.

Everything it owns is under one temporary directory (root, state, sockets,
CNI dirs, the opt plugin's dir) or named after it (the cgroup parent of its
pods); NRI is off (its socket is machine-wide). Two runtime handlers:
``runc`` (containerd's own Go shim of that version) and ``pyrunc``
(``containerd-shim-pyrunc-v1`` from this checkout's venv, on the daemon's
PATH). Pods use the host network, so no CNI plugin or config is needed.

The config is version-aware: 1.x reads a version 2 config with the CRI
plugin ``io.containerd.grpc.v1.cri``; 2.x reads version 3 with
``io.containerd.cri.v1.runtime`` / ``io.containerd.cri.v1.images`` (the
streaming server stays under ``io.containerd.grpc.v1.cri``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ._image import oci_archive
from ._peers import Peer, busybox

NAMESPACE: Final = "k8s.io"
SANDBOX_IMAGE: Final = "shimtypes.test/cri/pause:busybox"
APP_IMAGE: Final = "shimtypes.test/cri/busybox:latest"
PYRUNC_SHIM: Final = "containerd-shim-pyrunc-v1"
HANDLERS: Final = {"runc": "io.containerd.runc.v2", "pyrunc": "io.containerd.pyrunc.v1"}
"""CRI runtime handler name -> containerd runtime type."""
RUNC_ROOT: Final = Path("/run/containerd/runc") / NAMESPACE
CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
TASK_DIR: Final = "io.containerd.runtime.v2.task"


def wait_until(cond: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Bounded polling, for states nothing signals."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pyrunc_shim() -> Path:
    """The console script installed beside this interpreter (the checkout's venv)."""
    path = Path(sys.executable).parent / PYRUNC_SHIM
    if not path.exists():
        raise AssertionError(f"{path} is missing: install this checkout (scripts/setup-venv)")
    return path


def config_toml(peer: Peer, tmp: Path, address: str, *, debug: bool) -> str:
    """containerd's config for ``peer`` with everything under ``tmp``."""
    head = [
        f"version = {3 if peer.major >= 2 else 2}",
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
    runtimes: list[str] = []
    if peer.major >= 2:
        rt = "plugins.'io.containerd.cri.v1.runtime'"
        cri = [
            "[plugins.'io.containerd.image-verifier.v1.bindir']",
            f"  bin_dir = '{tmp}/opt/image-verifier/bin'",
            "[plugins.'io.containerd.grpc.v1.cri']",
            "  stream_server_address = '127.0.0.1'",
            "  stream_server_port = '0'",
            "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
            f"  sandbox = '{SANDBOX_IMAGE}'",
            f"[{rt}]",
            "  restrict_oom_score_adj = true",
            "  enable_cdi = false",
            f"[{rt}.cni]",
            f"  bin_dirs = ['{tmp}/cni/bin']",
            f"  conf_dir = '{tmp}/cni/net.d'",
        ]
    else:
        rt = "plugins.'io.containerd.grpc.v1.cri'"
        cri = [
            f"[{rt}]",
            f"  sandbox_image = '{SANDBOX_IMAGE}'",
            "  restrict_oom_score_adj = true",
            "  stream_server_address = '127.0.0.1'",
            "  stream_server_port = '0'",
            f"[{rt}.cni]",
            f"  bin_dir = '{tmp}/cni/bin'",
            f"  conf_dir = '{tmp}/cni/net.d'",
        ]
    runtimes.append(f"[{rt}.containerd]")
    runtimes.append("  default_runtime_name = 'runc'")
    for handler, runtime_type in HANDLERS.items():
        runtimes.append(f"[{rt}.containerd.runtimes.{handler}]")
        runtimes.append(f"  runtime_type = '{runtime_type}'")
    return "\n".join([*head, *cri, *runtimes]) + "\n"


@dataclass(frozen=True)
class ShimProcess:
    pid: int
    id: str
    """The ``-id`` it was started with (a sandbox id serves the whole pod, for the Go shim)."""
    argv: tuple[str, ...]


class CRIDaemon:
    """A running private containerd (one pinned version) with CRI, and ``ctr`` bound to it."""

    def __init__(self, peer: Peer, tmp: Path, *, debug: bool = False, wrappers: Mapping[str, str] | None = None) -> None:
        self.peer = peer
        self.tmp = tmp
        self.address = str(tmp / "containerd.sock")
        self.endpoint = f"unix://{self.address}"
        self.state = tmp / "state"
        self.root = tmp / "root"
        self.log_path = tmp / "containerd.log"
        self.log_dir = tmp / "pod-logs"
        self.bin = tmp / "bin"
        self.config = tmp / "config.toml"
        self.cgroup_parent = f"/shimtypes-cri-{uuid.uuid4().hex[:8]}"
        """Every pod's cgroups live under it (cgroupfs driver), so leaks are ours to find."""
        self.debug = debug
        self.wrappers = dict(wrappers or {})
        """Executables (name -> script) put first on the daemon's PATH, e.g. a fault-injecting ``runc``."""
        self.proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------

    def setup(self) -> None:
        for d in (self.bin, self.log_dir, self.tmp / "cni" / "bin", self.tmp / "cni" / "net.d", self.tmp / "opt"):
            d.mkdir(parents=True, exist_ok=True)
        (self.bin / PYRUNC_SHIM).symlink_to(pyrunc_shim())
        for name, script in self.wrappers.items():
            (self.bin / name).write_text(script)
            (self.bin / name).chmod(0o755)
        self.config.write_text(config_toml(self.peer, self.tmp, self.address, debug=self.debug))
        self.start()
        self.import_image()

    def start(self) -> None:
        path = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        env = dict(os.environ, PATH=f"{self.bin}:{self.peer.bin}:{path}")
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
        return self.ctr("version", check=False, timeout=5).returncode == 0

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

    def import_image(self) -> None:
        bb = busybox()
        assert bb is not None, "busybox(-static) is not installed"
        archive = self.tmp / "busybox-oci.tar"
        archive.write_bytes(oci_archive(Path(bb).read_bytes(), (SANDBOX_IMAGE, APP_IMAGE)))
        self.ctr("image", "import", str(archive), timeout=120)

    # -- ctr -----------------------------------------------------------------------

    def ctr(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.peer.ctr), "--address", self.address, "--namespace", NAMESPACE, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"ctr {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    # -- what it owns ----------------------------------------------------------------

    def bundle(self, id: str) -> Path:
        return self.state / TASK_DIR / NAMESPACE / id

    def bundles(self) -> list[str]:
        try:
            return sorted(os.listdir(self.state / TASK_DIR / NAMESPACE))
        except FileNotFoundError:
            return []

    def shim_sockets(self) -> set[str]:
        """Socket paths named in the live bundles (``address``; 2.x: ``bootstrap.json``)."""
        out: set[str] = set()
        for id in self.bundles():
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

    def shims(self) -> list[ShimProcess]:
        """Serving shim processes started by this daemon (``-address`` is ours; not ``start``/``delete``)."""
        out: list[ShimProcess] = []
        for pid, argv in _processes():
            if self.address not in argv or "-id" not in argv:
                continue
            if argv[-1] in ("start", "delete"):
                continue
            i = argv.index("-id")
            if i + 1 < len(argv):
                out.append(ShimProcess(pid, argv[i + 1], argv))
        return out

    def cgroup_dirs(self) -> list[Path]:
        """Every cgroup directory below this daemon's cgroup parent, in every v1 hierarchy."""
        out: list[Path] = []
        for hierarchy in _hierarchies():
            top = hierarchy / self.cgroup_parent.lstrip("/")
            if top.is_dir():
                out.extend(p for p in top.rglob("*") if p.is_dir())
        return out

    def remove_cgroup_parent(self) -> None:
        """rmdir our (empty) cgroup tree, deepest first; a busy one is left for the leak check to name."""
        for hierarchy in _hierarchies():
            top = hierarchy / self.cgroup_parent.lstrip("/")
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


def _hierarchies() -> Iterator[Path]:
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


def _processes() -> Iterator[tuple[int, tuple[str, ...]]]:
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
