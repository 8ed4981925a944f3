"""Plugin type names: containerd 1.6's constants, with the shim's ttrpc type.

A plugin's type is what other plugins require (``requires`` lists types, never
ids), so these strings are part of the compatibility contract.
"""

from __future__ import annotations

from typing import Final, NewType

__all__ = [
    "ALL_PLUGIN_TYPES",
    "CONTENT_PLUGIN",
    "DIFF_PLUGIN",
    "EVENT_PLUGIN",
    "GC_PLUGIN",
    "GRPC_PLUGIN",
    "INTERNAL_PLUGIN",
    "METADATA_PLUGIN",
    "PluginType",
    "RUNTIME_LINUX_V1",
    "RUNTIME_PLUGIN",
    "RUNTIME_RUNC_V1",
    "RUNTIME_RUNC_V2",
    "RUNTIME_PLUGIN_V2",
    "SERVICE_PLUGIN",
    "SNAPSHOT_PLUGIN",
    "TASK_MONITOR_PLUGIN",
    "TRACING_PROCESSOR_PLUGIN",
    "TTRPC_PLUGIN",
    "WILDCARD",
]

PluginType = NewType("PluginType", str)
"""The type half of a plugin URI, e.g. ``io.containerd.grpc.v1``."""

INTERNAL_PLUGIN: Final = PluginType("io.containerd.internal.v1")
RUNTIME_PLUGIN: Final = PluginType("io.containerd.runtime.v1")
RUNTIME_PLUGIN_V2: Final = PluginType("io.containerd.runtime.v2")
SERVICE_PLUGIN: Final = PluginType("io.containerd.service.v1")
GRPC_PLUGIN: Final = PluginType("io.containerd.grpc.v1")
TTRPC_PLUGIN: Final = PluginType("io.containerd.ttrpc.v1")
"""A ttrpc service a shim serves (added by containerd's "shim plugins" change)."""
SNAPSHOT_PLUGIN: Final = PluginType("io.containerd.snapshotter.v1")
TASK_MONITOR_PLUGIN: Final = PluginType("io.containerd.monitor.v1")
DIFF_PLUGIN: Final = PluginType("io.containerd.differ.v1")
METADATA_PLUGIN: Final = PluginType("io.containerd.metadata.v1")
CONTENT_PLUGIN: Final = PluginType("io.containerd.content.v1")
GC_PLUGIN: Final = PluginType("io.containerd.gc.v1")
EVENT_PLUGIN: Final = PluginType("io.containerd.event.v1")
TRACING_PROCESSOR_PLUGIN: Final = PluginType("io.containerd.tracing.processor.v1")

WILDCARD: Final = PluginType("*")
"""In ``requires``: every other enabled plugin. It must be the only entry."""

ALL_PLUGIN_TYPES: Final[tuple[PluginType, ...]] = (
    INTERNAL_PLUGIN,
    RUNTIME_PLUGIN,
    RUNTIME_PLUGIN_V2,
    SERVICE_PLUGIN,
    GRPC_PLUGIN,
    TTRPC_PLUGIN,
    SNAPSHOT_PLUGIN,
    TASK_MONITOR_PLUGIN,
    DIFF_PLUGIN,
    METADATA_PLUGIN,
    CONTENT_PLUGIN,
    GC_PLUGIN,
    EVENT_PLUGIN,
    TRACING_PROCESSOR_PLUGIN,
)

# Runtime names are what ``ctr run --runtime`` takes; they are not plugin types.
RUNTIME_LINUX_V1: Final = "io.containerd.runtime.v1.linux"
RUNTIME_RUNC_V1: Final = "io.containerd.runc.v1"
RUNTIME_RUNC_V2: Final = "io.containerd.runc.v2"
