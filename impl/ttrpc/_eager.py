"""Starting a coroutine inline, in the loop callback that has work for it.

A connection's worker runs queued calls one after the other, and most
handlers finish without suspending (decode, compute, encode). Started
inline by the callback that read the requests, a worker usually drains the
queue there and then: no Task, no extra loop turn, and the replies leave in
the same write. A worker whose handler suspends carries on in a Task.

Python 3.12+ does this itself (``eager_start``). On 3.11 ``start_inline``
does it with a :class:`StandIn`: it is ``asyncio.current_task()`` for the
coroutine's whole life, and forwards to the Task carrying the coroutine once
there is one. So ``asyncio.timeout``, a TaskGroup or
``current_task().cancel()`` begun before the first await hold after it, and
the current task is the same object before and after.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Final, cast

__all__ = ["StandIn", "start_inline"]


def start_inline(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None], name: str
) -> asyncio.Task[None] | None:
    """Run ``coro`` here, in a fresh contextvars context, up to its first
    suspension: None if it finished, else the Task carrying on with it.

    Call it from a loop callback, not from inside a running task.
    """
    context = contextvars.copy_context()
    if sys.version_info >= (3, 12):
        task = asyncio.Task(coro, loop=loop, name=name, context=context, eager_start=True)
        return None if task.done() else task
    stand_in = StandIn(loop, name)
    _enter_task(loop, stand_in)
    try:
        out = context.run(coro.send, None)
    except StopIteration:
        return None
    finally:
        _leave_task(loop, stand_in)
    task = loop.create_task(_Rest(coro, out, stand_in), name=name, context=context)
    stand_in._bind(task)
    return task


# asyncio's record of the running task takes any object; typeshed types the
# argument as a Task, hence the casts.
_enter_task = cast(Callable[[asyncio.AbstractEventLoop, object], None], asyncio.tasks._enter_task)
_leave_task = cast(Callable[[asyncio.AbstractEventLoop, object], None], asyncio.tasks._leave_task)


class StandIn:
    """``asyncio.current_task()`` of a coroutine started by ``start_inline``
    (Python 3.11). Until the coroutine first suspends it keeps cancellation
    requests itself; from then on every method is its Task's."""

    __slots__ = ("_loop", "_name", "_task", "_cancels", "_message", "__weakref__")

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str) -> None:
        self._loop = loop
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._cancels = 0
        self._message: Any = None

    def _bind(self, task: asyncio.Task[None]) -> None:
        self._task = task
        for _ in range(self._cancels):
            task.cancel(self._message)

    def cancel(self, msg: Any = None) -> bool:
        if self._task is not None:
            return self._task.cancel(msg)
        self._cancels += 1
        self._message = msg
        return True

    def cancelling(self) -> int:
        return self._task.cancelling() if self._task is not None else self._cancels

    def uncancel(self) -> int:
        if self._task is not None:
            return self._task.uncancel()
        if self._cancels:
            self._cancels -= 1
        return self._cancels

    def done(self) -> bool:
        return self._task.done() if self._task is not None else False

    def cancelled(self) -> bool:
        return self._task.cancelled() if self._task is not None else False

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def get_name(self) -> str:
        return self._task.get_name() if self._task is not None else self._name

    def __getattr__(self, name: str) -> Any:
        task = self._task
        if task is None:
            raise AttributeError(f"{self._name} runs inline until its first await; Task.{name} is there after it")
        return getattr(task, name)

    def __repr__(self) -> str:
        return f"<StandIn {self._name} {'inline' if self._task is None else repr(self._task)}>"


_SENT: Final = object()


class _Rest(Coroutine[Any, Any, None]):
    """The rest of a coroutine that ran inline up to yielding ``first``, as
    a coroutine for a Task: its first step hands ``first`` on (or, if that
    future is done already, goes on at once, where the Task that had been
    waiting on it would have been woken), then it passes everything
    through, with the stand-in as the current task while the coroutine runs."""

    __slots__ = ("_coro", "_first", "_stand_in")

    def __init__(self, coro: Coroutine[Any, Any, None], first: object, stand_in: StandIn) -> None:
        self._coro = coro
        self._first = first
        self._stand_in = stand_in

    def send(self, value: Any) -> Any:
        first = self._first
        if first is not _SENT:
            self._first = _SENT
            done = getattr(first, "done", None)
            if done is None or not getattr(first, "_asyncio_future_blocking", False) or not done():
                return first
            cast(Any, first)._asyncio_future_blocking = False
        return self._step(self._coro.send, None)

    def throw(self, typ: Any, val: Any = None, tb: TracebackType | None = None, /) -> Any:
        self._first = _SENT
        coro = self._coro
        if val is None and tb is None:  # what a Task passes: one exception
            return self._step(coro.throw, typ)
        return self._step(lambda _: coro.throw(typ, val, tb), None)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Any:
        raise TypeError("run by a Task, not awaited")

    def _step(self, step: Callable[[Any], Any], arg: Any) -> Any:
        loop = self._stand_in._loop
        task = self._stand_in._task
        _leave_task(loop, task)
        _enter_task(loop, self._stand_in)
        try:
            return step(arg)
        finally:
            _leave_task(loop, self._stand_in)
            _enter_task(loop, task)
