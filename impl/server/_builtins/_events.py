"""The events plugins: the exchange, and the service that exposes it.

``io.containerd.event.v1.exchange`` is the in-process broadcaster (plugins
take it with ``ic.get_by_id(EVENT_PLUGIN, "exchange", Exchange)``).
``io.containerd.grpc.v1.events`` serves it, both bindings here: the ttrpc
Events/Forward a shim calls on ``TTRPC_ADDRESS``, and gRPC
Publish/Forward/Subscribe for clients such as ``ctr events``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final

from google.protobuf.empty_pb2 import Empty

from impl import errdefs
from impl.plugin import InitContext, Registration
from shimtypes import EVENT_PLUGIN, GRPC_PLUGIN, GRPCServer, TTRPCServer
from shimtypes.pb import events_service_pb2 as epb
from shimtypes.pb.events_pb2 import Envelope, ForwardRequest

from .._bindings.events_service_grpc import EVENTS_NAME
from ._exchange import Exchange, ExchangeClosed

if TYPE_CHECKING:
    from grpc import aio

__all__ = ["EVENTS_GRPC_SERVICE", "EventsService", "events_registrations"]

EVENTS_GRPC_SERVICE: Final = EVENTS_NAME
NAMESPACE_HEADER = "containerd-namespace"


class EventsService:
    """Both transports of the events API over one exchange."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def forward(self, request: ForwardRequest) -> Empty:
        """The shim's ttrpc Forward; bad envelopes are InvalidArgument."""
        self.exchange.dispatch(request.envelope)  # errdefs errors: the ttrpc server maps them
        return Empty()

    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        from impl.ttrpc import register_events_service

        register_events_service(server, self)

    def register(self, server: GRPCServer, /) -> None:
        from .._bindings.events_service_grpc import add_events

        add_events(server, _EventsGRPC(self.exchange))


class _EventsGRPC:
    """The gRPC Events API over the exchange; its ``errdefs`` errors are mapped by the binding."""

    __slots__ = ("_exchange",)

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange

    async def publish(self, request: epb.PublishRequest, context: aio.ServicerContext[Any, Any], /) -> Empty:
        ns = _namespace(context)
        if not ns:
            raise errdefs.FailedPrecondition("namespace is required")
        env = Envelope(namespace=ns, topic=request.topic)
        env.timestamp.GetCurrentTime()
        env.event.CopyFrom(request.event)
        self._exchange.dispatch(env)
        return Empty()

    async def forward(self, request: epb.ForwardRequest, context: object, /) -> Empty:
        self._exchange.dispatch(Envelope.FromString(request.envelope.SerializeToString()))
        return Empty()

    async def subscribe(
        self, request: epb.SubscribeRequest, context: aio.ServicerContext[Any, Any], /
    ) -> AsyncIterator[epb.Envelope]:
        sub = self._exchange.subscribe(*request.filters)
        try:
            # Headers go out only once the subscription exists: a client that
            # awaits initial_metadata() knows it will see later events.
            await context.send_initial_metadata(())
            while True:
                try:
                    env = await sub.next_envelope()
                except ExchangeClosed:
                    return
                yield epb.Envelope.FromString(env.SerializeToString())
        finally:
            sub.close()


def _namespace(context: aio.ServicerContext[Any, Any]) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == NAMESPACE_HEADER and isinstance(value, str):
            return value
    return ""


def events_registrations() -> tuple[Registration[Any], ...]:
    def init_exchange(ic: InitContext[Any]) -> Exchange:
        return Exchange()

    def init_service(ic: InitContext[Any]) -> EventsService:
        return EventsService(ic.get_by_id(EVENT_PLUGIN, "exchange", Exchange))

    return (
        Registration(type=EVENT_PLUGIN, id="exchange", init=init_exchange),
        Registration(type=GRPC_PLUGIN, id="events", init=init_service, requires=(EVENT_PLUGIN,)),
    )
