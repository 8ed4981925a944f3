"""What a plugin instance may offer the host's lifecycle, found by structure.

The host calls these on every loaded instance that has them, whatever its
class: the built-in health and events plugins use them, and so may any
third-party plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["ServingHook", "StoppingHook"]


@runtime_checkable
class ServingHook(Protocol):
    """Told once every service is registered and every socket listens."""

    async def serving(self, services: Sequence[str], /) -> None: ...


@runtime_checkable
class StoppingHook(Protocol):
    """Told when the host stops accepting, before in-flight calls are awaited."""

    async def shutting_down(self) -> None: ...
