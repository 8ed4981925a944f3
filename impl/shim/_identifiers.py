"""One validator for every id the task API receives, as containerd's identifiers package.

Container and exec ids end up in file names (``exec-<id>.json``), runc
arguments and cgroup paths: anything but containerd's own identifier
grammar (letters and digits, joined by single ``.``, ``_`` or ``-``, at
most 76 characters) is refused with INVALID_ARGUMENT before it reaches the
runtime. Request paths (bundle, stdio) must be absolute, clean and free of
NUL and newlines, as containerd writes them.
"""

from __future__ import annotations

import os
import re

from impl import errdefs

__all__ = ["MAX_IDENTIFIER_LENGTH", "validate_id", "validate_path", "validate_stdio"]

MAX_IDENTIFIER_LENGTH = 76
_IDENTIFIER = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")


def validate_id(value: str, what: str) -> str:
    """``value`` if it is a containerd identifier, else ``errdefs.InvalidArgument`` naming ``what``."""
    if not value:
        raise errdefs.InvalidArgument(f"{what}: identifier must not be empty")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise errdefs.InvalidArgument(
            f"{what}: identifier {value[:MAX_IDENTIFIER_LENGTH]!r}... is longer than {MAX_IDENTIFIER_LENGTH} characters"
        )
    if _IDENTIFIER.fullmatch(value) is None:
        raise errdefs.InvalidArgument(
            f"{what}: identifier {value!r} must match {_IDENTIFIER.pattern!r} (letters and digits joined by . _ -)"
        )
    return value


def validate_path(value: str, what: str) -> str:
    """``value`` if it is an absolute, clean path without NUL or newline; else ``InvalidArgument``."""
    if "\0" in value or "\n" in value:
        raise errdefs.InvalidArgument(f"{what}: path {value!r} contains a NUL or newline")
    if not os.path.isabs(value) or os.path.normpath(value) != value.rstrip("/") or "/../" in value + "/":
        raise errdefs.InvalidArgument(f"{what}: path {value!r} is not absolute and clean")
    return value


def validate_stdio(value: str, what: str) -> str:
    """A stdio field: empty (``/dev/null``), an absolute FIFO path or ``file://`` an absolute path."""
    if not value:
        return value
    path = value.removeprefix("file://") if value.startswith("file://") else value
    if "://" in path:
        raise errdefs.InvalidArgument(f"{what}: unsupported stdio URI {value!r} (only FIFO paths and file://)")
    validate_path(path, what)
    return value
