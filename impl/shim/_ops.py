"""What a runtime implements: how to create, start, signal and delete a process.

The SDK's task service (``ProcessTaskService``) does the rest of the task
API around a ``ProcessOps``: process bookkeeping, states, exit matching,
``Wait``, stdio, rootfs mounts, events, and error codes. The optional
protocols add calls a runtime may support; without them the service answers
``NotImplemented`` (UNIMPLEMENTED), as containerd expects.

Errors: raise ``impl.errdefs`` kinds (``NotFound``, ``InvalidArgument``,
``FailedPrecondition``...); anything else reaches the client as UNKNOWN with
its message.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from google.protobuf.any_pb2 import Any as AnyPB

    from ._stdio import ProcessIO

__all__ = [
    "Process",
    "ProcessOps",
    "ProcessState",
    "SupportsPause",
    "SupportsPids",
    "SupportsStats",
    "SupportsTerminal",
    "SupportsUpdate",
    "SupportsExited",
]


class ProcessState(enum.IntEnum):
    """A process's state, numbered as containerd's ``Status`` (``containerd.v1.types``)."""

    UNKNOWN = 0
    CREATED = 1
    RUNNING = 2
    STOPPED = 3
    PAUSED = 4
    PAUSING = 5


class Process:
    """The task service's record of one process: the init process (``exec_id`` "") or an exec.

    Runtimes read it; the service alone changes it. ``pid`` is 0 until
    the runtime's ``create``/``exec`` returned it.
    """

    def __init__(
        self,
        container_id: str,
        exec_id: str,
        bundle: str,
        *,
        stdin: str = "",
        stdout: str = "",
        stderr: str = "",
        terminal: bool = False,
        spec: bytes = b"",
        options: tuple[str, bytes] | None = None,
    ) -> None:
        self.container_id = container_id
        """The task's id (containerd's container id)."""
        self.exec_id = exec_id
        """"" for the init process."""
        self.bundle = bundle
        """The bundle directory (``config.json``, ``rootfs``)."""
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.terminal = terminal
        self.spec = spec
        """An exec's OCI process spec (JSON, as containerd sent it); empty for init."""
        self.options = options
        """The runtime options as ``(type_url, value)``: Create's, else those ``start`` got; ``None`` without any."""
        self.pid = 0
        self.state = ProcessState.CREATED
        self.exit_status = 0
        self.exited_at: float | None = None
        """Wall-clock time of the exit (``time.time()``), once stopped."""
        self.io: ProcessIO | None = None
        """Its I/O once opened (at create for init, at start for an exec)."""

    @property
    def id(self) -> str:
        """The id events and ``State`` use: the exec id, or the container id for init."""
        return self.exec_id or self.container_id

    @property
    def is_init(self) -> bool:
        return not self.exec_id

    def __repr__(self) -> str:
        return f"Process({self.id!r}, pid={self.pid}, state={self.state.name})"


@runtime_checkable
class ProcessOps(Protocol):
    """The runtime: process operations the SDK's task service calls.

    Exits are not reported through these methods: the service reaps every
    child of the shim (it is a subreaper) and matches exits to pids, so a
    runtime returns the pid and never waits for the process itself. An exit
    that comes before ``create``/``exec`` returned is kept until the pid is
    known; one during ``start`` is published after ``TaskStart``.
    """

    async def create(self, process: Process, io: ProcessIO, /) -> int:
        """Create the init process from ``process.bundle`` (not running user code yet); its pid.

        ``io.fds`` are its stdin, stdout and stderr; the rootfs is mounted.
        """
        ...

    async def start(self, process: Process, /) -> None:
        """Start the created init process."""
        ...

    async def exec(self, process: Process, io: ProcessIO, /) -> int:
        """Create and start an exec process from ``process.spec``; its pid."""
        ...

    async def kill(self, process: Process, signal: int, all: bool, /) -> None:
        """Send ``signal`` (to every process of the container with ``all``).

        Raise ``errdefs.NotFound`` when the process is already gone. With
        ``all`` it is called for a stopped init process too (processes may
        remain in the container). The process's exit is reported only after
        this returns.
        """
        ...

    async def delete(self, process: Process, /) -> None:
        """Release what the runtime holds for a process that has stopped or never started.

        For an init process still in the created state, this must also make it
        exit (its exit then arrives as usual).
        """
        ...


@runtime_checkable
class SupportsPids(Protocol):
    """``Pids``: every pid in the container (default: the init process's alone)."""

    async def pids(self, init: Process, /) -> list[int]:
        """Every pid of the container's processes."""
        ...


@runtime_checkable
class SupportsPause(Protocol):
    """``Pause``/``Resume`` of the whole container."""

    async def pause(self, init: Process, /) -> None:
        """Freeze every process of the container."""
        ...

    async def resume(self, init: Process, /) -> None:
        """Thaw the paused container."""
        ...


@runtime_checkable
class SupportsExited(Protocol):
    """Work when a process has exited, before its ``TaskExit`` is published.

    The Go runc shim's use: an init process without its own pid namespace
    leaves its children running, so they are killed here (``runc kill --all``).
    Errors are logged, never raised to the exit path.
    """

    async def exited(self, process: Process, /) -> None: ...


@runtime_checkable
class SupportsUpdate(Protocol):
    """``Update``: new resources (an ``Any``, runtime-specific) and annotations."""

    async def update(self, init: Process, resources: AnyPB, annotations: Mapping[str, str], /) -> None:
        """Apply new resources (runtime-specific ``Any``) and annotations."""
        ...


@runtime_checkable
class SupportsStats(Protocol):
    """``Stats``: the container's metrics, packed in an ``Any`` (e.g. cgroups ``Metrics``)."""

    async def stats(self, init: Process, /) -> AnyPB:
        """The container's metrics in an ``Any``."""
        ...


@runtime_checkable
class SupportsTerminal(Protocol):
    """Terminals: the ``ProcessIO`` of a process created with ``terminal`` (a console).

    Return a ``ConsoleIO`` to have ``ResizePty`` reach it. Without this
    protocol, ``Create``/``Exec`` with ``terminal`` set answer UNIMPLEMENTED.
    """

    def open_terminal(self, process: Process, /) -> ProcessIO:
        """A console for ``process`` (before ``create``/``exec``); the runtime wires its other end."""
        ...
