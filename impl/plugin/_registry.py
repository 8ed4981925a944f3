"""The registry: validated registrations in registration order.

Registration order matters (it breaks ties in the graph order), so the
registry is an append-only list plus a URI index; the process-wide default
registry plays the role of containerd's package-level one, filled by imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from ._errors import IDRegisteredError, InvalidRequiresError, NoIDError, NoTypeError
from ._graph import order
from ._registration import Registration

__all__ = ["Registry", "default_registry", "graph", "register"]


class Registry:
    """Registrations in the order they were registered."""

    __slots__ = ("_by_uri", "_registrations")

    def __init__(self) -> None:
        self._registrations: list[Registration[Any]] = []
        self._by_uri: dict[str, Registration[Any]] = {}

    def register(self, registration: Registration[Any]) -> None:
        """Validate in containerd's order, then append.

        Empty type, empty id, a URI already registered, then ``"*"`` beside
        other requirements or a requirement of the plugin's own type.
        """
        r = registration
        if not r.type:
            raise NoTypeError(f'plugin: no type (registration "{r.uri}")')
        if not r.id:
            raise NoIDError(f'plugin: no id (registration "{r.uri}")')
        uri = r.uri
        if uri in self._by_uri:
            raise IDRegisteredError(f"{uri}: plugin: id already registered")
        if "*" in r.requires and len(r.requires) != 1:
            raise InvalidRequiresError(
                f'{uri}: "*" must be the only requirement, got {list(r.requires)}: invalid requires'
            )
        if r.type in r.requires:
            raise InvalidRequiresError(f"{uri}: requires its own type {r.type}: invalid requires")
        self._registrations.append(r)
        self._by_uri[uri] = r

    def graph(
        self, disabled: Callable[[Registration[Any]], bool] | None = None
    ) -> list[Registration[Any]]:
        """Enabled registrations in containerd's init order (see ``_graph``)."""
        return order(self._registrations, disabled)

    def get(self, uri: str) -> Registration[Any] | None:
        """The registration with this URI, or None."""
        return self._by_uri.get(uri)

    def __iter__(self) -> Iterator[Registration[Any]]:
        return iter(tuple(self._registrations))

    def __len__(self) -> int:
        return len(self._registrations)

    def __contains__(self, uri: object) -> bool:
        return uri in self._by_uri

    def __repr__(self) -> str:
        return f"<Registry of {len(self._registrations)} plugins>"


default_registry: Final[Registry] = Registry()
"""The process-wide registry behind the module-level ``register``/``graph``."""


def register(registration: Registration[Any]) -> None:
    """Register with the process-wide default registry."""
    default_registry.register(registration)


def graph(
    disabled: Callable[[Registration[Any]], bool] | None = None,
) -> list[Registration[Any]]:
    """Order the process-wide default registry."""
    return default_registry.graph(disabled)
