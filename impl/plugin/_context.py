"""What an init sees: its directories, config, addresses and earlier plugins."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from ._errors import MultipleInstancesError, PluginNotFoundError, UnexpectedInstanceError
from ._plugin import Plugin, PluginMeta
from ._registration import Registration
from ._set import PluginSet
from ._typevar import TypeVar as DefaultTypeVar

__all__ = ["InitContext"]

C = DefaultTypeVar("C", default=Any)
T = TypeVar("T")

# A protocol class is abstract, and mypy rejects it where ``type[T]`` is
# expected ([type-abstract]); ``Callable[..., T]`` accepts it in both mypy and
# pyright and still infers T as the protocol.
_Expect = Callable[..., T]


@dataclass(slots=True, eq=False, kw_only=True)
class InitContext(Generic[C]):
    """One plugin's view while its init runs.

    ``root``/``state`` are already joined with the plugin's URI (the shim's
    root is "" so its ``root`` is the bare URI). ``config`` is the decoded
    config (a new instance of the default's type) or None. ``meta`` is
    recorded with the plugin after init: fill it in.
    """

    registration: Registration[C]
    root: str
    state: str
    config: C
    plugins: PluginSet
    address: str = ""
    ttrpc_address: str = ""
    properties: dict[str, str] = field(default_factory=dict[str, str])
    meta: PluginMeta = field(default_factory=PluginMeta)

    @overload
    def get_by_id(self, type: str, id: str) -> object: ...
    @overload
    def get_by_id(self, type: str, id: str, expect: _Expect[T]) -> T: ...
    def get_by_id(self, type: str, id: str, expect: _Expect[object] | None = None) -> object:
        """The instance of plugin ``type.id``; re-raises its init error.

        With ``expect`` (a class or runtime-checkable protocol), the instance
        must be one, or ``UnexpectedInstanceError`` names the plugin.
        """
        p = self.plugins.get(type, id)
        if p is None:
            raise PluginNotFoundError(f"no {type} plugins with id {id}: plugin: not found")
        return _check(p, p.get(), expect)

    def get_by_type(self, type: str) -> Mapping[str, Plugin]:
        """Plugins of ``type`` by id, failed and skipped ones included."""
        found = self.plugins.get_by_type(type)
        if not found:
            raise PluginNotFoundError(f"no plugins registered for {type}: plugin: not found")
        return found

    @overload
    def get_single(self, type: str) -> object: ...
    @overload
    def get_single(self, type: str, expect: _Expect[T]) -> T: ...
    def get_single(self, type: str, expect: _Expect[object] | None = None) -> object:
        """The one loaded instance of ``type``.

        Skipped plugins are ignored; the first other failure is re-raised;
        two loaded ones raise ``MultipleInstancesError``; none raises
        ``PluginNotFoundError``. ``expect`` narrows as in ``get_by_id``.
        """
        found: Plugin | None = None
        for p in self.plugins.get_by_type(type).values():
            if p.error is not None:
                if p.skipped:
                    continue
                raise p.error
            if found is not None:
                raise MultipleInstancesError(
                    f"multiple plugins registered for {type} ({found.uri}, {p.uri}): "
                    "plugin: multiple instances"
                )
            found = p
        if found is None:
            raise PluginNotFoundError(f"no plugins registered for {type}: plugin: not found")
        return _check(found, found.instance, expect)

    def get_all(self) -> list[Plugin]:
        """Every plugin initialized so far, in init order."""
        return self.plugins.get_all()


def _check(plugin: Plugin, instance: object, expect: _Expect[object] | None) -> object:
    if expect is None:
        return instance
    if not isinstance(expect, type):
        raise TypeError(f"expect must be a class or runtime-checkable protocol, not {expect!r}")
    try:
        ok = isinstance(instance, expect)
    except TypeError as e:  # a protocol without @runtime_checkable
        raise TypeError(f"cannot check {plugin.uri} against {expect.__qualname__}: {e}") from e
    if not ok:
        raise UnexpectedInstanceError(
            f"plugin {plugin.uri}: instance {type(instance).__qualname__} "
            f"is not a {expect.__module__}.{expect.__qualname__}"
        )
    return instance
