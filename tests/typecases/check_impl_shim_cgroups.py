"""impl.shim.cgroups and the console: callbacks, metrics and console I/O are typed; misuse is rejected."""
# requires: impl.shim

from google.protobuf.any_pb2 import Any as AnyPB

from impl.shim import ConsoleIO, Stdio, TerminalIO
from impl.shim.cgroups import OOMWatcher, RuncUpdate, metrics_any, read_v1_metrics, read_v2_metrics, runc_update
from shimtypes.pb import cgroups_v1_metrics_pb2 as v1
from shimtypes.pb import task_pb2


def expects_console(io: ConsoleIO) -> None: ...
def expects_any(value: AnyPB) -> None: ...
def expects_v1(metrics: v1.Metrics) -> None: ...
def expects_update(update: RuncUpdate) -> None: ...
def expects_text(text: str) -> None: ...


def on_oom(container_id: str) -> None: ...
def on_oom_pid(pid: int) -> None: ...


def uses(terminal: TerminalIO, stdio: Stdio) -> None:
    expects_console(terminal)
    expects_console(stdio)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    expects_any(metrics_any(read_v1_metrics("/c")))
    expects_any(metrics_any(read_v2_metrics("/sys/fs/cgroup/c")))
    expects_any(metrics_any(task_pb2.StateResponse()))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    expects_v1(read_v1_metrics("/c"))
    expects_v1(read_v2_metrics("/c"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    expects_update(runc_update("c", b"{}"))
    expects_text(runc_update("c", {"pids": {"limit": 5}}).stdin)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def watchers() -> None:
    OOMWatcher(on_oom)
    OOMWatcher(on_oom_pid)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
