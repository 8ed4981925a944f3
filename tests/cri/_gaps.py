"""Known gaps (issue 9): the CRI cases pyrunc fails today where the Go runc shim passes.

Each entry turns its cases into strict expected failures: a gap case that
starts passing FAILS the run, so the feature that closed it must also delete
its entry here. This list only ever shrinks; every case not listed must pass
on both handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ._peers import VERSIONS

ALL: Final = frozenset(VERSIONS)


@dataclass(frozen=True)
class Gap:
    test: str
    """The test function's name (all its parameter sets, for the handler and versions below)."""
    handler: str
    versions: frozenset[str]
    why: str


KNOWN_GAPS: Final[tuple[Gap, ...]] = (
    Gap("test_container_stats", "pyrunc", ALL, "Stats is Unimplemented: 'unexpected metrics response: []'"),
    Gap("test_list_container_stats", "pyrunc", ALL, "Stats is Unimplemented: containers listed without cpu/memory"),
    Gap("test_pod_stats", "pyrunc", ALL, "Stats is Unimplemented: the pod's containers have no cpu/memory"),
    Gap("test_update_resources", "pyrunc", ALL, "Update is Unimplemented"),
    Gap("test_tty_container", "pyrunc", ALL, "terminal is not supported by pyrunc"),
    Gap("test_exec_terminal", "pyrunc", ALL, "terminal is not supported by pyrunc"),
    Gap("test_pause_resume", "pyrunc", ALL, "Pause/Resume are Unimplemented"),
    Gap("test_oom_killed", "pyrunc", ALL, "no TaskOOM event: CRI reports reason Error, not OOMKilled"),
    Gap(
        "test_shared_pid_stop",
        "pyrunc",
        frozenset({"1.7", "2.1"}),
        "Kill(all) on an exited init answers NOT_FOUND: runc kill --all never runs, the stop hangs",
    ),
    Gap(
        "test_stop_init_with_child",
        "pyrunc",
        frozenset({"1.7", "2.1"}),
        "the init exits on SIGTERM, CRI's Kill(all) then meets an exited init: the stop never completes",
    ),
    Gap(
        "test_kill_answered_before_exit",
        "pyrunc",
        ALL,
        "kill and exit are not ordered: the exit is published before runc kill returns, 'ttrpc: closed'",
    ),
    Gap("test_shims_per_pod", "pyrunc", ALL, "one shim per container, not one per pod"),
)


def gap_for(test: str, handler: str, version: str) -> Gap | None:
    for gap in KNOWN_GAPS:
        if gap.test == test and gap.handler == handler and version in gap.versions:
            return gap
    return None


@dataclass(frozen=True)
class Flake:
    handler: str
    message: str
    """Part of the CRI error's message that identifies it."""
    why: str


KNOWN_FLAKES: Final[tuple[Flake, ...]] = (
    Flake(
        "pyrunc",
        "ttrpc: closed",
        "kill and exit are not ordered: the exit is published (and the shim shut down) before the Kill reply",
    ),
)
"""Races pyrunc loses now and then where the Go shim never does (issue 9);
``test_kill_answered_before_exit`` makes the kill-ordering one happen every time.

Only stops tolerate them (``Pods.stop_pod`` / ``stop_container``), by
retrying the call once as kubelet would; every retry is listed in the run's
summary. Everything a case asserts afterwards (e.g. nothing left) still holds.
"""


def flake_messages(handler: str) -> tuple[str, ...]:
    return tuple(f.message for f in KNOWN_FLAKES if f.handler == handler)
