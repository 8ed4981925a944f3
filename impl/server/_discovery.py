"""Third-party plugins from the ``shimtypes.plugins`` entry-point group.

An entry point names one of:

* a ``Registration`` -- registered as is;
* an iterable of ``Registration`` -- registered in iteration order;
* a callable taking the host's ``Registry`` -- called once to register.

Entry points are visited sorted by distribution name (normalised) and then
entry point name, so the registration order (which breaks ties in the init
order) does not depend on sys.path or install order. One that fails -- to
import, to have the right shape, or to register -- is reported with its
distribution and entry point and the rest still load.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata

from impl.plugin import Registration, Registry

__all__ = ["ENTRY_POINT_GROUP", "DiscoveryError", "discover"]

ENTRY_POINT_GROUP = "shimtypes.plugins"


@dataclass(frozen=True, slots=True)
class DiscoveryError:
    """One entry point that contributed nothing, and why."""

    distribution: str
    version: str
    name: str
    value: str
    error: str

    def __str__(self) -> str:
        return (
            f"plugin entry point {self.name!r} ({self.value}) of distribution "
            f"{self.distribution} {self.version}: {self.error}"
        )


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _entry_points(group: str) -> list[tuple[str, str, metadata.EntryPoint]]:
    seen: set[tuple[str, str]] = set()
    found: list[tuple[str, str, metadata.EntryPoint]] = []
    for dist in metadata.distributions():
        dist_name = dist.metadata["Name"] or "<unknown>"
        version = dist.version or ""
        for ep in dist.entry_points:
            if ep.group != group:
                continue
            key = (_normalise(dist_name), ep.name)
            if key in seen:  # the same distribution twice on sys.path: first wins
                continue
            seen.add(key)
            found.append((dist_name, version, ep))
    found.sort(key=lambda t: (_normalise(t[0]), t[2].name))
    return found


def _register_object(obj: object, registry: Registry) -> None:
    if isinstance(obj, Registration):
        registry.register(obj)
        return
    if isinstance(obj, type):
        raise TypeError(f"names the class {obj.__qualname__}, not a Registration")
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes)):
        items = list(obj)
        bad = [x for x in items if not isinstance(x, Registration)]
        if bad:
            raise TypeError(f"iterable holds {type(bad[0]).__qualname__}, not Registration")
        for reg in items:
            registry.register(reg)
        return
    if callable(obj):
        fn: Callable[[Registry], object] = obj
        fn(registry)
        return
    raise TypeError(
        f"names a {type(obj).__qualname__}; want a Registration, an iterable of "
        "Registrations or a function taking the Registry"
    )


def discover(registry: Registry, *, group: str = ENTRY_POINT_GROUP) -> list[DiscoveryError]:
    """Register every plugin the group's entry points provide; return failures."""
    errors: list[DiscoveryError] = []
    for dist_name, version, ep in _entry_points(group):
        try:
            obj = ep.load()
            _register_object(obj, registry)
        except Exception as exc:  # one broken distribution must not hide the rest
            errors.append(
                DiscoveryError(dist_name, version, ep.name, ep.value, f"{type(exc).__name__}: {exc}")
            )
    return errors
