"""cgroup v1 statistics of one cgroup, read as containerd's cgroups package reads them.

Each controller lives in its own hierarchy (``<root>/<controller>/<path>``);
a controller that is not mounted or has no such cgroup leaves its part of
``Metrics`` unset. CRI reads cpu usage, memory usage, ``total_inactive_file``
(the working set is usage minus it), rss and page faults.
"""

from __future__ import annotations

import os

from shimtypes.pb import cgroups_v1_metrics_pb2 as v1

from ._parse import parse_blkio, parse_flat_keyed, parse_uint, parse_uint_list, read_control_file
from ._path import CGROUP_ROOT, v1_controller_dir

__all__ = ["CgroupNotFound", "read_v1_metrics"]

# cpuacct.stat counts in USER_HZ ticks; containerd converts them to nanoseconds.
_NS_PER_TICK = 1_000_000_000 // os.sysconf("SC_CLK_TCK")

_MEMORY_STAT_FIELDS = {
    "cache": "cache",
    "rss": "rss",
    "rss_huge": "rss_huge",
    "mapped_file": "mapped_file",
    "dirty": "dirty",
    "writeback": "writeback",
    "pgpgin": "pg_pg_in",
    "pgpgout": "pg_pg_out",
    "pgfault": "pg_fault",
    "pgmajfault": "pg_maj_fault",
    "inactive_anon": "inactive_anon",
    "active_anon": "active_anon",
    "inactive_file": "inactive_file",
    "active_file": "active_file",
    "unevictable": "unevictable",
    "hierarchical_memory_limit": "hierarchical_memory_limit",
    "hierarchical_memsw_limit": "hierarchical_swap_limit",
}
_MEMORY_STAT_FIELDS.update(
    {f"total_{k}": f"total_{v}" for k, v in list(_MEMORY_STAT_FIELDS.items()) if not k.startswith("hier")}
)

_BLKIO_FILES = (
    ("io_service_bytes_recursive", "blkio.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive"),
    ("io_serviced_recursive", "blkio.io_serviced_recursive", "blkio.throttle.io_serviced_recursive"),
    ("io_queued_recursive", "blkio.io_queued_recursive", ""),
    ("io_service_time_recursive", "blkio.io_service_time_recursive", ""),
    ("io_wait_time_recursive", "blkio.io_wait_time_recursive", ""),
    ("io_merged_recursive", "blkio.io_merged_recursive", ""),
    ("io_time_recursive", "blkio.time_recursive", ""),
    ("sectors_recursive", "blkio.sectors_recursive", ""),
)


class CgroupNotFound(LookupError):
    """No controller has the cgroup (the container is gone, or the path is wrong)."""


def _read(directory: str, name: str) -> str | None:
    return read_control_file(f"{directory}/{name}")


def _uint(directory: str, name: str) -> int | None:
    text = _read(directory, name)
    return None if text is None else parse_uint(os.path.join(directory, name), text)


def _cpu(metrics: v1.Metrics, cpuacct: str, cpu: str) -> bool:
    found = False
    usage = metrics.cpu.usage
    if os.path.isdir(cpuacct):
        found = True
        usage.total = _uint(cpuacct, "cpuacct.usage") or 0
        per_cpu = _read(cpuacct, "cpuacct.usage_percpu")
        if per_cpu is not None:
            usage.per_cpu.extend(parse_uint_list(os.path.join(cpuacct, "cpuacct.usage_percpu"), per_cpu))
        stat = _read(cpuacct, "cpuacct.stat")
        if stat is not None:
            ticks = parse_flat_keyed(os.path.join(cpuacct, "cpuacct.stat"), stat)
            usage.user = ticks.get("user", 0) * _NS_PER_TICK
            usage.kernel = ticks.get("system", 0) * _NS_PER_TICK
    if os.path.isdir(cpu):
        found = True
        stat = _read(cpu, "cpu.stat")
        if stat is not None:
            values = parse_flat_keyed(os.path.join(cpu, "cpu.stat"), stat)
            throttling = metrics.cpu.throttling
            throttling.periods = values.get("nr_periods", 0)
            throttling.throttled_periods = values.get("nr_throttled", 0)
            throttling.throttled_time = values.get("throttled_time", 0)
    return found


