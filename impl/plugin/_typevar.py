"""``TypeVar`` with a PEP 696 ``default=`` for type checkers, without typing_extensions at run time.

Only checkers use the default; importing typing_extensions for it would cost
every serving shim start-up time and memory. At run time the default is dropped.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import TypeVar as TypeVar
else:
    import typing

    def TypeVar(name, *constraints, default=None, **kwargs):  # noqa: N802 - stands in for the class
        return typing.TypeVar(name, *constraints, **kwargs)


__all__ = ["TypeVar"]
