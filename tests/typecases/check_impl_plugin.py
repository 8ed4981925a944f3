"""impl.plugin as a plugin author uses it: registrations, inits, typed lookups."""
# requires: impl.plugin

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, assert_type

from google.protobuf.message import Message

from impl.plugin import (
    InitContext,
    Plugin,
    PluginError,
    PluginSet,
    Registration,
    Registry,
    SkipPlugin,
    graph,
    register,
)
from shimtypes import (
    EVENT_PLUGIN,
    GRPC_PLUGIN,
    INTERNAL_PLUGIN,
    TTRPC_PLUGIN,
    WILDCARD,
    GRPCService,
    Publisher,
    TTRPCServer,
    TTRPCService,
)


class EventsPublisher:
    async def publish(self, topic: str, event: Message, /) -> None: ...
    async def close(self) -> None: ...


class PingService:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def register_ttrpc(self, server: TTRPCServer, /) -> None: ...


def init_publisher(ic: InitContext) -> EventsPublisher:
    return EventsPublisher()


def init_ping(ic: InitContext) -> PingService:
    # Narrowed by the protocol itself: no cast.
    publisher = ic.get_single(EVENT_PLUGIN, Publisher)
    assert_type(publisher, Publisher)
    return PingService(publisher)


async def init_async(ic: InitContext) -> object:
    if not ic.address:
        raise SkipPlugin("no address")
    return object()


def expects_init(init: Callable[[InitContext], object]) -> None: ...
def expects_publisher(publisher: Publisher) -> None: ...
def expects_registration(registration: Registration) -> None: ...


expects_init(init_publisher)
expects_init(init_ping)
expects_init(init_async)  # an init may be a coroutine function
expects_init(lambda ic: ic.get_single(EVENT_PLUGIN, Publisher))

reg = Registration(EVENT_PLUGIN, "publisher", init_publisher)
expects_registration(reg)
assert_type(reg.uri, str)
assert_type(reg.requires, tuple[str, ...])
register(reg)
register(Registration(TTRPC_PLUGIN, "ping", init_ping, requires=(EVENT_PLUGIN,)))
register(Registration(INTERNAL_PLUGIN, "async", init_async, requires=(WILDCARD,)))
register(Registration(INTERNAL_PLUGIN, "lambda", lambda ic: ic.root))

assert_type(graph(), list[Registration[Any]])
registry = Registry()
registry.register(reg)
assert_type(registry.graph(lambda r: r.id == "publisher"), list[Registration[Any]])
assert issubclass(SkipPlugin, Exception)


# Typed per-plugin config: the default instance fixes the type the init sees.
@dataclass(frozen=True)
class PingConfig:
    interval: float = 1.0
    label: str = ""


def init_configured(ic: InitContext[PingConfig]) -> object:
    assert_type(ic.config, PingConfig)
    assert_type(ic.config.interval, float)
    return None


register(Registration(GRPC_PLUGIN, "configured", init_configured, config=PingConfig()))


def lookups(ic: InitContext) -> None:
    assert_type(ic.root, str)
    assert_type(ic.state, str)
    assert_type(ic.ttrpc_address, str)
    assert_type(ic.properties["key"], str)
    assert_type(ic.meta.exports, dict[str, str])
    assert_type(ic.plugins, PluginSet)
    assert_type(ic.get_single(EVENT_PLUGIN), object)
    assert_type(ic.get_single(TTRPC_PLUGIN, TTRPCService), TTRPCService)
    assert_type(ic.get_by_id(GRPC_PLUGIN, "introspection", GRPCService), GRPCService)
    assert_type(ic.get_by_id(EVENT_PLUGIN, "publisher"), object)
    assert_type(ic.get_single(EVENT_PLUGIN, EventsPublisher), EventsPublisher)
    by_type = ic.get_by_type(GRPC_PLUGIN)
    assert_type(by_type, Mapping[str, Plugin])
    for plugin in by_type.values():
        assert_type(plugin.uri, str)
        assert_type(plugin.error, Exception | None)
    expects_publisher(ic.get_single(EVENT_PLUGIN, Publisher))
    expects_publisher(ic.get_by_id(EVENT_PLUGIN, "publisher", Publisher))
    # Without the protocol argument the instance is only an object.
    expects_publisher(ic.get_single(EVENT_PLUGIN))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    publisher: Publisher = ic.get_single(EVENT_PLUGIN)  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    del publisher


# Rejected registrations.
def init_wrong_argument(root: str) -> object:
    return None


def init_two_arguments(ic: InitContext, extra: int) -> object:
    return None


def init_other_config(ic: InitContext[int]) -> object:
    return None


Registration(EVENT_PLUGIN, "x", init_wrong_argument)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
Registration(EVENT_PLUGIN, "x", init_two_arguments)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
Registration(EVENT_PLUGIN, "x", init_other_config, config=PingConfig())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
Registration(EVENT_PLUGIN, "x")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
Registration(EVENT_PLUGIN, "x", init_publisher, requires=EVENT_PLUGIN)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
reg.id = "renamed"  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
register(init_publisher)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def errors_are_plugin_errors(error: PluginError) -> None:
    assert_type(error, PluginError)
    raise SkipPlugin("skip") from error
