"""The events exchange: plugins and shims publish, subscribers receive.

One in-process broadcaster (containerd's ``events/exchange``). Each
subscriber gets a bounded queue: a subscriber that stops reading is cut off
with ``SubscriberOverflow`` rather than letting the host's memory grow.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence

from google.protobuf.any_pb2 import Any as AnyPB
from google.protobuf.message import Message

from impl import errdefs
from impl.envelope import envelope_problem
from shimtypes.pb.events_pb2 import Envelope

from ._filters import FilterError, compile_filters

__all__ = [
    "DEFAULT_NAMESPACE",
    "EventFilterError",
    "Exchange",
    "ExchangeClosed",
    "InvalidEvent",
    "Subscription",
    "SubscriberOverflow",
    "parse_filters",
]

DEFAULT_NAMESPACE = "default"
_QUEUE_LIMIT = 4096


class InvalidEvent(errdefs.InvalidArgument, ValueError):
    """An envelope containerd would refuse (InvalidArgument)."""


class EventFilterError(errdefs.InvalidArgument, ValueError):
    """A subscription filter that does not parse (InvalidArgument)."""


class ExchangeClosed(errdefs.Unavailable):
    """The host is shutting down; no more events (Unavailable)."""


class SubscriberOverflow(errdefs.ResourceExhausted):
    """The subscriber fell more than the queue limit behind and was dropped."""


_ENVELOPE_FIELDS: dict[str, Callable[[Envelope], str]] = {
    "topic": lambda e: e.topic,
    "namespace": lambda e: e.namespace,
}

Matcher = Callable[[Envelope], bool]


def parse_filters(filters: Sequence[str]) -> Matcher:
    """containerd's filters over an envelope's ``topic`` and ``namespace``."""
    try:
        return compile_filters(filters, _ENVELOPE_FIELDS)
    except FilterError as exc:
        raise EventFilterError(str(exc)) from None


def validate_envelope(env: Envelope) -> None:
    """containerd's checks before dispatching (``impl.envelope``); InvalidEvent."""
    if problem := envelope_problem(env):
        raise InvalidEvent(problem)


class Subscription:
    """Envelopes in publication order; iterate, or ``await next_envelope()``."""

    def __init__(self, exchange: Exchange, matcher: Matcher) -> None:
        self._exchange = exchange
        self._matcher = matcher
        self._queue: asyncio.Queue[Envelope | BaseException] = asyncio.Queue()
        self._done = False

    def _offer(self, env: Envelope) -> None:
        if self._done or not self._matcher(env):
            return
        if self._queue.qsize() >= _QUEUE_LIMIT:
            self._end(SubscriberOverflow(f"subscriber more than {_QUEUE_LIMIT} events behind"))
            return
        self._queue.put_nowait(env)

    def _end(self, reason: BaseException) -> None:
        if not self._done:
            self._done = True
            self._queue.put_nowait(reason)
            self._exchange._forget(self)

    async def next_envelope(self) -> Envelope:
        """The next envelope; raises ExchangeClosed/SubscriberOverflow at the end."""
        item = await self._queue.get()
        if isinstance(item, BaseException):
            self._queue.put_nowait(item)  # stay ended for later calls
            raise item
        return item

    def close(self) -> None:
        self._end(ExchangeClosed("subscription closed"))

    def __aiter__(self) -> AsyncIterator[Envelope]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Envelope]:
        while True:
            try:
                yield await self.next_envelope()
            except ExchangeClosed:
                return


class Exchange:
    """Broadcasts envelopes to subscribers; satisfies ``shimtypes.Publisher``."""

    def __init__(self, *, namespace: str = DEFAULT_NAMESPACE) -> None:
        self._namespace = namespace
        self._subscribers: set[Subscription] = set()
        self._closed = False

    def subscribe(self, *filters: str) -> Subscription:
        """Start receiving now: events forwarded after this call are delivered."""
        if self._closed:
            raise ExchangeClosed("events exchange closed")
        sub = Subscription(self, parse_filters(filters))
        self._subscribers.add(sub)
        return sub

    def _forget(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    async def forward(self, envelope: Envelope) -> None:
        """Dispatch an envelope as it is (a shim's Forward)."""
        self.dispatch(envelope)

    def dispatch(self, envelope: Envelope) -> None:
        if self._closed:
            raise ExchangeClosed("events exchange closed")
        validate_envelope(envelope)
        for sub in tuple(self._subscribers):
            sub._offer(envelope)

    async def publish(self, topic: str, event: Message, /, *, namespace: str | None = None) -> None:
        """Wrap ``event`` in a timestamped envelope and dispatch it."""
        env = Envelope(topic=topic, namespace=namespace or self._namespace)
        env.timestamp.FromNanoseconds(time.time_ns())
        if isinstance(event, AnyPB):
            env.event.CopyFrom(event)
        else:
            # containerd's typeurl names proto events by bare full name.
            env.event.type_url = event.DESCRIPTOR.full_name
            env.event.value = event.SerializeToString()
        self.dispatch(env)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def shutting_down(self) -> None:
        """The host stops: end the subscriptions, which would otherwise hold a
        graceful stop for its whole grace (queued events are still delivered)."""
        await self.close()

    async def close(self) -> None:
        """End every subscription; later publishes raise ExchangeClosed."""
        self._closed = True
        for sub in tuple(self._subscribers):
            sub.close()
