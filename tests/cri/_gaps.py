"""Known gaps (issue 9): the CRI cases pyrunc fails today where the Go runc shim passes.

Each entry turns its cases into strict expected failures: a gap case that
starts passing FAILS the run, so the feature that closed it must also delete
its entry here. This list only ever shrinks; every case not listed must pass
on both handlers. Empty since stats, update, terminals, pause, OOM events,
Go's kill semantics and kill/exit ordering landed (and a terminal exec's
output FIFO is closed once drained).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from _peers import VERSIONS

ALL: Final = frozenset(VERSIONS)


@dataclass(frozen=True)
class Gap:
    test: str
    """The test function's name (all its parameter sets, for the handler and versions below)."""
    handler: str
    versions: frozenset[str]
    why: str


KNOWN_GAPS: Final[tuple[Gap, ...]] = ()


def gap_for(test: str, handler: str, version: str) -> Gap | None:
    for gap in KNOWN_GAPS:
        if gap.test == test and gap.handler == handler and version in gap.versions:
            return gap
    return None
