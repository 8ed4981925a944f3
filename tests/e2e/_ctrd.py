"""A private containerd, and ``ctr`` bound to it: the e2e tests' only handle.

Temporary root, state and sockets (never the system ones), a busybox
rootfs, and ``containerd-shim-pyrunc-v1`` (the installed console script) on
the daemon's PATH. Also used by bench/shim.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

RUNTIME = "io.containerd.pyrunc.v1"
SHIM_BINARY = "containerd-shim-pyrunc-v1"
BUSYBOX_APPLETS = ("sh", "echo", "cat", "sleep", "true", "false", "env", "ls")


def missing_requirement() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("containerd", "ctr", "runc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if _busybox() is None:
        return "busybox(-static) is not installed"
    return None  # a missing console script is a packaging bug: setup() fails on it


def _busybox() -> str | None:
    for path in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(path):
            return path
    return shutil.which("busybox")


def _shim_script() -> str | None:
    beside = Path(sys.executable).parent / SHIM_BINARY
    if beside.exists():
        return str(beside)
    return shutil.which(SHIM_BINARY)


def wait_until(cond: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Bounded polling, for states ctr offers no event for."""
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Containerd:
    """A running private containerd and a ``ctr`` bound to it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "root"
        self.state = tmp / "state"
        self.address = str(tmp / "containerd.sock")
        self.rootfs = tmp / "rootfs"
        self.bin = tmp / "bin"
        self.log_path = tmp / "containerd.log"
        self.namespace = f"shimtypes-e2e-{uuid.uuid4().hex[:6]}"
        self.proc: subprocess.Popen[bytes] | None = None

    def setup(self) -> None:
        (self.rootfs / "bin").mkdir(parents=True)
        for d in ("proc", "sys", "dev", "tmp", "etc"):
            (self.rootfs / d).mkdir()
        busybox = _busybox()
        assert busybox is not None
        shutil.copy2(busybox, self.rootfs / "bin" / "busybox")
        for applet in BUSYBOX_APPLETS:
            (self.rootfs / "bin" / applet).symlink_to("busybox")
        self.bin.mkdir()
        shim = _shim_script()
        assert shim is not None, f"{SHIM_BINARY} console script is not installed (pip install -e .)"
        (self.bin / SHIM_BINARY).symlink_to(shim)
        config = self.tmp / "config.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{self.root}"\n'
            f'state = "{self.state}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            "[grpc]\n"
            f'  address = "{self.address}"\n'
            "[ttrpc]\n"
            f'  address = "{self.address}.ttrpc"\n'
            "[debug]\n"
            '  level = "debug"\n'
        )
        env = dict(os.environ, PATH=f"{self.bin}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["containerd", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        wait_until(self._ready, 20, "containerd to answer `ctr version`", interval=0.05)

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"containerd exited with {self.proc.returncode}:\n{self.log_tail()}")
        return self.ctr("version", check=False, timeout=5).returncode == 0

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None
        try:  # runc's per-namespace state root, empty once every container is gone
            os.rmdir(f"/run/containerd/runc/{self.namespace}")
        except OSError:
            pass

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
            raise AssertionError(
                f"ctr {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def ctr_popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["ctr", "--address", self.address, "--namespace", self.namespace, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_args(self, id: str, *cmd: str, detach: bool = False, runtime: str = RUNTIME) -> list[str]:
        return ["run", *(["-d"] if detach else ["--rm"]), "--runtime", runtime, "--rootfs", str(self.rootfs), id, *cmd]

    def image(self) -> str:
        """A busybox image, imported (and unpacked) once."""
        ref = "docker.io/shimtypes/busybox:e2e"
        if ref not in self.ctr("image", "ls", "-q").stdout.split():
            archive = self.tmp / "busybox-image.tar"
            archive.write_bytes(docker_archive(self.rootfs, ref))
            self.ctr("image", "import", str(archive))
        return ref

    def tasks(self) -> dict[str, tuple[int, str]]:
        """``ctr task ls`` as {id: (pid, status)}."""
        out = self.ctr("task", "ls").stdout.splitlines()[1:]
        rows = [line.split() for line in out if line.strip()]
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
                data = f.read()
        except OSError as err:
            return f"(no containerd log: {err})"
        text = data.decode(errors="replace")
        return text[-limit:]



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


def mounts_under(prefix: Path) -> list[str]:
    """Mount points below ``prefix`` in this mount namespace."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p.startswith(str(prefix) + "/")]


def unique_id(tag: str) -> str:
    return f"e2e-{tag}-{uuid.uuid4().hex[:8]}"
