"""containerd.services.events.ttrpc.v1.Events, the service shims forward to: the generated bindings under their public names."""

from __future__ import annotations

from ._bindings.events_ttrpc import EVENTS as EVENTS_SERVICE
from ._bindings.events_ttrpc import EventsClient, EventsMethods, EventsService
from ._bindings.events_ttrpc import bind_events as bind_events_service
from ._bindings.events_ttrpc import register_events as register_events_service

__all__ = [
    "EVENTS_SERVICE",
    "EventsClient",
    "EventsMethods",
    "EventsService",
    "bind_events_service",
    "register_events_service",
]
