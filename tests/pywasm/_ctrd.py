"""A private containerd (``_containerd``) set up for pywasm: its shim, its modules, its cache.

The daemon's ``bin`` holds ``containerd-shim-pywasm-v1``, its rootfs the test
modules (compiled from ``_modules``), and its environment (so every shim's)
points the compiled-module cache at the daemon's temporary directory.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import _containerd
from _containerd import Containerd, console_script
from _peers import Peer

from . import _modules as m

RUNTIME = "io.containerd.pywasm.v1"
SHIM_BINARY = "containerd-shim-pywasm-v1"


def shim_script() -> Path:
    return console_script(SHIM_BINARY, " with the wasm extra")


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


def wasm_containerd(peer: Peer, tmp: Path) -> Containerd:
    """A pywasm daemon of ``peer``'s version under ``tmp`` (not started: ``setup()``; ``close()`` after)."""
    daemon = Containerd(
        peer,
        tmp,
        namespace=f"shimtypes-pywasm-{uuid.uuid4().hex[:6]}",
        shims={SHIM_BINARY: shim_script()},
        env={"SHIMTYPES_PYWASM_CACHE": str(tmp / "cache")},
        runtime=RUNTIME,
    )
    install_modules(daemon.rootfs)
    return daemon


def unique_id(tag: str) -> str:
    return _containerd.unique_id(tag, "wasm")
