"""What a plugin declares about itself; immutable once made."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic

from ._typevar import TypeVar

if TYPE_CHECKING:
    from ._context import InitContext

__all__ = ["Registration"]

C = TypeVar("C", default=Any)


@dataclass(frozen=True, slots=True, eq=False)
class Registration(Generic[C]):
    """A plugin's type, id, requirements, default config and init.

    ``requires`` lists plugin *types* (never ids); ``"*"`` alone means every
    other enabled plugin. ``config`` is the default configuration instance
    (usually a dataclass); the loader decodes the plugin's section into a new
    instance of its type and never changes this one. ``init`` may be a plain
    function or a coroutine function. Equality is identity: two registrations
    are two plugins even when their fields agree.
    """

    type: str
    id: str
    init: Callable[[InitContext[C]], object]
    requires: tuple[str, ...] = ()
    config: C | None = None

    def __post_init__(self) -> None:
        requires: object = self.requires
        if isinstance(requires, str):
            raise TypeError(f"{self.uri}: requires must be a sequence of types, not {requires!r}")
        if type(requires) is not tuple:
            object.__setattr__(self, "requires", tuple(self.requires))

    @property
    def uri(self) -> str:
        """``<type>.<id>``: the name in configs, logs and errors."""
        return f"{self.type}.{self.id}"
