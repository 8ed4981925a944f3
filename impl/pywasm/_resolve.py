"""From an OCI process spec to what WASI needs: module, argv, env, cwd, rootfs.

Paths are resolved inside the rootfs as if it were ``/`` (the SDK's
``join_in_root``), so a spec can never name a file outside its container.
Every rejection names the spec key or the path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from typing import NamedTuple, cast

from impl import errdefs
from impl.shim import join_in_root

__all__ = ["InvalidProcess", "ModuleMissing", "WasmProcess", "memory_limit", "resolve_process"]

WASM_MAGIC = b"\0asm"
_CORE_VERSION = b"\x01\x00\x00\x00"


class ModuleMissing(errdefs.NotFound):
    """The module, the cwd or the rootfs named by the spec does not exist."""


class InvalidProcess(errdefs.InvalidArgument):
    """The spec's process cannot run as a WASI preview 1 module."""


class WasmProcess(NamedTuple):
    """One module to run: host paths for the shim, guest values for WASI."""

    module: str
    """Host path of the module file."""
    args: list[str]
    """WASI argv, ``args[0]`` as the spec wrote it."""
    env: list[tuple[str, str]]
    cwd: str
    """Guest working directory (absolute)."""
    cwd_host: str
    rootfs: str
    """Host directory preopened as the guest's ``/``."""
    memory_limit: int | None = None
    """Bytes of linear memory the module may use (the container's memory limit)."""


def memory_limit(spec: Mapping[str, object]) -> int | None:
    """The spec's ``linux.resources.memory.limit``; none when absent or not positive (-1: unlimited)."""
    node: object = spec
    for key in ("linux", "resources", "memory", "limit"):
        node = _field(node, key)
    if node is not None and (not isinstance(node, int) or isinstance(node, bool)):
        raise InvalidProcess(f"linux.resources.memory.limit must be an integer, got {node!r}")
    return node if node is not None and node > 0 else None


def resolve_process(process: object, rootfs: str) -> WasmProcess:
    """Check ``process`` (the spec's ``process`` object) against ``rootfs``.

    Raises ``ModuleMissing`` for a missing rootfs, cwd or module, and
    ``InvalidProcess`` for malformed args/env/cwd or a file that is not a
    WebAssembly core module.
    """
    if not isinstance(process, Mapping):
        raise InvalidProcess(f"process must be an object, got {process!r}")
    process = cast("Mapping[str, object]", process)
    if not os.path.isdir(rootfs):
        raise ModuleMissing(f"rootfs {rootfs}: no such directory")
    args = _strings(process.get("args"), "process.args")
    if not args or not args[0]:
        raise InvalidProcess("process.args is empty: args[0] must name the WebAssembly module")
    env = [_env_pair(entry) for entry in _strings(process.get("env", []), "process.env")]
    cwd = process.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/") or "\0" in cwd:
        raise InvalidProcess(f"process.cwd must be an absolute path, got {cwd!r}")
    cwd_host = join_in_root(rootfs, cwd)
    if not os.path.isdir(cwd_host):
        raise ModuleMissing(f"process.cwd {cwd}: no such directory in rootfs {rootfs}")
    guest = args[0] if args[0].startswith("/") else os.path.join(cwd, args[0])
    module = join_in_root(rootfs, guest)
    _check_module(module, args[0], rootfs)
    return WasmProcess(module, args, env, cwd, cwd_host, rootfs)


def _field(node: object, key: str) -> object:
    return cast("Mapping[str, object]", node).get(key) if isinstance(node, Mapping) else None


def _strings(value: object, key: str) -> list[str]:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise InvalidProcess(f"{key} must be a list of strings, got {value!r}")
    out: list[str] = []
    items: Sequence[object] = cast("Sequence[object]", value)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidProcess(f"{key}[{i}] must be a string, got {item!r}")
        if "\0" in item:
            raise InvalidProcess(f"{key}[{i}] contains a NUL byte: {item!r}")
        out.append(item)
    return out


def _env_pair(entry: str) -> tuple[str, str]:
    key, sep, value = entry.partition("=")
    if not sep or not key:
        raise InvalidProcess(f"process.env entry {entry!r} is not KEY=VALUE")
    return key, value


def _check_module(host: str, name: str, rootfs: str) -> None:
    where = f"module {name} (in rootfs {rootfs})"
    try:
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ModuleMissing(f"{where}: no such file") from None
    except OSError as exc:
        raise InvalidProcess(f"{where}: cannot open: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidProcess(f"{where}: not a regular file")
        header = os.pread(fd, 8, 0)
    finally:
        os.close(fd)
    if header[:4] != WASM_MAGIC:
        raise InvalidProcess(f"{where}: not a WebAssembly module (no \\0asm header)")
    if header[4:] != _CORE_VERSION:
        raise InvalidProcess(
            f"{where}: not a WebAssembly core module (binary version {header[4:].hex()}; "
            "components are not supported, only WASI preview 1 modules)"
        )
