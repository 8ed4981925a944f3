"""Errors of the plugin core; texts follow containerd's so logs read alike.

Every error about a registration names its URI, because with dozens of
plugins registered by imports the URI is the only thing a reader can grep.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AlreadyInitializedError",
    "DependencyCycleError",
    "IDRegisteredError",
    "InvalidRequiresError",
    "MultipleInstancesError",
    "NoIDError",
    "NoTypeError",
    "PluginError",
    "PluginNotFoundError",
    "SkipPlugin",
    "UnexpectedInstanceError",
]


class PluginError(Exception):
    """Base of every error the plugin core and the loader raise."""


class NoTypeError(PluginError):
    """A registration has an empty type (containerd's ``ErrNoType``)."""


class NoIDError(PluginError):
    """A registration has an empty id (containerd's ``ErrNoPluginID``)."""


class IDRegisteredError(PluginError):
    """The registration's URI is already in the registry."""


class InvalidRequiresError(PluginError):
    """``"*"`` beside other requirements, or a requirement of the plugin's own type."""


class DependencyCycleError(PluginError):
    """Requirements loop; containerd 1.6 would recurse until its stack overflows.

    ``cycle`` lists the URIs around the loop, each requiring (the type of) the
    next; the first URI is repeated at the end to close it.
    """

    cycle: tuple[str, ...]

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__(
            f"circular plugin dependency at {self.cycle[0]}: "
            f"{' -> '.join(self.cycle)}: plugin: dependency loop detected"
        )


class PluginNotFoundError(PluginError, LookupError):
    """A lookup found no plugin (containerd's ``ErrPluginNotFound``)."""


class MultipleInstancesError(PluginError, LookupError):
    """``get_single`` found more than one loaded plugin of the type."""


class AlreadyInitializedError(PluginError):
    """A ``PluginSet`` already holds a plugin with this URI."""


class UnexpectedInstanceError(PluginError, TypeError):
    """A lookup's instance does not satisfy the protocol the caller asked for."""


class SkipPlugin(Exception):
    """Raised by an init to skip its plugin: logged, recorded, not a failure.

    The text always contains "skip plugin", which is how ``ctr plugins ls``
    tells a skipped plugin from a failed one.
    """

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: skip plugin" if reason else "skip plugin")
