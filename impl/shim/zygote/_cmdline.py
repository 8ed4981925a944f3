"""``set_cmdline``: what ``ps`` shows for a forked shim (not the zygote's command line)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["set_cmdline"]

_cmdline: object = None
"""The buffer /proc/self/cmdline points at after ``set_cmdline`` (must stay alive)."""


def set_cmdline(argv: Sequence[str]) -> bool:
    """Make /proc/self/cmdline (``ps``, ``pgrep -f``) show ``argv``; best effort.

    A forked shim would otherwise show the zygote's command line, without its
    ``-id``. Uses ``prctl(PR_SET_MM, PR_SET_MM_MAP)``, which needs no
    capability, with every other field of the memory map unchanged.
    """
    import ctypes

    class MMMap(ctypes.Structure):
        _fields_ = [
            *((name, ctypes.c_uint64) for name in _MM_FIELDS),
            ("auxv", ctypes.c_void_p),
            ("auxv_size", ctypes.c_uint32),
            ("exe_fd", ctypes.c_uint32),
        ]

    global _cmdline
    data = b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in argv)
    buf = ctypes.create_string_buffer(data, len(data))
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        # Fields after "(comm) ": index 0 is field 3 of proc(5).
        fields = [int(x) if x.lstrip(b"-").isdigit() else 0 for x in stat[stat.rindex(b")") + 2 :].split()]
        libc = ctypes.CDLL(None, use_errno=True)
        libc.sbrk.restype = ctypes.c_void_p
        libc.sbrk.argtypes = [ctypes.c_long]
        value = dict(zip(_MM_FIELDS, (fields[n - 3] for n in _MM_STAT_FIELDS), strict=True))
        value["brk"] = libc.sbrk(0) or 0
        value["arg_start"] = ctypes.addressof(buf)
        value["arg_end"] = ctypes.addressof(buf) + len(data)
        mm = MMMap(**value, auxv=None, auxv_size=0, exe_fd=0xFFFFFFFF)
        if libc.prctl(_PR_SET_MM, _PR_SET_MM_MAP, ctypes.byref(mm), ctypes.sizeof(mm), 0) != 0:
            return False
    except (OSError, ValueError, AttributeError):
        return False
    _cmdline = buf
    return True


_PR_SET_MM = 35
_PR_SET_MM_MAP = 14
_MM_FIELDS = (
    "start_code",
    "end_code",
    "start_data",
    "end_data",
    "start_brk",
    "brk",
    "start_stack",
    "arg_start",
    "arg_end",
    "env_start",
    "env_end",
)
# Their numbers in /proc/self/stat (brk and the args are replaced anyway).
_MM_STAT_FIELDS = (26, 27, 45, 46, 47, 47, 28, 48, 49, 50, 51)
