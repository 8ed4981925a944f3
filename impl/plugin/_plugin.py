"""The outcome of one plugin's init, as recorded in a ``PluginSet``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ._errors import SkipPlugin
from ._registration import Registration

__all__ = ["Plugin", "PluginMeta"]


@dataclass(slots=True)
class PluginMeta:
    """What an init advertises for introspection; the init fills it in."""

    platforms: list[str] = field(default_factory=list[str])
    """``os/arch[/variant]`` strings."""
    exports: dict[str, str] = field(default_factory=dict[str, str])
    capabilities: list[str] = field(default_factory=list[str])


@dataclass(frozen=True, slots=True, eq=False)
class Plugin:
    """A registration with its decoded config, meta and instance or error.

    Failed and skipped plugins are recorded too (``error`` is set), so that
    lookups and introspection show why something is missing.
    """

    registration: Registration[Any]
    config: object
    meta: PluginMeta
    instance: object = None
    error: Exception | None = None

    @property
    def uri(self) -> str:
        return self.registration.uri

    @property
    def skipped(self) -> bool:
        return isinstance(self.error, SkipPlugin)

    @property
    def status(self) -> Literal["ok", "skip", "error"]:
        """As ``ctr plugins ls`` shows it."""
        if self.error is None:
            return "ok"
        return "skip" if self.skipped else "error"

    def get(self) -> object:
        """The instance, or raise the error the init raised."""
        if self.error is not None:
            raise self.error
        return self.instance
