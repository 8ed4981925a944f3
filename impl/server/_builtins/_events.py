"""The events plugins: the exchange, and the service that exposes it.

``io.containerd.event.v1.exchange`` is the in-process broadcaster (plugins
take it with ``ic.get_by_id(EVENT_PLUGIN, "exchange", Exchange)``).
``io.containerd.grpc.v1.events`` serves it, both bindings here: the ttrpc
Events/Forward a shim calls on ``TTRPC_ADDRESS``, and gRPC
Publish/Forward/Subscribe for clients such as ``ctr events``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from google.protobuf.empty_pb2 import Empty

from impl import errdefs
from impl.plugin import InitContext, Registration
from shimtypes import EVENT_PLUGIN, GRPC_PLUGIN, GRPCServer, TTRPCServer
from shimtypes.pb import events_service_pb2 as epb
from shimtypes.pb.events_pb2 import Envelope, ForwardRequest

from .._status import abort_grpc
from ._exchange import Exchange, ExchangeClosed

__all__ = ["EVENTS_GRPC_SERVICE", "EventsService", "events_registrations"]

EVENTS_GRPC_SERVICE = "containerd.services.events.v1.Events"
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
        import grpc

        exchange = self.exchange

        async def dispatch(env: Envelope, context: Any) -> Empty:
            try:
                exchange.dispatch(env)
            except errdefs.Error as exc:
                await abort_grpc(context, exc)
            return Empty()

        async def publish(request: epb.PublishRequest, context: Any) -> Empty:
            ns = _namespace(context)
            if not ns:
                await abort_grpc(context, errdefs.FailedPrecondition("namespace is required"))
            env = Envelope(namespace=ns, topic=request.topic)
            env.timestamp.GetCurrentTime()
            env.event.CopyFrom(request.event)
            return await dispatch(env, context)

        async def forward(request: epb.ForwardRequest, context: Any) -> Empty:
            return await dispatch(Envelope.FromString(request.envelope.SerializeToString()), context)

        async def subscribe(request: epb.SubscribeRequest, context: Any) -> AsyncIterator[epb.Envelope]:
            try:
                sub = exchange.subscribe(*request.filters)
            except errdefs.Error as exc:
                await abort_grpc(context, exc)
            try:
                # Headers go out only once the subscription exists: a client that
                # awaits initial_metadata() knows it will see later events.
                await context.send_initial_metadata(())
                while True:
                    try:
                        env = await sub.next_envelope()
                    except ExchangeClosed:
                        return
                    except errdefs.Error as exc:  # SubscriberOverflow
                        await abort_grpc(context, exc)
                    yield epb.Envelope.FromString(env.SerializeToString())
            finally:
                sub.close()

        handler = grpc.method_handlers_generic_handler(
            EVENTS_GRPC_SERVICE,
            {
                "Publish": grpc.unary_unary_rpc_method_handler(
                    publish,
                    request_deserializer=epb.PublishRequest.FromString,
                    response_serializer=Empty.SerializeToString,
                ),
                "Forward": grpc.unary_unary_rpc_method_handler(
                    forward,
                    request_deserializer=epb.ForwardRequest.FromString,
                    response_serializer=Empty.SerializeToString,
                ),
                "Subscribe": grpc.unary_stream_rpc_method_handler(
                    subscribe,
                    request_deserializer=epb.SubscribeRequest.FromString,
                    response_serializer=epb.Envelope.SerializeToString,
                ),
            },
        )
        server.add_generic_rpc_handlers((handler,))


def _namespace(context: Any) -> str:
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
