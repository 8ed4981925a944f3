"""The plugins every host has: events, health, introspection, version.

Each module holds one plugin's domain object and both of its transport
bindings; the host finds them by structure like any other plugin.
"""

from __future__ import annotations

from typing import Any

from impl.plugin import Registration

from ._events import events_registrations
from ._health import health_registration
from ._introspection import introspection_registration
from ._version import version_registration

__all__ = ["builtin_registrations"]


def builtin_registrations() -> tuple[Registration[Any], ...]:
    """The plugins every host has, in registration order."""
    return (
        *events_registrations(),
        health_registration(),
        introspection_registration(),
        version_registration(),
    )
