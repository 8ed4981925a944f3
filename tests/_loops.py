"""The event loops the asyncio-layer tests run under, shared by the ttrpc and interop packages.

Each package's conftest re-exports ``pytest_generate_tests`` and the
``event_loop_kind`` fixture from here, so every test module that imports
``run`` runs once under the default loop and once under uvloop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import TypeVar

import pytest

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


def run(coro: Coroutine[object, object, T], timeout: float | None = None) -> T:
    """Run one test coroutine on a fresh loop of the selected kind; ``timeout`` bounds it so a hang fails fast."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    with asyncio.Runner(loop_factory=_loop_factory) as runner:
        return runner.run(coro if timeout is None else bounded())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if hasattr(metafunc.module, "run") and "event_loop_kind" in metafunc.fixturenames:
        metafunc.parametrize("event_loop_kind", LOOPS, indirect=True)


@pytest.fixture(autouse=True)
def event_loop_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """The loop ``run`` uses: ``asyncio`` unless parametrized (then both)."""
    kind: str = getattr(request, "param", "asyncio")
    use_loop(kind)
    try:
        yield kind
    finally:
        use_loop("asyncio")
