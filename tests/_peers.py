"""Pinned containerd peers (1.6, 1.7, 2.1) and the CRI API definition, from Debian's archive.

Every version comes from a pinned ``.deb`` fetched by ``scripts/fetch-debs``
(a private apt state; unpacked with ``dpkg-deb -x`` into its cache, never
installed), so a Debian 12 and a Debian 13 machine test the very same
binaries. 1.6.20 is bookworm's build, not whatever the system has installed.
runc is the system's (Debian 12's 1.1.5): every version drives the same one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parents[1]
FETCH_DEBS: Final = REPO / "scripts" / "fetch-debs"


@dataclass(frozen=True)
class Pin:
    """One Debian package at one version, in one suite."""

    suite: str
    package: str
    version: str


CONTAINERD_PINS: Final[dict[str, Pin]] = {
    "1.6": Pin("bookworm", "containerd", "1.6.20~ds1-1+deb12u3"),
    "1.7": Pin("trixie", "containerd", "1.7.24~ds1-6+deb13u1"),
    "2.1": Pin("sid", "containerd", "2.1.9+ds1-5"),
}
"""containerd versions the CRI and ctr suites run against, by ``major.minor``."""

VERSIONS: Final = tuple(CONTAINERD_PINS)

CRI_API_PIN: Final = Pin("trixie", "golang-github-kubernetes-cri-api-dev", "0.32.3-1")
CRI_API_PROTO: Final = "usr/share/gocode/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto"


class PeerUnavailable(Exception):
    """A pinned package could not be fetched (no mirror, pin gone): the message says which."""


@dataclass(frozen=True)
class Peer:
    """One containerd version's binaries (``bin`` also holds its Go runc v2 shim)."""

    version: str
    """``major.minor``, a key of ``CONTAINERD_PINS``."""
    pin: Pin
    bin: Path

    @property
    def containerd(self) -> Path:
        return self.bin / "containerd"

    @property
    def ctr(self) -> Path:
        return self.bin / "ctr"

    @property
    def runc_shim(self) -> Path:
        return self.bin / "containerd-shim-runc-v2"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def fetch(pin: Pin) -> Path:
    """The unpacked root of a pinned package (fetched once into the cache)."""
    proc = subprocess.run(
        [str(FETCH_DEBS), pin.suite, f"{pin.package}={pin.version}"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise PeerUnavailable(
            f"scripts/fetch-debs {pin.suite} {pin.package}={pin.version} exited {proc.returncode}: "
            f"{proc.stderr.strip()[-2000:]}"
        )
    return Path(proc.stdout.strip().splitlines()[-1]) / "root"


@cache
def containerd_peer(version: str) -> Peer:
    """containerd ``version`` (``"1.6"``, ``"1.7"`` or ``"2.1"``), fetched if need be."""
    try:
        pin = CONTAINERD_PINS[version]
    except KeyError:
        raise ValueError(f"no pinned containerd {version!r}; pinned: {', '.join(VERSIONS)}") from None
    peer = Peer(version, pin, fetch(pin) / "usr" / "bin")
    for binary in (peer.containerd, peer.ctr, peer.runc_shim):
        if not os.access(binary, os.X_OK):
            raise PeerUnavailable(f"{pin.package}={pin.version} ({pin.suite}) has no executable {binary}")
    return peer


@cache
def cri_api_proto() -> Path:
    """``runtime/v1/api.proto`` of k8s.io/cri-api, as Debian trixie ships it."""
    path = fetch(CRI_API_PIN) / CRI_API_PROTO
    if not path.is_file():
        raise PeerUnavailable(f"{CRI_API_PIN.package}={CRI_API_PIN.version} has no {CRI_API_PROTO}")
    return path


def runc() -> str | None:
    """The system's runc (every containerd version drives this one)."""
    return shutil.which("runc")


def busybox() -> str | None:
    for path in ("/bin/busybox", "/usr/bin/busybox"):
        if os.access(path, os.X_OK):
            return path
    return shutil.which("busybox")
