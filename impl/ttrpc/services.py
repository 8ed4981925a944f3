"""Typed bindings of every containerd ttrpc service the project serves or calls.

Generated from proto/ (``impl/ttrpc/_bindings``, by ``scripts/regen-protos``);
per service a method table, a ``Protocol`` a server implements, a binder, a
registration helper taking the wire name, and a client stub. A module of its
own so ``import impl.ttrpc`` (a shim's path) loads only the task and events
messages; the host and the CLI import the rest from here.
"""

from __future__ import annotations

from ._bindings.events_ttrpc import (
    EVENTS as EVENTS,
    EVENTS_NAME as EVENTS_NAME,
    EventsClient as EventsClient,
    EventsMethods as EventsMethods,
    EventsService as EventsService,
    bind_events as bind_events,
    register_events as register_events,
)
from ._bindings.introspection_ttrpc import (
    INTROSPECTION as INTROSPECTION,
    INTROSPECTION_NAME as INTROSPECTION_NAME,
    IntrospectionClient as IntrospectionClient,
    IntrospectionMethods as IntrospectionMethods,
    IntrospectionService as IntrospectionService,
    bind_introspection as bind_introspection,
    register_introspection as register_introspection,
)
from ._bindings.task_ttrpc import (
    TASK as TASK,
    TASK_NAME as TASK_NAME,
    TaskClient as TaskClient,
    TaskMethods as TaskMethods,
    TaskService as TaskService,
    bind_task as bind_task,
    register_task as register_task,
)
from ._bindings.version_ttrpc import (
    VERSION as VERSION,
    VERSION_NAME as VERSION_NAME,
    VersionClient as VersionClient,
    VersionMethods as VersionMethods,
    VersionService as VersionService,
    bind_version as bind_version,
    register_version as register_version,
)
from ._public import public_module
from ._task_service import TASK_V3_SERVICE_NAME as TASK_V3_SERVICE_NAME

__all__ = [
    "EVENTS",
    "EVENTS_NAME",
    "INTROSPECTION",
    "INTROSPECTION_NAME",
    "TASK",
    "TASK_NAME",
    "TASK_V3_SERVICE_NAME",
    "VERSION",
    "VERSION_NAME",
    "EventsClient",
    "EventsMethods",
    "EventsService",
    "IntrospectionClient",
    "IntrospectionMethods",
    "IntrospectionService",
    "TaskClient",
    "TaskMethods",
    "TaskService",
    "VersionClient",
    "VersionMethods",
    "VersionService",
    "bind_events",
    "bind_introspection",
    "bind_task",
    "bind_version",
    "register_events",
    "register_introspection",
    "register_task",
    "register_version",
]

# The task and events names are shown under ``impl.ttrpc``, which exports them too.
_SHOWN_IN_IMPL_TTRPC = (
    "EventsClient", "EventsMethods", "EventsService", "TaskClient", "TaskMethods",
    "bind_events", "bind_task", "register_events", "register_task",
)
public_module(globals(), __name__, skip=_SHOWN_IN_IMPL_TTRPC)
