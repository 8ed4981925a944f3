"""``ghcr.io/containerd/busybox:1.32`` built offline, as a one-layer OCI image archive.

The layer is Debian's busybox-static with every applet linked in ``/bin`` and the
``/etc/passwd`` and ``/etc/group`` of the upstream busybox image (the tests expect
``www-data`` to be 33:33 and uid 3 to have gid 3). Deterministic: the same busybox
gives the same digests.

``/bin/nc`` is a wrapper: upstream's busybox nc exits 143 on SIGTERM (it catches the
signal), Debian's does not catch it, and as a container's PID 1 an uncaught SIGTERM is
ignored, so TestBindLowPortNonOpt would wait forever. The wrapper traps TERM and exits
143; nc itself still binds port 80 as uid 1000 (or fails to, without the capability).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform
import subprocess
import tarfile
from pathlib import Path

TEST_IMAGE = "ghcr.io/containerd/busybox:1.32"

_PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""

_NC = """\
#!/bin/sh
trap 'exit 143' TERM
/bin/busybox nc "$@" &
wait $!
"""

_GROUPS = (
    ("root", 0), ("daemon", 1), ("bin", 2), ("sys", 3), ("adm", 4), ("tty", 5), ("disk", 6),
    ("lp", 7), ("mail", 8), ("kmem", 9), ("wheel", 10), ("cdrom", 11), ("dialout", 18),
    ("floppy", 19), ("video", 28), ("audio", 29), ("tape", 32), ("www-data", 33),
    ("operator", 37), ("utmp", 43), ("plugdev", 46), ("staff", 50), ("lock", 54),
    ("netdev", 82), ("users", 100), ("nogroup", 65534),
)  # fmt: skip

_DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555, "root": 0o700,
         "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "usr/sbin": 0o755, "var": 0o755,
         "var/spool": 0o755, "var/spool/mail": 0o755, "var/www": 0o755}  # fmt: skip

_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
           "s390x": "s390x", "riscv64": "riscv64"}  # fmt: skip

BUSYBOX = "/bin/busybox"


def go_arch() -> str:
    machine = platform.machine()
    try:
        return _GOARCH[machine]
    except KeyError:
        raise RuntimeError(f"no OCI architecture known for machine {machine!r}") from None


def _layer(busybox: Path) -> bytes:
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(name: str, kind: bytes, mode: int, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.size, info.linkname = kind, mode, len(data), link
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data) if data else None)

        for d, mode in sorted(_DIRS.items()):
            add(d, tarfile.DIRTYPE, mode)
        add("bin/busybox", tarfile.REGTYPE, 0o755, busybox.read_bytes())
        for applet in sorted(set(applets) - {"busybox", "nc"}):
            add(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox")
        add("bin/nc", tarfile.REGTYPE, 0o755, _NC.encode())
        add("etc/passwd", tarfile.REGTYPE, 0o644, _PASSWD.encode())
        groups = "".join(f"{name}:x:{gid}:{'root' if name == 'wheel' else ''}\n" for name, gid in _GROUPS)
        add("etc/group", tarfile.REGTYPE, 0o644, groups.encode())
    return buf.getvalue()


def _blob(tar: tarfile.TarFile, media_type: str, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def write_test_image(path: Path, busybox: Path = Path(BUSYBOX)) -> None:
    """Write the OCI image archive (``oci-layout``, ``index.json``, blobs) to ``path``."""
    layer = _layer(busybox)
    compressed = gzip.compress(layer, mtime=0)
    arch = go_arch()
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        "history": [{"created_by": "shimtypes: Debian busybox-static, applets linked in /bin"}],
    }
    tmp = path.with_name(path.name + ".tmp")
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        layer_desc = _blob(tar, "application/vnd.oci.image.layer.v1.tar+gzip", compressed)
        config_desc = _blob(tar, "application/vnd.oci.image.config.v1+json", _json(config))
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": config_desc, "layers": [layer_desc]}  # fmt: skip
        manifest_desc = _blob(tar, "application/vnd.oci.image.manifest.v1+json", _json(manifest))
        manifest_desc["platform"] = {"architecture": arch, "os": "linux"}
        manifest_desc["annotations"] = {
            "io.containerd.image.name": TEST_IMAGE,
            "org.opencontainers.image.ref.name": TEST_IMAGE.rsplit(":", 1)[1],
        }
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [manifest_desc]}  # fmt: skip
        for name, data in (("oci-layout", _json({"imageLayoutVersion": "1.0.0"})), ("index.json", _json(index))):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(path)
