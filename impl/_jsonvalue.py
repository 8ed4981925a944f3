"""Narrow ``object`` (what ``json.loads`` returns) to typed JSON containers.

``isinstance(x, dict)`` leaves the item types unknown to a type checker;
these guards check what JSON guarantees (string keys) and say so in the type.
The containers are the parsed values themselves, to be read, not extended.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no typing import at run time; mypy treats this name as true
if TYPE_CHECKING:
    from typing import TypeGuard

__all__ = ["is_array", "is_object"]


def _is_dict(value: object) -> TypeGuard[dict[object, object]]:
    """Any dict: whatever its keys and values are, they are objects."""
    return isinstance(value, dict)


def is_object(value: object) -> TypeGuard[dict[str, object]]:
    """Whether ``value`` is a JSON object: a dict whose keys are all strings."""
    return _is_dict(value) and all(isinstance(key, str) for key in value)


def is_array(value: object) -> TypeGuard[list[object]]:
    """Whether ``value`` is a JSON array: a list (of anything)."""
    return isinstance(value, list)
