"""wasmtime, compiled modules and their on-disk cache (serving process only).

A shim serves one container, so without a cache every ``ctr run`` would
compile its module again. Compiled artifacts (``Module.serialize``) are kept
in a directory only this user can write: deserializing is as trusting as
running native code, so a cache directory or file that others could have
written is ignored, never used. The key covers the module's bytes, the
wasmtime library and this engine's settings; wasmtime also refuses an
artifact from another version or configuration, which then costs a compile.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat

import wasmtime

from ._resolve import InvalidProcess, WasmProcess

__all__ = ["CACHE_ENV", "DEFAULT_CACHE_DIR", "WasmEngine"]

CACHE_ENV = "SHIMTYPES_PYWASM_CACHE"
"""Environment variable naming the cache directory; empty disables the cache."""
DEFAULT_CACHE_DIR = "/var/cache/shimtypes/pywasm"
_SETTINGS = b"pywasm/1 parallel_compilation=0"

log = logging.getLogger(__name__)


class WasmEngine:
    """One wasmtime engine and linker (with WASI) for the shim's lifetime.

    Parallel compilation is off: its worker threads would not survive the
    fork that starts each container, and modules are compiled once anyway.
    """

    def __init__(self, cache_dir: str | None = None) -> None:
        config = wasmtime.Config()
        config.parallel_compilation = False
        self.engine = wasmtime.Engine(config)
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        if cache_dir is None:
            cache_dir = os.environ.get(CACHE_ENV, DEFAULT_CACHE_DIR)
        self.cache_dir = cache_dir or None
        self._memo: dict[str, wasmtime.InstancePre] = {}
        self._lib = _library_identity()

    def prepare(self, process: WasmProcess) -> wasmtime.InstancePre:
        """The process's module compiled (or loaded from the cache) and linked.

        Raises ``InvalidProcess`` naming the module when wasmtime rejects it
        or it imports something WASI preview 1 does not provide.
        """
        with open(process.module, "rb") as f:
            data = f.read()
        digest = hashlib.sha256(_SETTINGS + self._lib + data).hexdigest()
        pre = self._memo.get(digest)
        if pre is not None:
            return pre
        module = self._cached(digest)
        if module is None:
            try:
                module = wasmtime.Module(self.engine, data)
            except wasmtime.WasmtimeError as exc:
                raise InvalidProcess(f"module {process.args[0]}: invalid WebAssembly: {exc}") from None
            self._store(digest, module)
        try:
            pre = self.linker.instantiate_pre(module)
        except wasmtime.WasmtimeError as exc:
            raise InvalidProcess(f"module {process.args[0]}: cannot link against WASI preview 1: {exc}") from None
        self._memo[digest] = pre
        return pre

    def _cached(self, digest: str) -> wasmtime.Module | None:
        path = self._usable_dir()
        if path is None:
            return None
        path = os.path.join(path, digest + ".cwasm")
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            log.warning("pywasm cache: ignoring %s (not a regular file owned by us and not writable by others)", path)
            return None
        try:
            # Not deserialize_file: wasmtime would keep the file open to map
            # data segments from it, and module children close every fd.
            with open(path, "rb") as f:
                return wasmtime.Module.deserialize(self.engine, f.read())
        except wasmtime.WasmtimeError as exc:
            log.info("pywasm cache: %s unusable (%s); compiling", path, exc)
            return None

    def _store(self, digest: str, module: wasmtime.Module) -> None:
        directory = self._usable_dir(create=True)
        if directory is None:
            return
        final = os.path.join(directory, digest + ".cwasm")
        tmp = f"{final}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, module.serialize())
                os.fsync(fd)  # never rename a half-written artifact into place
            finally:
                os.close(fd)
            os.rename(tmp, final)
        except OSError as exc:
            log.warning("pywasm cache: cannot write %s: %s", final, exc)
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def _usable_dir(self, create: bool = False) -> str | None:
        directory = self.cache_dir
        if directory is None:
            return None
        if create:
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            except OSError as exc:
                log.warning("pywasm cache: cannot create %s: %s", directory, exc)
                return None
        try:
            st = os.lstat(directory)
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            log.warning("pywasm cache: ignoring %s (must be a directory owned by us, mode 0700)", directory)
            return None
        return directory


def _library_identity() -> bytes:
    """Changes whenever the wasmtime library file is replaced (an upgrade)."""
    lib_dir = os.path.join(os.path.dirname(wasmtime.__file__))
    h = hashlib.sha256()
    for root, _dirs, files in os.walk(lib_dir):
        for name in sorted(files):
            if name.endswith((".so", ".dylib", ".dll")):
                st = os.stat(os.path.join(root, name))
                h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino};".encode())
    return h.digest()
