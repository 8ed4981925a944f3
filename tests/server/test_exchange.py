"""The in-process events exchange: publish, forward, filters, overflow, close."""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.server import EventFilterError, Exchange, ExchangeClosed, InvalidEvent, SubscriberOverflow
from impl.server._builtins._exchange import parse_filters
from shimtypes import Publisher
from shimtypes.pb.events_pb2 import Envelope
from shimtypes.pb.task_events_pb2 import TaskExit, TaskStart


def test_publish_reaches_matching_subscribers_in_order() -> None:
    async def scenario() -> None:
        ex = Exchange()
        publisher: Publisher = ex  # structurally a shimtypes.Publisher
        everything = ex.subscribe()
        exits = ex.subscribe('topic=="/tasks/exit"')
        await publisher.publish("/tasks/start", TaskStart(container_id="a", pid=1))
        await publisher.publish("/tasks/exit", TaskExit(container_id="a", exit_status=3))
        first, second = await everything.next_envelope(), await everything.next_envelope()
        assert [first.topic, second.topic] == ["/tasks/start", "/tasks/exit"]
        assert first.namespace == "default"
        assert first.event.type_url == "containerd.events.TaskStart"
        got = await exits.next_envelope()
        decoded = TaskExit.FromString(got.event.value)
        assert decoded.exit_status == 3
        await ex.close()
        with pytest.raises(ExchangeClosed):
            await exits.next_envelope()
        assert [e async for e in everything] == []
        with pytest.raises(ExchangeClosed):
            await publisher.publish("/tasks/exit", TaskExit())

    asyncio.run(scenario())


def _envelope(topic: str, namespace: str = "default", *, stamped: bool = True) -> Envelope:
    env = Envelope(topic=topic, namespace=namespace)
    if stamped:
        env.timestamp.GetCurrentTime()
    return env


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (_envelope("tasks"), "must start with '/'"),
        (_envelope("/"), "must start with '/' and have a component"),
        (_envelope("/tasks//exit"), "component '' must not be empty"),
        (_envelope("/tasks/ex it"), "component 'ex it' must be letters and digits"),
        (_envelope("/t", ""), "invalid namespace '': must not be empty"),
        (_envelope("/t", "k8s..io"), "invalid namespace 'k8s..io': must be letters and digits"),
        (_envelope("/t", "-x"), "invalid namespace '-x'"),
        (_envelope("/t", "n" * 77), "longer than 76 characters"),
        (_envelope("/t", stamped=False), "timestamp must be set"),
    ],
)
def test_forward_refuses_what_containerd_refuses(bad: Envelope, problem: str) -> None:
    async def scenario() -> None:
        ex = Exchange()
        seen = ex.subscribe()
        with pytest.raises(InvalidEvent, match=re.escape(problem)):
            await ex.forward(bad)
        good = _envelope("/tasks/exit", "k8s.io")
        await ex.forward(good)
        assert await seen.next_envelope() == good  # the refused one never got through

    asyncio.run(scenario())


def test_slow_subscriber_is_cut_off_not_buffered_forever() -> None:
    async def scenario() -> None:
        ex = Exchange()
        slow = ex.subscribe()
        for i in range(5000):
            ex.dispatch(_envelope(f"/n/{i}"))
        assert ex.subscriber_count == 0
        got = 0
        with pytest.raises(SubscriberOverflow):
            while True:
                await slow.next_envelope()
                got += 1
        assert got == 4096

    asyncio.run(scenario())


def test_bad_filters_are_refused() -> None:
    ex = Exchange()
    for f in ("colour==red", "topic=", "topic~=("):
        with pytest.raises(EventFilterError):
            ex.subscribe(f)


_topic = st.sampled_from(["/tasks/exit", "/tasks/start", "/images/create"])
_ns = st.sampled_from(["default", "k8s.io", "moby"])


@settings(max_examples=100, deadline=None)
@given(topic=_topic, ns=_ns, want_topic=_topic, want_ns=_ns)
def test_filter_semantics(topic: str, ns: str, want_topic: str, want_ns: str) -> None:
    env = Envelope(topic=topic, namespace=ns)
    assert parse_filters([f'topic=="{want_topic}"'])(env) == (topic == want_topic)
    assert parse_filters([f"topic!={want_topic}"])(env) == (topic != want_topic)
    both = parse_filters([f'topic=="{want_topic}",namespace=={want_ns}'])(env)
    assert both == (topic == want_topic and ns == want_ns)
    either = parse_filters([f"topic=={want_topic}", f"namespace=={want_ns}"])(env)
    assert either == (topic == want_topic or ns == want_ns)
    assert parse_filters(["topic~=^/tasks/"])(env) == topic.startswith("/tasks/")
    assert parse_filters([])(env)


def test_bare_regexp_keeps_its_escapes_and_quoted_values_may_hold_commas() -> None:
    dotted = parse_filters([r"topic~=^/a\.b$"])
    assert dotted(Envelope(topic="/a.b")) and not dotted(Envelope(topic="/axb"))
    comma = parse_filters(['topic=="/a,b",namespace==k8s.io'])
    assert comma(Envelope(topic="/a,b", namespace="k8s.io"))
    assert not comma(Envelope(topic="/a,b", namespace="default"))
    assert parse_filters([r'topic=="/say \"hi\""'])(Envelope(topic='/say "hi"'))
    for bad in ("topic==/a,", "topic==/a,,namespace==x", 'topic=="/a'):
        with pytest.raises(EventFilterError, match="invalid filter"):
            parse_filters([bad])
