"""``Update``'s resources: the runtime-spec ``LinuxResources`` JSON, checked, as ``runc update`` input.

containerd (and CRI) sends the resources as an ``Any`` whose type URL is
``types.containerd.io/opencontainers/runtime-spec/1/LinuxResources`` and whose
value is JSON. Known keys are checked against the runtime-spec types (a
wrong type or an out-of-range number is one error naming the key's path);
unknown keys pass through, as Go's decoder in runc ignores them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from ..._jsonvalue import is_array, is_object

if TYPE_CHECKING:
    from google.protobuf.any_pb2 import Any

__all__ = [
    "LINUX_RESOURCES_TYPE_URL",
    "ResourcesError",
    "RuncUpdate",
    "parse_linux_resources",
    "runc_update",
]

LINUX_RESOURCES_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"

_Schema = Union[str, "dict[str, _Schema]", "list[_Schema]", "tuple[str, _Schema]"]

_RANGES = {
    "int64": (-(1 << 63), (1 << 63) - 1),
    "uint64": (0, (1 << 64) - 1),
    "uint32": (0, (1 << 32) - 1),
    "uint16": (0, (1 << 16) - 1),
}
_WEIGHT_DEVICE: _Schema = {"major": "int64", "minor": "int64", "weight": "uint16", "leafWeight": "uint16"}
_THROTTLE_DEVICE: _Schema = {"major": "int64", "minor": "int64", "rate": "uint64"}
# The runtime-spec 1.0/1.1 LinuxResources, key by key.
LINUX_RESOURCES: _Schema = {
    "devices": [{"allow": "bool", "type": "string", "major": "int64", "minor": "int64", "access": "string"}],
    "memory": {
        "limit": "int64", "reservation": "int64", "swap": "int64", "kernel": "int64", "kernelTCP": "int64",
        "swappiness": "uint64", "disableOOMKiller": "bool", "useHierarchy": "bool",
        "checkBeforeUpdate": "bool",
    },
    "cpu": {
        "shares": "uint64", "quota": "int64", "burst": "uint64", "period": "uint64",
        "realtimeRuntime": "int64", "realtimePeriod": "uint64", "cpus": "string", "mems": "string",
        "idle": "int64",
    },
    "pids": {"limit": "int64"},
    "blockIO": {
        "weight": "uint16", "leafWeight": "uint16", "weightDevice": [_WEIGHT_DEVICE],
        "throttleReadBpsDevice": [_THROTTLE_DEVICE], "throttleWriteBpsDevice": [_THROTTLE_DEVICE],
        "throttleReadIOPSDevice": [_THROTTLE_DEVICE], "throttleWriteIOPSDevice": [_THROTTLE_DEVICE],
    },
    "hugepageLimits": [{"pageSize": "string", "limit": "uint64"}],
    "network": {"classID": "uint32", "priorities": [{"name": "string", "priority": "uint32"}]},
    "rdma": ("map", {"hcaHandles": "uint32", "hcaObjects": "uint32"}),
    "unified": ("map", "string"),
}


class ResourcesError(ValueError):
    """Resources that ``runc update`` cannot take; the message names the key."""


def _check(value: object, schema: _Schema, where: str) -> None:
    if value is None:  # JSON null: Go leaves the field unset
        return
    if isinstance(schema, str):
        if schema == "bool":
            ok = isinstance(value, bool)
        elif schema == "string":
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, int) and not isinstance(value, bool)
            if ok:
                low, high = _RANGES[schema]
                assert isinstance(value, int)
                if not low <= value <= high:
                    raise ResourcesError(f"{where}: {value} is out of range for {schema}")
        if not ok:
            raise ResourcesError(f"{where}: expected {schema}, got {type(value).__name__} {json.dumps(value)[:40]}")
    elif isinstance(schema, list):
        if not is_array(value):
            raise ResourcesError(f"{where}: expected a list, got {type(value).__name__}")
        for i, item in enumerate(value):
            _check(item, schema[0], f"{where}[{i}]")
    elif isinstance(schema, tuple):
        if not is_object(value):
            raise ResourcesError(f"{where}: expected an object, got {type(value).__name__}")
        for key, item in value.items():
            _check(item, schema[1], f"{where}.{key}")
    else:
        if not is_object(value):
            raise ResourcesError(f"{where}: expected an object, got {type(value).__name__}")
        for key, item in value.items():
            sub = schema.get(key)
            if sub is not None:
                _check(item, sub, f"{where}.{key}" if where else key)


def parse_linux_resources(value: Any | bytes) -> dict[str, object]:
    """The checked ``LinuxResources`` object of an ``Any`` (or of raw JSON bytes)."""
    if isinstance(value, bytes):
        data = value
    else:
        name = value.type_url.removeprefix("type.googleapis.com/")
        if name != LINUX_RESOURCES_TYPE_URL:
            raise ResourcesError(f"resources: type URL {value.type_url!r}, expected {LINUX_RESOURCES_TYPE_URL!r}")
        data = value.value
    try:
        parsed: object = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ResourcesError(f"resources: not JSON: {e}") from None
    if not is_object(parsed):
        raise ResourcesError(f"resources: expected a JSON object, got {type(parsed).__name__}")
    _check(parsed, LINUX_RESOURCES, "")
    return parsed


@dataclass(frozen=True)
class RuncUpdate:
    """``runc [global flags] update --resources - <id>``: arguments after the global flags, and stdin."""

    args: tuple[str, ...]
    stdin: bytes


def runc_update(container_id: str, resources: Mapping[str, object] | Any | bytes) -> RuncUpdate:
    """The ``runc update`` call that applies ``resources`` to ``container_id``."""
    if not isinstance(resources, Mapping):
        resources = parse_linux_resources(resources)
    else:
        _check(dict(resources), LINUX_RESOURCES, "")
    body = json.dumps(resources, separators=(",", ":")).encode()
    return RuncUpdate(("update", "--resources", "-", container_id), body)
