"""containerd's plugin order, computed iteratively in linear time.

containerd 1.6 walks each registration's requirements recursively *before*
checking whether a plugin was already added, so it re-walks shared
dependencies (exponential in the worst case) and never ends on a cycle. On an
acyclic registry, re-walking an added plugin appends nothing (everything it
requires was added before it), so pruning added plugins keeps the order
exactly; an explicit stack removes the recursion limit, and a plugin met again
while still on the stack is a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from typing import Any

from ._errors import DependencyCycleError
from ._registration import Registration

__all__ = ["order"]

_NEW, _ON_STACK, _ADDED = 0, 1, 2


def order(
    registrations: Sequence[Registration[Any]],
    disabled: Callable[[Registration[Any]], bool] | None = None,
) -> list[Registration[Any]]:
    """Return the enabled registrations in containerd's depth-first order.

    ``disabled`` is called once per registration; the registrations are not
    changed. Raises ``DependencyCycleError`` if enabled plugins require each
    other in a loop.
    """
    regs = list(registrations)
    n = len(regs)
    state = bytearray(n)
    enabled: list[int] = []
    by_type: dict[str, list[int]] = {}
    for i, reg in enumerate(regs):
        if disabled is not None and disabled(reg):
            continue  # in no candidate list: never walked, never appended
        enabled.append(i)
        by_type.setdefault(reg.type, []).append(i)
    empty: list[int] = []

    def dependencies(i: int) -> Iterator[int]:
        # Candidates requirement by requirement, each in registration order;
        # the node itself is among them and is skipped by the walk.
        reqs = regs[i].requires
        if len(reqs) == 1:
            t = reqs[0]
            return iter(enabled if t == "*" else by_type.get(t, empty))
        return chain.from_iterable(
            enabled if t == "*" else by_type.get(t, empty) for t in reqs
        )

    out: list[Registration[Any]] = []
    for root in enabled:
        if state[root] != _NEW:
            continue
        state[root] = _ON_STACK
        nodes = [root]
        walks = [dependencies(root)]
        while walks:
            node = nodes[-1]
            for dep in walks[-1]:
                s = state[dep]
                if s == _ADDED or dep == node:
                    continue
                if s == _ON_STACK:
                    loop = nodes[nodes.index(dep) :]
                    raise DependencyCycleError([regs[k].uri for k in loop] + [regs[dep].uri])
                state[dep] = _ON_STACK
                nodes.append(dep)
                walks.append(dependencies(dep))
                break
            else:
                walks.pop()
                nodes.pop()
                state[node] = _ADDED
                out.append(regs[node])
    return out