def _memory_entry(entry: v1.MemoryEntry, directory: str, prefix: str) -> None:
    for field, suffix in (("usage", "usage_in_bytes"), ("limit", "limit_in_bytes"),
                          ("max", "max_usage_in_bytes"), ("failcnt", "failcnt")):
        value = _uint(directory, f"{prefix}{suffix}")
        if value is not None:
            setattr(entry, field, value)


def _memory(metrics: v1.Metrics, directory: str) -> bool:
    if not os.path.isdir(directory):
        return False
    memory = metrics.memory
    stat = _read(directory, "memory.stat")
    if stat is not None:
        for key, value in parse_flat_keyed(os.path.join(directory, "memory.stat"), stat).items():
            field = _MEMORY_STAT_FIELDS.get(key)
            if field is not None:
                setattr(memory, field, value)
    _memory_entry(memory.usage, directory, "memory.")
    _memory_entry(memory.swap, directory, "memory.memsw.")
    _memory_entry(memory.kernel, directory, "memory.kmem.")
    _memory_entry(memory.kernel_tcp, directory, "memory.kmem.tcp.")
    oom = _read(directory, "memory.oom_control")
    if oom is not None:
        values = parse_flat_keyed(os.path.join(directory, "memory.oom_control"), oom)
        control = metrics.memory_oom_control
        control.oom_kill_disable = values.get("oom_kill_disable", 0)
        control.under_oom = values.get("under_oom", 0)
        control.oom_kill = values.get("oom_kill", 0)
    return True


def _pids(metrics: v1.Metrics, directory: str) -> bool:
    if not os.path.isdir(directory):
        return False
    metrics.pids.current = _uint(directory, "pids.current") or 0
    limit = _read(directory, "pids.max")
    # "max" (no limit) is reported as 0, as containerd does.
    if limit is not None and limit.strip() != "max":
        metrics.pids.limit = parse_uint(os.path.join(directory, "pids.max"), limit)
    return True


def _blkio(metrics: v1.Metrics, directory: str) -> bool:
    if not os.path.isdir(directory):
        return False
    blkio = metrics.blkio
    # The CFQ files exist together or not at all (not with blk-mq schedulers).
    cfq = os.path.exists(os.path.join(directory, _BLKIO_FILES[0][1]))
    for field, name, fallback in _BLKIO_FILES:
        if not cfq:
            name = ""
        entries: list[tuple[int, int, str, int]] = []
        for candidate in (name, fallback):
            text = _read(directory, candidate) if candidate else None
            if text:
                entries = parse_blkio(os.path.join(directory, candidate), text)
                if entries:
                    break
        getattr(blkio, field).extend(
            v1.BlkIOEntry(op=op, major=major, minor=minor, value=value) for major, minor, op, value in entries
        )
    return True


def read_v1_metrics(
    path: str, *, root: str = CGROUP_ROOT, proc_cgroup: str = "/proc/self/cgroup"
) -> v1.Metrics:
    """Metrics of cgroup ``path`` (absolute, or relative to this process's cgroups)."""
    def where(controller: str) -> str:
        return v1_controller_dir(path, controller, root=root, proc_cgroup=proc_cgroup)

    metrics = v1.Metrics()
    found = _cpu(metrics, where("cpuacct"), where("cpu"))
    found = _memory(metrics, where("memory")) or found
    found = _pids(metrics, where("pids")) or found
    found = _blkio(metrics, where("blkio")) or found
    if not found:
        raise CgroupNotFound(f"cgroup {path!r}: in no v1 controller under {root}")
    return metrics
