"""containerd's filter syntax, for the few flat string fields we filter on.

Filters are OR-ed; inside one, comma-separated clauses are AND-ed. A clause is
``field==value``, ``field!=value`` or ``field~=regexp``, or a bare ``field``
meaning "is not empty". A double-quoted value may hold commas and spaces and
has backslash escapes; a bare value is taken verbatim (so ``id~=^a\\.b$``
keeps its regexp escape).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from impl import errdefs

__all__ = ["FilterError", "compile_filters"]

T = TypeVar("T")

# One clause and the comma after it (or the end); matched repeatedly from a
# position, so a comma inside a quoted value does not split the clause.
_CLAUSE_RE = re.compile(
    r'\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:(==|!=|~=)\s*(?:"((?:[^"\\]|\\.)*)"|([^,"\s]+)))?\s*(?:,|\Z)'
)


class FilterError(errdefs.InvalidArgument, ValueError):
    """A filter that does not parse or names an unknown field."""


def _clause(getter: Callable[[T], Sequence[str] | str], op: str, value: str) -> Callable[[T], bool]:
    def values(item: T) -> Sequence[str]:
        v = getter(item)
        return (v,) if isinstance(v, str) else v

    if op == "":
        return lambda item: any(values(item))
    if op == "==":
        return lambda item: value in values(item)
    if op == "!=":
        return lambda item: value not in values(item)
    pattern = re.compile(value)
    return lambda item: any(pattern.search(v) for v in values(item))


def compile_filters(
    filters: Sequence[str], fields: Mapping[str, Callable[[T], Sequence[str] | str]]
) -> Callable[[T], bool]:
    """A predicate for ``filters``; FilterError names the bad filter."""
    alternatives: list[list[Callable[[T], bool]]] = []
    for f in filters:
        clauses: list[Callable[[T], bool]] = []
        pos, more = 0, True
        while more:
            m = _CLAUSE_RE.match(f, pos)
            if m is None:
                raise FilterError(f"invalid filter {f!r}: want <field>==<value>, != or ~=")
            pos = m.end()
            more = f[pos - 1 : pos] == ","  # a trailing comma wants another clause
            name, op, quoted, bare = m.groups()
            if name not in fields:
                raise FilterError(f"invalid filter {f!r}: unknown field {name!r} (know {', '.join(fields)})")
            value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else (bare or "")
            try:
                clauses.append(_clause(fields[name], op or "", value))
            except re.error as exc:
                raise FilterError(f"invalid filter {f!r}: {exc}") from None
        alternatives.append(clauses)
    if not alternatives:
        return lambda item: True
    return lambda item: any(all(c(item) for c in alt) for alt in alternatives)
