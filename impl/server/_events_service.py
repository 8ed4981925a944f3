"""The events plugins: the exchange, and the service that exposes it.

``io.containerd.event.v1.exchange`` is the in-process broadcaster (plugins
take it with ``ic.get_by_id(EVENT_PLUGIN, "exchange", Exchange)``).
``io.containerd.grpc.v1.events`` serves it: the ttrpc Events/Forward a shim
calls on ``TTRPC_ADDRESS``, and gRPC Publish/Forward/Subscribe for clients
such as ``ctr events``.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.empty_pb2 import Empty

from impl.plugin import InitContext, Registration
from shimtypes import EVENT_PLUGIN, EVENTS_SERVICE_NAME, GRPC_PLUGIN, GRPCServer, TTRPCServer
from shimtypes.pb.events_pb2 import ForwardRequest

from ._exchange import Exchange, ExchangeClosed, InvalidEvent

__all__ = ["EventsService", "events_registrations"]


class EventsService:
    """Both transports of the events API over one exchange."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def forward(self, request: ForwardRequest) -> Empty:
        """The shim's ttrpc Forward; bad envelopes are InvalidArgument."""
        from impl.ttrpc import Code, TTRPCError

        try:
            self.exchange.dispatch(request.envelope)
        except InvalidEvent as exc:
            raise TTRPCError(Code.INVALID_ARGUMENT, str(exc)) from None
        except ExchangeClosed as exc:
            raise TTRPCError(Code.UNAVAILABLE, str(exc)) from None
        return Empty()

    def register(self, server: GRPCServer, /) -> None:
        from ._grpc import events_handler

        server.add_generic_rpc_handlers((events_handler(self.exchange),))

    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        from impl.ttrpc import bind_events_service

        server.register_service(EVENTS_SERVICE_NAME, bind_events_service(self))


def events_registrations() -> tuple[Registration[Any], ...]:
    def init_exchange(ic: InitContext[Any]) -> Exchange:
        return Exchange()

    def init_service(ic: InitContext[Any]) -> EventsService:
        return EventsService(ic.get_by_id(EVENT_PLUGIN, "exchange", Exchange))

    return (
        Registration(type=EVENT_PLUGIN, id="exchange", init=init_exchange),
        Registration(type=GRPC_PLUGIN, id="events", init=init_service, requires=(EVENT_PLUGIN,)),
    )
