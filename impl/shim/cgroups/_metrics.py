"""cgroup metrics as the ``Any`` a shim's ``Stats`` returns.

CRI compares the type URL with ``io.containerd.cgroups.v1.Metrics`` or
``io.containerd.cgroups.v2.Metrics`` exactly; protobuf's ``Any.Pack`` would
prefix ``type.googleapis.com/`` and CRI would then fail "cannot convert
metric data", so the ``Any`` is built by hand.
"""

from __future__ import annotations

from google.protobuf.any_pb2 import Any

from shimtypes.pb import cgroups_v1_metrics_pb2 as v1
from shimtypes.pb import cgroups_v2_metrics_pb2 as v2

__all__ = ["V1_METRICS_TYPE_URL", "V2_METRICS_TYPE_URL", "MetricsTypeError", "metrics_any", "metrics_from_any"]

V1_METRICS_TYPE_URL = "io.containerd.cgroups.v1.Metrics"
V2_METRICS_TYPE_URL = "io.containerd.cgroups.v2.Metrics"


class MetricsTypeError(ValueError):
    """An ``Any`` that holds no cgroup metrics (its type URL is named)."""


def metrics_any(metrics: v1.Metrics | v2.Metrics) -> Any:
    """Wrap metrics in an ``Any`` whose type URL is the bare message name."""
    url = V1_METRICS_TYPE_URL if isinstance(metrics, v1.Metrics) else V2_METRICS_TYPE_URL
    return Any(type_url=url, value=metrics.SerializeToString())


def metrics_from_any(value: Any) -> v1.Metrics | v2.Metrics:
    """The metrics inside ``value`` (bare or ``type.googleapis.com/`` URL)."""
    name = value.type_url.rpartition("/")[2]
    if name == V1_METRICS_TYPE_URL:
        return v1.Metrics.FromString(value.value)
    if name == V2_METRICS_TYPE_URL:
        return v2.Metrics.FromString(value.value)
    raise MetricsTypeError(f"Any type URL {value.type_url!r} is not cgroup metrics")
