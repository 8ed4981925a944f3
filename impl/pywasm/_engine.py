"""wasmtime, compiled modules and their on-disk cache.

A shim serves one container: without a cache every ``ctr run`` would
compile its module again. A module missing from the cache is validated in
the shim and compiled in the container's child (never stalling the shim's
event loop), which stores the artifact (``Module.serialize``, keyed by the
module's bytes and the engine's settings; wasmtime refuses another
version's). Deserializing is as trusting as running native code: only a
directory and files no one else could have written are used.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
from typing import NamedTuple

import wasmtime

from ._resolve import InvalidProcess, WasmProcess

__all__ = ["CACHE_ENV", "DEFAULT_CACHE_DIR", "Uncompiled", "WasmEngine"]

CACHE_ENV = "SHIMTYPES_PYWASM_CACHE"
"""Environment variable naming the cache directory; empty disables the cache."""
DEFAULT_CACHE_DIR = "/var/cache/shimtypes/pywasm"
_SETTINGS = b"pywasm/1 parallel_compilation=0"

log = logging.getLogger(__name__)


class Uncompiled(NamedTuple):
    """A validated module not in the cache: the child compiles it (off the shim's event loop)."""

    data: bytes
    save_to: str | None
    """Where the child stores the artifact (a checked cache directory), if anywhere."""


class WasmEngine:
    """One wasmtime engine and linker (with WASI) per shim; no compiler
    threads, which the forks that start containers would not survive."""

    def __init__(self, cache_dir: str | None = None) -> None:
        config = wasmtime.Config()
        config.parallel_compilation = False
        self.engine = wasmtime.Engine(config)
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        self.cache_dir = (os.environ.get(CACHE_ENV, DEFAULT_CACHE_DIR) if cache_dir is None else cache_dir) or None
        self._memo: dict[str, wasmtime.InstancePre] = {}

    def prepare(self, process: WasmProcess) -> wasmtime.InstancePre | Uncompiled:
        """The module linked, from memory or the cache; else validated, for ``compile`` in the child.

        Raises ``InvalidProcess`` naming the module when wasmtime rejects it
        or it imports something WASI preview 1 does not provide.
        """
        with open(process.module, "rb") as f:
            data = f.read()
        digest = hashlib.sha256(_SETTINGS + data).hexdigest()
        if digest in self._memo:
            return self._memo[digest]
        path = os.path.join(self.cache_dir, digest + ".cwasm") if self.cache_dir else None
        module = self._load(path) if path else None
        if module is not None:
            self._memo[digest] = self.link(process, module)
            return self._memo[digest]
        try:
            wasmtime.Module.validate(self.engine, data)
        except wasmtime.WasmtimeError as exc:
            raise InvalidProcess(f"module {process.args[0]}: invalid WebAssembly: {exc}") from None
        return Uncompiled(data, path if path and self._cache_dir_ready() else None)

    def compile(self, process: WasmProcess, module: Uncompiled) -> wasmtime.InstancePre:
        """In the child: compile, store the artifact (best effort, nothing logged), link."""
        try:
            compiled = wasmtime.Module(self.engine, module.data)
        except wasmtime.WasmtimeError as exc:
            raise InvalidProcess(f"module {process.args[0]}: invalid WebAssembly: {exc}") from None
        if module.save_to:
            tmp = f"{module.save_to}.{os.getpid()}.tmp"
            with contextlib.suppress(OSError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)  # left by a crashed process that had our pid
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                try:
                    os.write(fd, compiled.serialize())
                    os.fsync(fd)  # never rename a half-written artifact into place
                finally:
                    os.close(fd)
                os.rename(tmp, module.save_to)
        return self.link(process, compiled)

    def link(self, process: WasmProcess, module: wasmtime.Module) -> wasmtime.InstancePre:
        try:
            return self.linker.instantiate_pre(module)
        except wasmtime.WasmtimeError as exc:
            raise InvalidProcess(f"module {process.args[0]}: cannot link against WASI preview 1: {exc}") from None

    def _load(self, path: str) -> wasmtime.Module | None:
        if not (_trusted(os.path.dirname(path), True) and _trusted(path, False)):
            return None
        try:
            # Not deserialize_file: wasmtime would keep the file open to map
            # data segments from it, and module children close every fd.
            with open(path, "rb") as f:
                return wasmtime.Module.deserialize(self.engine, f.read())
        except wasmtime.WasmtimeError as exc:  # another wasmtime version, say
            log.info("pywasm cache: %s unusable (%s); compiling", path, exc)
            return None

    def _cache_dir_ready(self) -> bool:
        assert self.cache_dir is not None
        try:
            os.makedirs(self.cache_dir, mode=0o700, exist_ok=True)
        except OSError as exc:
            log.warning("pywasm cache: cannot create %s: %s", self.cache_dir, exc)
            return False
        return _trusted(self.cache_dir, True)


def _trusted(path: str, directory: bool) -> bool:
    """Whether ``path`` exists, is ours and only we can write it (0700 directory); a warning if not."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    kind, forbidden = (stat.S_ISDIR, 0o077) if directory else (stat.S_ISREG, 0o022)
    if kind(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & forbidden:
        return True
    log.warning("pywasm cache: ignoring %s (not ours, or mode %o allows others to write)", path, stat.S_IMODE(st.st_mode))
    return False
