"""Public names report the module they are imported from (as trio does)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

__all__ = ["public_module"]


def public_module(namespace: Mapping[str, object], module: str, *, skip: Collection[str] = ()) -> None:
    """Set ``__module__`` of the classes and functions in ``namespace['__all__']``
    to ``module``, so reprs and tracebacks name ``impl.ttrpc.Server``, not
    ``impl.ttrpc._server.Server``. Names in ``skip`` keep theirs (they are
    shown under another public module)."""
    names = namespace.get("__all__", ())
    assert isinstance(names, (list, tuple))
    for name in names:
        if name in skip:
            continue
        obj = namespace[name]
        if isinstance(obj, type) or callable(obj):
            mod = getattr(obj, "__module__", None)
            if isinstance(mod, str) and mod.startswith("impl.ttrpc._"):
                try:
                    setattr(obj, "__module__", module)
                except (AttributeError, TypeError):
                    pass
