"""Plugin type constants are PluginType; runtime names and plain strings are not."""

from typing import assert_type

import shimtypes
from shimtypes import (
    ALL_PLUGIN_TYPES,
    EVENT_PLUGIN,
    GRPC_PLUGIN,
    INTERNAL_PLUGIN,
    RUNTIME_PLUGIN_V2,
    RUNTIME_RUNC_V2,
    TTRPC_PLUGIN,
    WILDCARD,
    PluginType,
)


def expects_plugin_type(plugin_type: PluginType) -> None: ...


assert_type(GRPC_PLUGIN, PluginType)
assert_type(TTRPC_PLUGIN, PluginType)
assert_type(EVENT_PLUGIN, PluginType)
assert_type(INTERNAL_PLUGIN, PluginType)
assert_type(RUNTIME_PLUGIN_V2, PluginType)
assert_type(shimtypes.SNAPSHOT_PLUGIN, PluginType)
assert_type(shimtypes.TRACING_PROCESSOR_PLUGIN, PluginType)
assert_type(WILDCARD, PluginType)
assert_type(ALL_PLUGIN_TYPES, tuple[PluginType, ...])

expects_plugin_type(TTRPC_PLUGIN)
expects_plugin_type(PluginType("io.example.custom.v1"))
# A PluginType is still a str wherever a str is wanted.
assert_type(GRPC_PLUGIN.startswith("io.containerd."), bool)

# A bare string is not a plugin type, and a runtime name (for `ctr run
# --runtime`) must not be mistaken for one.
expects_plugin_type("io.containerd.grpc.v1")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_plugin_type(RUNTIME_RUNC_V2)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]

# The constants are Final.
GRPC_PLUGIN = PluginType("io.example.v1")  # type: ignore[misc]  # pyright: ignore[reportGeneralTypeIssues, reportConstantRedefinition]
