"""containerd.services.events.ttrpc.v1.Events: the service shims forward to."""

from __future__ import annotations

from typing import Final, Protocol

from google.protobuf.empty_pb2 import Empty

from shimtypes import EVENTS_SERVICE_NAME, TTRPCMethod, TTRPCServer
from shimtypes.pb.events_pb2 import ForwardRequest

from ._client import Client, Metadata
from ._spec import MethodSpec, ServiceSpec, call_unary, unary_handler

__all__ = [
    "EVENTS_SERVICE",
    "EventsClient",
    "EventsMethods",
    "EventsService",
    "bind_events_service",
    "register_events_service",
]


class EventsService(Protocol):
    """What a host implements to receive events from shims."""

    async def forward(self, request: ForwardRequest, /) -> Empty: ...


class EventsMethods:
    """The one method of the events service, as a typed spec."""

    FORWARD: Final = MethodSpec("Forward", ForwardRequest, Empty)


EVENTS_SERVICE: Final = ServiceSpec(EVENTS_SERVICE_NAME, {"Forward": EventsMethods.FORWARD})


def bind_events_service(svc: EventsService) -> dict[str, TTRPCMethod]:
    """Raw ttrpc methods, by wire name, that decode, call ``svc`` and encode."""
    return {"Forward": unary_handler(EventsMethods.FORWARD, svc.forward)}


def register_events_service(server: TTRPCServer, svc: EventsService) -> None:
    """Register ``svc`` as ``containerd.services.events.ttrpc.v1.Events`` on ``server``."""
    server.register_service(EVENTS_SERVICE_NAME, bind_events_service(svc))


class EventsClient:
    """Typed stub: ``await EventsClient(client).forward(ForwardRequest(...))``."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    async def forward(
        self,
        request: ForwardRequest,
        /,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Empty:
        return await call_unary(
            self._client,
            EVENTS_SERVICE_NAME,
            EventsMethods.FORWARD,
            request,
            timeout=timeout,
            metadata=metadata,
        )
