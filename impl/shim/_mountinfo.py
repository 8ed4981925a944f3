"""Is something mounted at a path? (/proc/self/mountinfo; no ctypes, no typing).

Split from ``_mount`` so the ``delete`` action can ask cheaply and import
the mount(2) machinery only when there is something to unmount.
"""

from __future__ import annotations

import os

__all__ = ["is_mounted"]


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal ``\\ooo``."""
    if "\\" not in field:
        return field
    out: list[str] = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def is_mounted(target: str) -> bool:
    """Whether something is mounted at ``target`` (per /proc/self/mountinfo)."""
    path = os.path.realpath(target)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(_unescape(line.split(" ", 5)[4]) == path for line in f)
    except OSError:
        return True  # cannot tell: let umount2 decide
