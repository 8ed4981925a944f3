"""Parsers for cgroup control files: text in, numbers out, no I/O.

Every error is a ``CgroupFormatError`` naming the file and the line, so a
kernel that writes something unexpected is reported, not crashed on.
"""

from __future__ import annotations

__all__ = [
    "MAX_UINT64",
    "CgroupFormatError",
    "read_control_file",
    "parse_blkio",
    "parse_flat_keyed",
    "parse_nested_keyed",
    "parse_uint",
    "parse_uint_list",
]

MAX_UINT64 = (1 << 64) - 1


class CgroupFormatError(ValueError):
    """A cgroup control file does not have the format its name promises."""

    def __init__(self, name: str, line: int, detail: str) -> None:
        super().__init__(f"{name}: line {line}: {detail}")
        self.name = name
        self.line = line


def read_control_file(path: str) -> str | None:
    """A control file's text, or None if it does not exist (the one I/O helper here).

    Plain ``os`` calls: a Stats call reads a few dozen of these, and the
    buffered text layer of ``open`` costs more than the read itself.
    """
    import os

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        chunks: list[bytes] = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def _uint(name: str, line: int, word: str) -> int:
    if word == "max":
        return MAX_UINT64
    if not word.isascii() or not word.isdigit():
        raise CgroupFormatError(name, line, f"expected an unsigned integer or 'max', got {word[:40]!r}")
    value = int(word)
    if value > MAX_UINT64:
        raise CgroupFormatError(name, line, f"{word[:40]} does not fit in 64 bits")
    return value


def parse_uint(name: str, text: str) -> int:
    """A single-value file (``memory.current``, ``pids.max``); ``max`` is 2**64-1."""
    words = text.split()
    if len(words) != 1:
        raise CgroupFormatError(name, 1, f"expected one value, got {len(words)} words")
    return _uint(name, 1, words[0])


def parse_uint_list(name: str, text: str) -> list[int]:
    """A space-separated list of values on one line (``cpuacct.usage_percpu``)."""
    return [_uint(name, 1, w) for w in text.split()]


def parse_flat_keyed(name: str, text: str) -> dict[str, int]:
    """``key value`` lines (``memory.stat``, ``cpu.stat``, ``memory.events``)."""
    out: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        if len(words) != 2:
            raise CgroupFormatError(name, number, f"expected 'key value', got {line[:80]!r}")
        out[words[0]] = _uint(name, number, words[1])
    return out


def _device(name: str, line: int, word: str) -> tuple[int, int]:
    major, sep, minor = word.partition(":")
    if not sep:
        raise CgroupFormatError(name, line, f"expected 'major:minor', got {word[:40]!r}")
    return _uint(name, line, major), _uint(name, line, minor)


def parse_nested_keyed(name: str, text: str) -> list[tuple[int, int, dict[str, int]]]:
    """``major:minor key=value ...`` lines (``io.stat``)."""
    out: list[tuple[int, int, dict[str, int]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        major, minor = _device(name, number, words[0])
        fields: dict[str, int] = {}
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if not sep or not key:
                raise CgroupFormatError(name, number, f"expected 'key=value', got {word[:40]!r}")
            fields[key] = _uint(name, number, value)
        out.append((major, minor, fields))
    return out


def parse_blkio(name: str, text: str) -> list[tuple[int, int, str, int]]:
    """``major:minor Op value`` lines of the v1 blkio files; ``Total`` lines are skipped."""
    out: list[tuple[int, int, str, int]] = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or (words[0] == "Total" and len(words) == 2):
            continue
        if len(words) == 2:  # e.g. blkio.sectors_recursive: no op column
            major, minor = _device(name, number, words[0])
            out.append((major, minor, "", _uint(name, number, words[1])))
            continue
        if len(words) != 3:
            raise CgroupFormatError(name, number, f"expected 'major:minor op value', got {line[:80]!r}")
        major, minor = _device(name, number, words[0])
        out.append((major, minor, words[1], _uint(name, number, words[2])))
    return out
