"""A private containerd with its CRI plugin, for one pinned version.

``_containerd.Containerd`` with the CRI plugin's tables: CNI dirs under the
daemon's directory, a cgroup parent named after it for every pod, and two
runtime handlers: ``runc`` (containerd's own Go shim of that version) and
``pyrunc`` (``containerd-shim-pyrunc-v1`` from this checkout's venv). Pods
use the host network, so no CNI plugin or config is needed. 1.x configures
CRI under ``io.containerd.grpc.v1.cri``; 2.x under
``io.containerd.cri.v1.runtime`` / ``io.containerd.cri.v1.images`` (the
streaming server stays under ``io.containerd.grpc.v1.cri``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from _containerd import GO_RUNTIME, PYRUNC_SHIM, RUNC_STATE, Containerd, cgroup_dirs, recorder, remove_cgroups
from _peers import Peer, busybox, runc

from ._image import oci_archive

NAMESPACE: Final = "k8s.io"
SANDBOX_IMAGE: Final = "shimtypes.test/cri/pause:busybox"
APP_IMAGE: Final = "shimtypes.test/cri/busybox:latest"
HANDLERS: Final = {"runc": "io.containerd.runc.v2", "pyrunc": "io.containerd.pyrunc.v1"}
"""CRI runtime handler name -> containerd runtime type."""
OPTIONS_HANDLERS: Final = ("runc-opts", "pyrunc-opts")
"""Handlers with runtime options in the config (``containerd.runc.v1.Options``, so both are of type
``io.containerd.runc.v2``; ``pyrunc-opts`` runs pyrunc by ``runtime_path``): ``BinaryName`` is a runc
that records its argv, ``NoNewKeyring = true``."""
RECORDING_RUNC: Final = "recording-runc"
RUNC_ROOT: Final = RUNC_STATE / NAMESPACE


def cri_tables(peer: Peer, tmp: Path, runtimes: Mapping[str, Mapping[str, object]]) -> list[str]:
    """The CRI plugin's config for ``peer``: ``runtimes`` maps handler -> its keys (``options`` a table)."""
    if peer.major >= 2:
        rt = "plugins.'io.containerd.cri.v1.runtime'"
        cri = [
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
    cri += [f"[{rt}.containerd]", "  default_runtime_name = 'runc'"]
    for handler, keys in runtimes.items():
        cri.append(f"[{rt}.containerd.runtimes.{handler}]")
        options: Mapping[str, object] = {}
        for key, value in keys.items():
            if key == "options":
                assert isinstance(value, Mapping)
                options = value
            else:
                cri.append(f"  {key} = {_toml(value)}")
        if options:
            cri.append(f"[{rt}.containerd.runtimes.{handler}.options]")
            cri += [f"  {key} = {_toml(value)}" for key, value in options.items()]
    return cri


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value) + "'"


class CRIDaemon(Containerd):
    """A running private containerd (one pinned version) with CRI, and ``ctr`` bound to its ``k8s.io``.

    ``runtimes``: more handlers (name -> their keys, e.g. ``runtime_type``,
    ``runtime_path``, ``options``) beside ``runc`` and ``pyrunc``.
    """

    def __init__(
        self,
        peer: Peer,
        tmp: Path,
        *,
        debug: bool = False,
        wrappers: Mapping[str, str] | None = None,
        runtimes: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        real = runc()
        assert real is not None, "runc is not installed"
        self.runc_argv = tmp / "runc.argv"
        """The command lines (one a line) of every runc the ``OPTIONS_HANDLERS`` ran."""
        wrappers = {RECORDING_RUNC: recorder(self.runc_argv, real), **(wrappers or {})}
        super().__init__(peer, tmp, namespace=NAMESPACE, debug=debug, wrappers=wrappers)
        self.endpoint = f"unix://{self.address}"
        self.log_dir = tmp / "pod-logs"
        self.cgroup_parent = f"/shimtypes-cri-{uuid.uuid4().hex[:8]}"
        """Every pod's cgroups live under it (cgroupfs driver), so leaks are ours to find."""
        self.runtimes: dict[str, Mapping[str, object]] = {h: {"runtime_type": t} for h, t in HANDLERS.items()}
        options = {"BinaryName": str(self.bin / RECORDING_RUNC), "NoNewKeyring": True}
        self.runtimes["runc-opts"] = {"runtime_type": GO_RUNTIME, "options": options}
        self.runtimes["pyrunc-opts"] = {"runtime_type": GO_RUNTIME, "runtime_path": str(self.bin / PYRUNC_SHIM), "options": options}
        self.runtimes.update(runtimes or {})

    def cri_config(self) -> Sequence[str]:
        return cri_tables(self.peer, self.tmp, self.runtimes)

    def setup(self) -> None:
        for d in (self.log_dir, self.tmp / "cni" / "bin", self.tmp / "cni" / "net.d"):
            d.mkdir(parents=True, exist_ok=True)
        super().setup()
        self.import_image()

    def import_image(self) -> None:
        bb = busybox()
        assert bb is not None, "busybox(-static) is not installed"
        self.import_archive(APP_IMAGE, oci_archive(Path(bb).read_bytes(), (SANDBOX_IMAGE, APP_IMAGE)))

    def cgroup_dirs(self) -> list[Path]:
        """Every cgroup directory below this daemon's cgroup parent, in every v1 hierarchy."""
        return cgroup_dirs(self.cgroup_parent)

    def remove_cgroup_parent(self) -> None:
        remove_cgroups(self.cgroup_parent)
