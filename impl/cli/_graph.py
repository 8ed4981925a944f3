"""The dependency graph as Graphviz dot or Mermaid, to look at, not read.

Edges follow the init-order rule: a plugin depends on every *enabled*
plugin of each type it requires ("*": every other enabled plugin). Disabled
plugins are drawn dashed and never as dependencies, as containerd treats them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from impl.plugin import Registration

__all__ = ["edges", "render_dot", "render_mermaid"]


def edges(
    regs: Sequence[Registration[Any]], disabled: Callable[[Registration[Any]], bool]
) -> list[tuple[Registration[Any], Registration[Any]]]:
    """(dependent, dependency) pairs in registration order."""
    enabled = [r for r in regs if not disabled(r)]
    out: dict[tuple[Registration[Any], Registration[Any]], None] = {}  # ordered set
    for reg in regs:
        for t in reg.requires:
            for dep in enabled:
                if dep is not reg and (t == "*" or dep.type == t):
                    out[(reg, dep)] = None
    return list(out)


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(regs: Sequence[Registration[Any]], disabled: Callable[[Registration[Any]], bool]) -> str:
    lines = ["digraph plugins {", "  rankdir=LR;", "  node [shape=box, fontname=monospace];"]
    for r in regs:
        attrs = f"label={_q(r.type)[:-1]}\\n{_q(r.id)[1:]}"  # dot's \n: a line break
        if disabled(r):
            attrs += ", style=dashed, fontcolor=gray"
        lines.append(f"  {_q(r.uri)} [{attrs}];")
    for a, b in edges(regs, disabled):
        lines.append(f"  {_q(a.uri)} -> {_q(b.uri)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_mermaid(regs: Sequence[Registration[Any]], disabled: Callable[[Registration[Any]], bool]) -> str:
    ids = {r.uri: f"p{i}" for i, r in enumerate(regs)}
    lines = ["flowchart LR"]
    for r in regs:
        label = f"{r.type}<br/>{r.id}".replace('"', "#quot;")
        lines.append(f'  {ids[r.uri]}["{label}"]')
        if disabled(r):
            lines.append(f"  style {ids[r.uri]} stroke-dasharray: 5 5,color:#888")
    for a, b in edges(regs, disabled):
        lines.append(f"  {ids[a.uri]} --> {ids[b.uri]}")
    return "\n".join(lines) + "\n"
