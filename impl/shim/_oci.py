"""The parts of an OCI bundle every runtime reads: the process to run and the root directory.

``config.json`` is the runtime spec containerd wrote into the bundle; an
exec's spec is a JSON OCI ``process`` object. Errors are ``impl.errdefs``
kinds naming the file (or exec) and the field, so ``Create`` and ``Exec``
fail with a status that says what is wrong and where.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from impl import errdefs

__all__ = ["OCIProcess", "bundle_root", "load_bundle_spec", "parse_process"]

CONFIG_FILE = "config.json"


class OCIProcess(NamedTuple):
    """An OCI ``process``: what to run, with which environment, where."""

    args: tuple[str, ...]
    env: tuple[str, ...]
    """``NAME=value`` entries, in order."""
    cwd: str
    terminal: bool

    def environ(self) -> dict[str, str]:
        """``env`` as a mapping (a later entry for a name wins; entries without ``=`` are skipped)."""
        out: dict[str, str] = {}
        for item in self.env:
            name, sep, value = item.partition("=")
            if sep:
                out[name] = value
        return out


def load_bundle_spec(bundle: str) -> dict[str, object]:
    """``<bundle>/config.json`` as a JSON object; ``NotFound`` or ``InvalidArgument`` naming the file."""
    import json  # not at import time: a serving shim may never need it

    path = os.path.join(bundle, CONFIG_FILE)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise errdefs.NotFound(f"{path}: no OCI runtime spec") from None
    except OSError as err:
        raise errdefs.FailedPrecondition(f"{path}: {err.strerror or err}") from None
    try:
        spec = json.loads(data)
    except ValueError as err:
        raise errdefs.InvalidArgument(f"{path}: not JSON: {err}") from None
    if not isinstance(spec, dict):
        raise errdefs.InvalidArgument(f"{path}: not a JSON object")
    return spec


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise errdefs.InvalidArgument(f"{where}: want a list of strings, got {value!r:.80}")
    return tuple(value)


def parse_process(process: object, where: str) -> OCIProcess:
    """An OCI ``process`` object (from ``config.json`` or an exec's spec, as bytes or parsed).

    ``where`` names it in errors (``/path/config.json: process.args``).
    ``args`` must be non-empty; ``cwd`` defaults to ``/``.
    """
    if isinstance(process, (bytes, str)):
        import json

        try:
            process = json.loads(process)
        except ValueError as err:
            raise errdefs.InvalidArgument(f"{where}: not JSON: {err}") from None
    if not isinstance(process, Mapping):
        raise errdefs.InvalidArgument(f"{where}: process is not a JSON object")
    args = _strings(process.get("args"), f"{where}: process.args")
    if not args:
        raise errdefs.InvalidArgument(f"{where}: process.args is empty")
    cwd = process.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise errdefs.InvalidArgument(f"{where}: process.cwd {cwd!r} is not an absolute path")
    terminal = process.get("terminal", False)
    if not isinstance(terminal, bool):
        raise errdefs.InvalidArgument(f"{where}: process.terminal {terminal!r} is not a boolean")
    return OCIProcess(args, _strings(process.get("env"), f"{where}: process.env"), cwd, terminal)


def bundle_root(bundle: str, spec: Mapping[str, object]) -> str:
    """The container's root directory: the spec's ``root.path``, relative to the bundle (default ``rootfs``)."""
    root = spec.get("root")
    path: object = "rootfs"
    if isinstance(root, Mapping) and "path" in root:
        path = root["path"]
    if not isinstance(path, str) or not path:
        raise errdefs.InvalidArgument(f"{os.path.join(bundle, CONFIG_FILE)}: root.path {path!r} is not a path")
    return os.path.normpath(os.path.join(bundle, path))
