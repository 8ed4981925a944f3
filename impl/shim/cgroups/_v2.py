"""cgroup v2 statistics of one cgroup directory, read as containerd's cgroup2 package reads them.

CRI reads ``cpu.usage_usec``, ``memory.usage`` / ``usage_limit`` /
``inactive_file`` / ``anon`` / ``pgfault`` / ``pgmajfault`` and
``pids.current``. ``max`` limits are 2**64-1, as containerd reports them.
"""

from __future__ import annotations

import os

from shimtypes.pb import cgroups_v2_metrics_pb2 as v2

from ._parse import parse_flat_keyed, parse_nested_keyed, parse_uint, read_control_file
from ._v1 import CgroupNotFound

__all__ = ["read_v2_metrics"]

_MEMORY_STAT_FIELDS = frozenset(v2.MemoryStat.DESCRIPTOR.fields_by_name) - {
    "usage", "usage_limit", "swap_usage", "swap_limit",
}
_CPU_FIELDS = frozenset(v2.CPUStat.DESCRIPTOR.fields_by_name)
_EVENT_FIELDS = frozenset(v2.MemoryEvents.DESCRIPTOR.fields_by_name)


def _read(directory: str, name: str) -> tuple[str, str] | None:
    path = f"{directory}/{name}"
    text = read_control_file(path)
    return None if text is None else (path, text)


def _uint(directory: str, name: str) -> int | None:
    found = _read(directory, name)
    return None if found is None else parse_uint(*found)


def _flat(directory: str, name: str) -> dict[str, int]:
    found = _read(directory, name)
    return {} if found is None else parse_flat_keyed(*found)


def read_v2_metrics(directory: str) -> v2.Metrics:
    """Metrics of the cgroup at ``directory`` (a path in the unified hierarchy)."""
    if not os.path.isdir(directory):
        raise CgroupNotFound(f"cgroup {directory!r} does not exist")
    metrics = v2.Metrics()

    current = _uint(directory, "pids.current")
    if current is not None:
        metrics.pids.current = current
        limit = _read(directory, "pids.max")
        if limit is not None and limit[1].strip() != "max":
            metrics.pids.limit = parse_uint(*limit)

    for key, value in _flat(directory, "cpu.stat").items():
        if key in _CPU_FIELDS:
            setattr(metrics.cpu, key, value)

    memory = metrics.memory
    for key, value in _flat(directory, "memory.stat").items():
        if key in _MEMORY_STAT_FIELDS:
            setattr(memory, key, value)
    for field, name in (("usage", "memory.current"), ("usage_limit", "memory.max"),
                        ("swap_usage", "memory.swap.current"), ("swap_limit", "memory.swap.max")):
        found = _uint(directory, name)
        if found is not None:
            setattr(memory, field, found)

    events = _flat(directory, "memory.events")
    for key, value in events.items():
        if key in _EVENT_FIELDS:
            setattr(metrics.memory_events, key, value)

    io = _read(directory, "io.stat")
    if io is not None:
        for major, minor, fields in parse_nested_keyed(*io):
            metrics.io.usage.add(
                major=major, minor=minor,
                rbytes=fields.get("rbytes", 0), wbytes=fields.get("wbytes", 0),
                rios=fields.get("rios", 0), wios=fields.get("wios", 0),
            )

    sizes = sorted({name.split(".")[1] for name in os.listdir(directory)
                    if name.startswith("hugetlb.") and name.endswith(".current")})
    for size in sizes:
        metrics.hugetlb.add(
            pagesize=size,
            current=_uint(directory, f"hugetlb.{size}.current") or 0,
            max=_uint(directory, f"hugetlb.{size}.max") or 0,
        )
    return metrics
