"""containerd's plugin model: registrations, their init order, init contexts.

``Registry.graph`` gives exactly containerd 1.6's order, but iteratively, in
linear time, and with cycles reported instead of overflowing the stack.
"""

from ._context import InitContext as InitContext
from ._errors import (
    AlreadyInitializedError as AlreadyInitializedError,
    DependencyCycleError as DependencyCycleError,
    IDRegisteredError as IDRegisteredError,
    InvalidRequiresError as InvalidRequiresError,
    MultipleInstancesError as MultipleInstancesError,
    NoIDError as NoIDError,
    NoTypeError as NoTypeError,
    PluginError as PluginError,
    PluginNotFoundError as PluginNotFoundError,
    SkipPlugin as SkipPlugin,
    UnexpectedInstanceError as UnexpectedInstanceError,
)
from ._plugin import Plugin as Plugin, PluginMeta as PluginMeta
from ._registration import Registration as Registration
from ._registry import (
    Registry as Registry,
    default_registry as default_registry,
    graph as graph,
    register as register,
)
from ._set import PluginSet as PluginSet

__all__ = [
    "AlreadyInitializedError",
    "DependencyCycleError",
    "IDRegisteredError",
    "InitContext",
    "InvalidRequiresError",
    "MultipleInstancesError",
    "NoIDError",
    "NoTypeError",
    "Plugin",
    "PluginError",
    "PluginMeta",
    "PluginNotFoundError",
    "PluginSet",
    "Registration",
    "Registry",
    "SkipPlugin",
    "UnexpectedInstanceError",
    "default_registry",
    "graph",
    "register",
]

from impl._reexport import fix_module as _fix_module  # noqa: E402

_fix_module(__name__, __all__)
