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

# Names resolve on first use: a shim that never reads stats or watches OOMs
# never imports their modules (protobuf messages, ctypes). mypy treats this
# name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
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

_LAZY = {
    "V1_METRICS_TYPE_URL": "._metrics",
    "V2_METRICS_TYPE_URL": "._metrics",
    "MetricsTypeError": "._metrics",
    "metrics_any": "._metrics",
    "metrics_from_any": "._metrics",
    "OOMWatcher": "._oom",
    "OOMWatchError": "._oom",
    "MAX_UINT64": "._parse",
    "CgroupFormatError": "._parse",
    "parse_blkio": "._parse",
    "parse_flat_keyed": "._parse",
    "parse_nested_keyed": "._parse",
    "parse_uint": "._parse",
    "parse_uint_list": "._parse",
    "CGROUP_ROOT": "._path",
    "CgroupPathError": "._path",
    "cgroup_path_from_spec": "._path",
    "expand_slice": "._path",
    "is_unified": "._path",
    "own_cgroup": "._path",
    "systemd_cgroup_path": "._path",
    "v1_controller_dir": "._path",
    "v2_dir": "._path",
    "LINUX_RESOURCES_TYPE_URL": "._resources",
    "ResourcesError": "._resources",
    "RuncUpdate": "._resources",
    "parse_linux_resources": "._resources",
    "runc_update": "._resources",
    "CgroupNotFound": "._v1",
    "read_v1_metrics": "._v1",
    "read_v2_metrics": "._v2",
}

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


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'impl.shim.cgroups' has no attribute {name!r}")
    value: object = getattr(__import__(module[1:], globals(), level=1, fromlist=(name,)), name)
    globals()[name] = value
    return value
