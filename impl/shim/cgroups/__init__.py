"""impl.shim.cgroups: a container's cgroup for a shim — where it is, its metrics, its OOMs, its updates.

- ``cgroup_path_from_spec`` resolves ``linux.cgroupsPath`` as runc does (cgroupfs
  or systemd ``slice:prefix:name``); ``v1_controller_dir`` / ``v2_dir`` place it.
- ``read_v1_metrics`` / ``read_v2_metrics`` read containerd's
  ``io.containerd.cgroups.v1.Metrics`` / ``v2.Metrics``; ``metrics_any`` wraps them
  for ``Stats`` with the exact type URL CRI expects.
- ``OOMWatcher`` calls back with the container id on each OOM kill.
- ``runc_update`` turns ``Update``'s ``LinuxResources`` JSON into a checked
  ``runc update --resources -`` call.
"""

from ._metrics import (
    V1_METRICS_TYPE_URL as V1_METRICS_TYPE_URL,
    V2_METRICS_TYPE_URL as V2_METRICS_TYPE_URL,
    MetricsTypeError as MetricsTypeError,
    metrics_any as metrics_any,
    metrics_from_any as metrics_from_any,
)
from ._oom import OOMWatcher as OOMWatcher, OOMWatchError as OOMWatchError
from ._parse import (
    MAX_UINT64 as MAX_UINT64,
    CgroupFormatError as CgroupFormatError,
    parse_blkio as parse_blkio,
    parse_flat_keyed as parse_flat_keyed,
    parse_nested_keyed as parse_nested_keyed,
    parse_uint as parse_uint,
    parse_uint_list as parse_uint_list,
)
from ._path import (
    CGROUP_ROOT as CGROUP_ROOT,
    CgroupPathError as CgroupPathError,
    cgroup_path_from_spec as cgroup_path_from_spec,
    expand_slice as expand_slice,
    is_unified as is_unified,
    own_cgroup as own_cgroup,
    systemd_cgroup_path as systemd_cgroup_path,
    v1_controller_dir as v1_controller_dir,
    v2_dir as v2_dir,
)
from ._resources import (
    LINUX_RESOURCES_TYPE_URL as LINUX_RESOURCES_TYPE_URL,
    ResourcesError as ResourcesError,
    RuncUpdate as RuncUpdate,
    parse_linux_resources as parse_linux_resources,
    runc_update as runc_update,
)
from ._v1 import CgroupNotFound as CgroupNotFound, read_v1_metrics as read_v1_metrics
from ._v2 import read_v2_metrics as read_v2_metrics

__all__ = [
    "CGROUP_ROOT",
    "LINUX_RESOURCES_TYPE_URL",
    "MAX_UINT64",
    "V1_METRICS_TYPE_URL",
    "V2_METRICS_TYPE_URL",
    "CgroupFormatError",
    "CgroupNotFound",
    "CgroupPathError",
    "MetricsTypeError",
    "OOMWatchError",
    "OOMWatcher",
    "ResourcesError",
    "RuncUpdate",
    "cgroup_path_from_spec",
    "expand_slice",
    "is_unified",
    "metrics_any",
    "metrics_from_any",
    "own_cgroup",
    "parse_blkio",
    "parse_flat_keyed",
    "parse_linux_resources",
    "parse_nested_keyed",
    "parse_uint",
    "parse_uint_list",
    "read_v1_metrics",
    "read_v2_metrics",
    "runc_update",
    "systemd_cgroup_path",
    "v1_controller_dir",
    "v2_dir",
]
