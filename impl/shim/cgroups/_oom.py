"""OOM notifications for containers' cgroups, delivered in the event loop.

v1: the memory controller's notifier — an eventfd registered with
``cgroup.event_control`` against ``memory.oom_control``; the kernel signals it
on every OOM in the cgroup and once more when the cgroup is removed (then
the watch ends). v2: inotify on ``memory.events``, reporting an OOM when its
``oom_kill`` counter grows (as containerd's v2 watcher does).
"""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ._parse import parse_flat_keyed

__all__ = ["OOMWatchError", "OOMWatcher"]

_IN_MODIFY = 0x2
_IN_IGNORED = 0x8000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")


class OOMWatchError(OSError):
    """A cgroup could not be watched (the cgroup and the step are named)."""


@dataclass
class _V2Watch:
    container_id: str
    events_path: str
    oom_kills: int


def _oom_kills(path: str) -> int:
    with open(path) as f:
        return parse_flat_keyed(path, f.read()).get("oom_kill", 0)


class _Inotify:
    def __init__(self) -> None:
        import ctypes  # only cgroup v2 needs it

        self._get_errno = ctypes.get_errno
        self._libc = ctypes.CDLL(None, use_errno=True)
        fd = self._libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            raise OOMWatchError(ctypes.get_errno(), "inotify_init1 failed")
        self.fd: int = fd

    def add(self, path: str) -> int:
        wd: int = self._libc.inotify_add_watch(self.fd, os.fsencode(path), _IN_MODIFY)
        if wd < 0:
            errno = self._get_errno()
            raise OOMWatchError(errno, f"inotify_add_watch {path}: {os.strerror(errno)}")
        return wd

    def remove(self, wd: int) -> None:
        self._libc.inotify_rm_watch(self.fd, wd)

    def read(self) -> list[tuple[int, int]]:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out: list[tuple[int, int]] = []
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, mask, _, length = _EVENT.unpack_from(data, offset)
            out.append((wd, mask))
            offset += _EVENT.size + length
        return out


class OOMWatcher:
    """Calls ``on_oom(container_id)`` for each OOM kill in a watched cgroup.

    Create it in the event loop that should deliver the callbacks; ``close``
    releases every fd.
    """

    def __init__(self, on_oom: Callable[[str], None]) -> None:
        self._on_oom = on_oom
        self._loop = asyncio.get_running_loop()
        self._v1: dict[str, tuple[int, str]] = {}  # container id -> (eventfd, memory dir)
        self._inotify: _Inotify | None = None
        self._v2: dict[int, _V2Watch] = {}

    def watch_v1(self, container_id: str, memory_dir: str) -> None:
        """Watch the v1 memory cgroup at ``memory_dir``."""
        self.unwatch(container_id)
        efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            control = os.open(os.path.join(memory_dir, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
            try:
                with open(os.path.join(memory_dir, "cgroup.event_control"), "w") as f:
                    f.write(f"{efd} {control}")
            finally:
                os.close(control)  # the kernel holds its own reference
        except OSError as e:
            os.close(efd)
            raise OOMWatchError(e.errno, f"OOM notifier for {container_id!r} at {memory_dir}: {e.strerror}") from e
        self._v1[container_id] = (efd, memory_dir)
        self._loop.add_reader(efd, self._on_eventfd, container_id)

    def _on_eventfd(self, container_id: str) -> None:
        efd, memory_dir = self._v1[container_id]
        try:
            os.eventfd_read(efd)
        except BlockingIOError:
            return
        if not os.path.isdir(memory_dir):  # the cgroup was removed: the last notification
            self.unwatch(container_id)
            return
        self._on_oom(container_id)

    def watch_v2(self, container_id: str, directory: str) -> None:
        """Watch the unified cgroup at ``directory`` (its ``memory.events``)."""
        self.unwatch(container_id)
        events = os.path.join(directory, "memory.events")
        if self._inotify is None:
            self._inotify = _Inotify()
            self._loop.add_reader(self._inotify.fd, self._on_inotify)
        try:
            wd = self._inotify.add(events)
            kills = _oom_kills(events)
        except OSError as e:
            raise OOMWatchError(e.errno, f"OOM watch for {container_id!r} at {events}: {e.strerror}") from e
        self._v2[wd] = _V2Watch(container_id, events, kills)

    def _on_inotify(self) -> None:
        assert self._inotify is not None
        for wd, mask in self._inotify.read():
            watch = self._v2.get(wd)
            if watch is None:
                continue
            if mask & _IN_IGNORED:  # file removed with its cgroup
                del self._v2[wd]
                continue
            try:
                kills = _oom_kills(watch.events_path)
            except (OSError, ValueError):
                continue
            if kills > watch.oom_kills:
                watch.oom_kills = kills
                self._on_oom(watch.container_id)

    @property
    def watched(self) -> frozenset[str]:
        """The container ids being watched."""
        return frozenset(self._v1) | {w.container_id for w in self._v2.values()}

    def unwatch(self, container_id: str) -> None:
        """Stop watching ``container_id`` (nothing if it is not watched)."""
        v1 = self._v1.pop(container_id, None)
        if v1 is not None:
            self._loop.remove_reader(v1[0])
            os.close(v1[0])
        for wd, watch in list(self._v2.items()):
            if watch.container_id == container_id:
                del self._v2[wd]
                if self._inotify is not None:
                    self._inotify.remove(wd)

    def close(self) -> None:
        """Stop every watch and release the fds."""
        for container_id in list(self._v1):
            self.unwatch(container_id)
        self._v2.clear()
        if self._inotify is not None:
            self._loop.remove_reader(self._inotify.fd)
            os.close(self._inotify.fd)
            self._inotify = None
