"""Public names report their public module, as trio's re-exports do.

``impl.plugin.Registration``, not ``impl.plugin._registration.Registration``,
in reprs, tracebacks and pickles. String annotations are resolved first, in
the defining module, so ``typing.get_type_hints`` keeps working after the
move (the config decoder needs a config class's hints).
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Iterable

__all__ = ["fix_module"]


def fix_module(package: str, names: Iterable[str]) -> None:
    """Set ``__module__`` to ``package`` for each name it re-exports from a private module."""
    namespace = vars(sys.modules[package])
    for name in names:
        obj = namespace[name]
        module = getattr(obj, "__module__", None)
        if not isinstance(module, str) or not module.startswith(package + "."):
            continue
        if isinstance(obj, type):
            _resolve_annotations(obj, module)
        try:
            obj.__module__ = package
        except (AttributeError, TypeError):  # pragma: no cover - builtins refuse
            pass


def _resolve_annotations(cls: type, module: str) -> None:
    if not any(isinstance(a, str) for a in vars(cls).get("__annotations__", {}).values()):
        return
    try:
        hints = typing.get_type_hints(cls, vars(sys.modules[module]), include_extras=True)
    except (NameError, TypeError, AttributeError):
        return  # a TYPE_CHECKING-only name: left as strings (not needed at run time)
    own = vars(cls)["__annotations__"]
    for key in own:
        if key in hints:
            own[key] = hints[key]
