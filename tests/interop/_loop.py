"""The event loop the Python side of an interop test runs on.

conftest runs every test module that imports ``run`` once under the default
loop and once under uvloop, as the impl.ttrpc tests do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TypeVar

T = TypeVar("T")

LOOPS = ("asyncio", "uvloop")

_loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
_kind = "asyncio"


def loop_kind() -> str:
    """The loop ``run`` uses now (a Python peer in a subprocess runs on it too)."""
    return _kind


def use_loop(kind: str) -> None:
    """Make ``run`` use the default loop (``asyncio``) or ``uvloop``."""
    global _loop_factory, _kind
    if kind == "asyncio":
        _loop_factory = None
    elif kind == "uvloop":
        import uvloop

        _loop_factory = uvloop.new_event_loop
    else:
        raise ValueError(f"unknown event loop {kind!r}; known: {LOOPS}")
    _kind = kind


def run(coro: Coroutine[object, object, T]) -> T:
    """``asyncio.run`` on a fresh loop of the selected kind."""
    with asyncio.Runner(loop_factory=_loop_factory) as runner:
        return runner.run(coro)
