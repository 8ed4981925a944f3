"""shimtypes: the typed surface for containerd-style plugins and shim v2 runtimes.

Types only: protocols that plugin instances satisfy structurally, plugin type
constants, and the protobuf messages of the APIs they speak. The messages are
imported on first use, so that a shim's short-lived ``start`` path does not
pay for protobuf.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._plugin_types import (
    ALL_PLUGIN_TYPES as ALL_PLUGIN_TYPES,
    CONTENT_PLUGIN as CONTENT_PLUGIN,
    DIFF_PLUGIN as DIFF_PLUGIN,
    EVENT_PLUGIN as EVENT_PLUGIN,
    GC_PLUGIN as GC_PLUGIN,
    GRPC_PLUGIN as GRPC_PLUGIN,
    INTERNAL_PLUGIN as INTERNAL_PLUGIN,
    METADATA_PLUGIN as METADATA_PLUGIN,
    PluginType as PluginType,
    RUNTIME_LINUX_V1 as RUNTIME_LINUX_V1,
    RUNTIME_PLUGIN as RUNTIME_PLUGIN,
    RUNTIME_PLUGIN_V2 as RUNTIME_PLUGIN_V2,
    RUNTIME_RUNC_V1 as RUNTIME_RUNC_V1,
    RUNTIME_RUNC_V2 as RUNTIME_RUNC_V2,
    SERVICE_PLUGIN as SERVICE_PLUGIN,
    SNAPSHOT_PLUGIN as SNAPSHOT_PLUGIN,
    TASK_MONITOR_PLUGIN as TASK_MONITOR_PLUGIN,
    TRACING_PROCESSOR_PLUGIN as TRACING_PROCESSOR_PLUGIN,
    TTRPC_PLUGIN as TTRPC_PLUGIN,
    WILDCARD as WILDCARD,
)
from ._servers import (
    GRPCServer as GRPCServer,
    PeerCredentials as PeerCredentials,
    TTRPCMethod as TTRPCMethod,
    TTRPCMethodContext as TTRPCMethodContext,
    TTRPCServer as TTRPCServer,
)
from ._services import (
    GRPCService as GRPCService,
    TCPService as TCPService,
    TTRPCService as TTRPCService,
)
from ._task import (
    EVENTS_SERVICE_NAME as EVENTS_SERVICE_NAME,
    TASK_SERVICE_NAME as TASK_SERVICE_NAME,
    TaskService as TaskService,
)
from ._shim import (
    Init as Init,
    Publisher as Publisher,
    Shim as Shim,
    ShimContext as ShimContext,
    StartOpts as StartOpts,
)
from ._cri import (
    CRIService as CRIService,
)

if TYPE_CHECKING:
    from .pb.task_pb2 import CreateTaskRequest as CreateTaskRequest
    from .pb.task_pb2 import CreateTaskResponse as CreateTaskResponse
    from .pb.task_pb2 import DeleteRequest as DeleteRequest
    from .pb.task_pb2 import DeleteResponse as DeleteResponse
    from .pb.task_pb2 import ExecProcessRequest as ExecProcessRequest
    from .pb.task_pb2 import ExecProcessResponse as ExecProcessResponse
    from .pb.task_pb2 import ResizePtyRequest as ResizePtyRequest
    from .pb.task_pb2 import StateRequest as StateRequest
    from .pb.task_pb2 import StateResponse as StateResponse
    from .pb.task_pb2 import KillRequest as KillRequest
    from .pb.task_pb2 import CloseIORequest as CloseIORequest
    from .pb.task_pb2 import PidsRequest as PidsRequest
    from .pb.task_pb2 import PidsResponse as PidsResponse
    from .pb.task_pb2 import CheckpointTaskRequest as CheckpointTaskRequest
    from .pb.task_pb2 import UpdateTaskRequest as UpdateTaskRequest
    from .pb.task_pb2 import StartRequest as StartRequest
    from .pb.task_pb2 import StartResponse as StartResponse
    from .pb.task_pb2 import WaitRequest as WaitRequest
    from .pb.task_pb2 import WaitResponse as WaitResponse
    from .pb.task_pb2 import StatsRequest as StatsRequest
    from .pb.task_pb2 import StatsResponse as StatsResponse
    from .pb.task_pb2 import ConnectRequest as ConnectRequest
    from .pb.task_pb2 import ConnectResponse as ConnectResponse
    from .pb.task_pb2 import ShutdownRequest as ShutdownRequest
    from .pb.task_pb2 import PauseRequest as PauseRequest
    from .pb.task_pb2 import ResumeRequest as ResumeRequest
    from .pb.mount_pb2 import Mount as Mount
    from .pb.task_types_pb2 import Status as TaskStatus
    from .pb.task_types_pb2 import ProcessInfo as ProcessInfo
    from .pb.task_events_pb2 import TaskCreate as TaskCreate
    from .pb.task_events_pb2 import TaskStart as TaskStart
    from .pb.task_events_pb2 import TaskDelete as TaskDelete
    from .pb.task_events_pb2 import TaskIO as TaskIO
    from .pb.task_events_pb2 import TaskExit as TaskExit
    from .pb.task_events_pb2 import TaskOOM as TaskOOM
    from .pb.task_events_pb2 import TaskExecAdded as TaskExecAdded
    from .pb.task_events_pb2 import TaskExecStarted as TaskExecStarted
    from .pb.task_events_pb2 import TaskPaused as TaskPaused
    from .pb.task_events_pb2 import TaskResumed as TaskResumed
    from .pb.task_events_pb2 import TaskCheckpointed as TaskCheckpointed
    from .pb.events_pb2 import Envelope as Envelope
    from .pb.events_pb2 import ForwardRequest as ForwardRequest
    from .pb.ttrpc_pb2 import Request as TTRPCRequest
    from .pb.ttrpc_pb2 import Response as TTRPCResponse
    from .pb.ttrpc_pb2 import KeyValue as TTRPCKeyValue
    from .pb.ttrpc_pb2 import Status as TTRPCStatus

_LAZY: dict[str, tuple[str, str]] = {
    "CreateTaskRequest": ("task_pb2", "CreateTaskRequest"),
    "CreateTaskResponse": ("task_pb2", "CreateTaskResponse"),
    "DeleteRequest": ("task_pb2", "DeleteRequest"),
    "DeleteResponse": ("task_pb2", "DeleteResponse"),
    "ExecProcessRequest": ("task_pb2", "ExecProcessRequest"),
    "ExecProcessResponse": ("task_pb2", "ExecProcessResponse"),
    "ResizePtyRequest": ("task_pb2", "ResizePtyRequest"),
    "StateRequest": ("task_pb2", "StateRequest"),
    "StateResponse": ("task_pb2", "StateResponse"),
    "KillRequest": ("task_pb2", "KillRequest"),
    "CloseIORequest": ("task_pb2", "CloseIORequest"),
    "PidsRequest": ("task_pb2", "PidsRequest"),
    "PidsResponse": ("task_pb2", "PidsResponse"),
    "CheckpointTaskRequest": ("task_pb2", "CheckpointTaskRequest"),
    "UpdateTaskRequest": ("task_pb2", "UpdateTaskRequest"),
    "StartRequest": ("task_pb2", "StartRequest"),
    "StartResponse": ("task_pb2", "StartResponse"),
    "WaitRequest": ("task_pb2", "WaitRequest"),
    "WaitResponse": ("task_pb2", "WaitResponse"),
    "StatsRequest": ("task_pb2", "StatsRequest"),
    "StatsResponse": ("task_pb2", "StatsResponse"),
    "ConnectRequest": ("task_pb2", "ConnectRequest"),
    "ConnectResponse": ("task_pb2", "ConnectResponse"),
    "ShutdownRequest": ("task_pb2", "ShutdownRequest"),
    "PauseRequest": ("task_pb2", "PauseRequest"),
    "ResumeRequest": ("task_pb2", "ResumeRequest"),
    "Mount": ("mount_pb2", "Mount"),
    "TaskStatus": ("task_types_pb2", "Status"),
    "ProcessInfo": ("task_types_pb2", "ProcessInfo"),
    "TaskCreate": ("task_events_pb2", "TaskCreate"),
    "TaskStart": ("task_events_pb2", "TaskStart"),
    "TaskDelete": ("task_events_pb2", "TaskDelete"),
    "TaskIO": ("task_events_pb2", "TaskIO"),
    "TaskExit": ("task_events_pb2", "TaskExit"),
    "TaskOOM": ("task_events_pb2", "TaskOOM"),
    "TaskExecAdded": ("task_events_pb2", "TaskExecAdded"),
    "TaskExecStarted": ("task_events_pb2", "TaskExecStarted"),
    "TaskPaused": ("task_events_pb2", "TaskPaused"),
    "TaskResumed": ("task_events_pb2", "TaskResumed"),
    "TaskCheckpointed": ("task_events_pb2", "TaskCheckpointed"),
    "Envelope": ("events_pb2", "Envelope"),
    "ForwardRequest": ("events_pb2", "ForwardRequest"),
    "TTRPCRequest": ("ttrpc_pb2", "Request"),
    "TTRPCResponse": ("ttrpc_pb2", "Response"),
    "TTRPCKeyValue": ("ttrpc_pb2", "KeyValue"),
    "TTRPCStatus": ("ttrpc_pb2", "Status"),
}

__all__ = [
    "ALL_PLUGIN_TYPES",
    "CONTENT_PLUGIN",
    "CRIService",
    "CheckpointTaskRequest",
    "CloseIORequest",
    "ConnectRequest",
    "ConnectResponse",
    "CreateTaskRequest",
    "CreateTaskResponse",
    "DIFF_PLUGIN",
    "DeleteRequest",
    "DeleteResponse",
    "EVENTS_SERVICE_NAME",
    "EVENT_PLUGIN",
    "Envelope",
    "ExecProcessRequest",
    "ExecProcessResponse",
    "ForwardRequest",
    "GC_PLUGIN",
    "GRPCServer",
    "GRPCService",
    "GRPC_PLUGIN",
    "INTERNAL_PLUGIN",
    "Init",
    "KillRequest",
    "METADATA_PLUGIN",
    "Mount",
    "PauseRequest",
    "PeerCredentials",
    "PidsRequest",
    "PidsResponse",
    "PluginType",
    "ProcessInfo",
    "Publisher",
    "RUNTIME_LINUX_V1",
    "RUNTIME_PLUGIN",
    "RUNTIME_PLUGIN_V2",
    "RUNTIME_RUNC_V1",
    "RUNTIME_RUNC_V2",
    "ResizePtyRequest",
    "ResumeRequest",
    "SERVICE_PLUGIN",
    "SNAPSHOT_PLUGIN",
    "Shim",
    "ShimContext",
    "ShutdownRequest",
    "StartOpts",
    "StartRequest",
    "StartResponse",
    "StateRequest",
    "StateResponse",
    "StatsRequest",
    "StatsResponse",
    "TASK_MONITOR_PLUGIN",
    "TASK_SERVICE_NAME",
    "TCPService",
    "TRACING_PROCESSOR_PLUGIN",
    "TTRPCKeyValue",
    "TTRPCMethod",
    "TTRPCMethodContext",
    "TTRPCRequest",
    "TTRPCResponse",
    "TTRPCServer",
    "TTRPCService",
    "TTRPCStatus",
    "TTRPC_PLUGIN",
    "TaskCheckpointed",
    "TaskCreate",
    "TaskDelete",
    "TaskExecAdded",
    "TaskExecStarted",
    "TaskExit",
    "TaskIO",
    "TaskOOM",
    "TaskPaused",
    "TaskResumed",
    "TaskService",
    "TaskStart",
    "TaskStatus",
    "UpdateTaskRequest",
    "WILDCARD",
    "WaitRequest",
    "WaitResponse",
]


def __getattr__(name: str) -> object:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'shimtypes' has no attribute {name!r}") from None
    import importlib

    value: object = getattr(importlib.import_module(f".pb.{module_name}", __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
