"""Initialized plugins: init order plus a type -> id index."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from ._errors import AlreadyInitializedError
from ._plugin import Plugin

__all__ = ["PluginSet"]


class PluginSet:
    """Every plugin the loader ran, failed and skipped ones included."""

    __slots__ = ("_by_type", "_ordered")

    def __init__(self) -> None:
        self._ordered: list[Plugin] = []
        self._by_type: dict[str, dict[str, Plugin]] = {}

    def add(self, plugin: Plugin) -> None:
        """Record one init's outcome; a URI can be recorded only once."""
        reg = plugin.registration
        ids = self._by_type.setdefault(reg.type, {})
        if reg.id in ids:
            raise AlreadyInitializedError(f"plugin {reg.uri} already initialized")
        ids[reg.id] = plugin
        self._ordered.append(plugin)

    def get(self, type: str, id: str) -> Plugin | None:
        return self._by_type.get(type, {}).get(id)

    def get_by_type(self, type: str) -> Mapping[str, Plugin]:
        """Plugins of ``type`` by id, in init order (empty if none)."""
        return MappingProxyType(self._by_type.get(type, {}))

    def get_all(self) -> list[Plugin]:
        """All plugins in init order."""
        return list(self._ordered)

    def __iter__(self) -> Iterator[Plugin]:
        return iter(tuple(self._ordered))

    def __len__(self) -> int:
        return len(self._ordered)

    def __contains__(self, uri: object) -> bool:
        return any(p.uri == uri for p in self._ordered)

    def __repr__(self) -> str:
        return f"<PluginSet of {len(self._ordered)} plugins>"
