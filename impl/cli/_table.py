"""Plugin listings exactly as ``ctr plugins ls`` prints them.

ctr writes through Go's text/tabwriter (minwidth 4, tabwidth 8, padding 4,
spaces); ``tabwrite`` reproduces its column-block algorithm so the output is
byte-for-byte the same, trailing padding included.
"""

from __future__ import annotations

from collections.abc import Iterable

from shimtypes.pb.introspection_pb2 import Plugin as PluginInfo

from impl.server import format_platform, status_of

__all__ = ["format_plugins", "format_plugins_detailed", "tabwrite"]

_CODE_NAMES = (
    "OK Canceled Unknown InvalidArgument DeadlineExceeded NotFound AlreadyExists "
    "PermissionDenied ResourceExhausted FailedPrecondition Aborted OutOfRange "
    "Unimplemented Internal Unavailable DataLoss Unauthenticated"
).split()


def tabwrite(text: str, *, minwidth: int = 4, padding: int = 4) -> str:
    """Go's tabwriter.Writer with flags 0 and ' ' padding, as one call."""
    lines = [line.split("\t") for line in text.split("\n")]
    if lines[-1][-1] == "":
        lines[-1].pop()  # Go's Flush ends the unterminated last cell only if non-empty
    out: list[str] = []
    widths: list[int] = []

    def write(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            for j, cell in enumerate(cells):
                out.append(cell)
                if j < len(widths):
                    out.append(" " * (widths[j] - len(cell)))
            if i + 1 < len(lines):
                out.append("\n")

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    fmt(0, len(lines))
    return "".join(out)


def _platforms(info: PluginInfo) -> str:
    return ",".join(sorted({format_platform(p) for p in info.platforms}))


def format_plugins(infos: Iterable[PluginInfo]) -> str:
    """``TYPE ID PLATFORMS STATUS``, one plugin a row."""
    rows = ["TYPE\tID\tPLATFORMS\tSTATUS\t\n"]
    for i in infos:
        rows.append(f"{i.type}\t{i.id}\t{_platforms(i) or '-'}\t{status_of(i)}\t\n")
    return tabwrite("".join(rows))


def format_plugins_detailed(infos: Iterable[PluginInfo]) -> str:
    """ctr's ``-d`` layout: Type, ID, Requires, Platforms, Exports, Capabilities, Error."""
    rows: list[str] = []
    first = True
    for i in infos:
        if not first:
            rows.append("\t\t\t\n")
        first = False
        rows.append(f"Type:\t {i.type}\n")
        rows.append(f"ID:\t {i.id}\n")
        if i.requires:
            rows.append("Requires:\t\n")
            rows.extend(f"\t {r}\n" for r in i.requires)
        if i.platforms:
            rows.append(f"Platforms:\t {_platforms(i)}\n")
        if i.exports:
            rows.append("Exports:\t\n")
            rows.extend(f"\t {k} \t {v}\n" for k, v in sorted(i.exports.items()))
        if i.capabilities:
            rows.append(f"Capabilities:\t {','.join(i.capabilities)}\n")
        if i.HasField("init_err"):
            code = i.init_err.code
            name = _CODE_NAMES[code] if 0 <= code < len(_CODE_NAMES) else f"Code({code})"
            rows.append("Error:\t\n")
            rows.append(f"\t Code:\t {name}\n")
            rows.append(f"\t Message:\t {i.init_err.message}\n")
    return tabwrite("".join(rows))
