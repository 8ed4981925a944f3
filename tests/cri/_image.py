"""A one-layer OCI image of busybox-static, built offline, as an image-layout archive.

``ctr image import`` takes the archive; each name in ``names`` becomes one
entry of the layout's ``index.json`` (annotation ``io.containerd.image.name``)
pointing at the same manifest, so the sandbox ("pause") image and the app
image are one layer unpacked once. The image's command sleeps forever: that
is all a pause container has to do.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from typing import Final

APPLETS: Final = (
    "sh", "sleep", "echo", "cat", "head", "tail", "tr", "test", "[", "tty", "stty", "true", "false",
    "ls", "env", "kill", "dd", "id", "ps", "wc", "seq", "yes",
)  # fmt: skip
LAYER_MEDIA_TYPE: Final = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE: Final = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE: Final = "application/vnd.oci.image.manifest.v1+json"
COMMAND: Final = ("/bin/sleep", "inf")


def _add(tar: tarfile.TarFile, name: str, *, data: bytes | None = None, link: str | None = None, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.mode = mode
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
        tar.addfile(info)
    elif data is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def busybox_layer(busybox: bytes) -> bytes:
    """An uncompressed layer: /bin/busybox, its applets, and the directories runc mounts on."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "dev", "etc", "proc", "sys", "tmp", "root"):
            _add(tar, d, mode=0o1777 if d == "tmp" else 0o755)
        _add(tar, "bin/busybox", data=busybox)
        for applet in APPLETS:
            _add(tar, f"bin/{applet}", link="busybox", mode=0o777)
        _add(tar, "etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n", mode=0o644)
        _add(tar, "etc/group", data=b"root:x:0:\n", mode=0o644)
    return out.getvalue()


def _digest(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def oci_archive(busybox: bytes, names: Sequence[str]) -> bytes:
    """An OCI image-layout tar holding one image under every name in ``names``."""
    layer = busybox_layer(busybox)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": list(COMMAND), "Env": ["PATH=/bin"], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": _digest(layer), "size": len(layer)}],
        },
        sort_keys=True,
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": MANIFEST_MEDIA_TYPE,
                    "digest": _digest(manifest),
                    "size": len(manifest),
                    "annotations": {"io.containerd.image.name": name},
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
                for name in names
            ],
        },
        sort_keys=True,
    ).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}', mode=0o644)
        _add(tar, "index.json", data=index, mode=0o644)
        for d in ("blobs", "blobs/sha256"):
            _add(tar, d)
        for blob in (layer, config, manifest):
            _add(tar, "blobs/sha256/" + _digest(blob).removeprefix("sha256:"), data=blob, mode=0o644)
    return out.getvalue()
