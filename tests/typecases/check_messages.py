"""The protobuf messages, reached through shimtypes' lazy top-level names."""

from typing import Literal, assert_type

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

import shimtypes
from shimtypes import (
    EVENTS_SERVICE_NAME,
    TASK_SERVICE_NAME,
    CreateTaskRequest,
    DeleteResponse,
    Envelope,
    ForwardRequest,
    Mount,
    TaskExit,
    TaskStatus,
    TTRPCRequest,
)


def expects_message(message: Message) -> None: ...


assert_type(shimtypes.DeleteResponse().exit_status, int)
assert_type(DeleteResponse().pid, int)
assert_type(DeleteResponse().exited_at, Timestamp)
assert_type(CreateTaskRequest().bundle, str)
assert_type(CreateTaskRequest().terminal, bool)
assert_type(CreateTaskRequest(rootfs=[Mount(type="overlay", source="overlay")]).rootfs[0], Mount)
assert_type(TaskExit().exit_status, int)
assert_type(Envelope().topic, str)
assert_type(ForwardRequest().envelope, Envelope)
assert_type(TTRPCRequest().payload, bytes)
# Final constants keep their literal value: the wire names containerd calls.
assert_type(TASK_SERVICE_NAME, Literal["containerd.task.v2.Task"])
assert_type(EVENTS_SERVICE_NAME, Literal["containerd.services.events.ttrpc.v1.Events"])

expects_message(TaskExit(container_id="c1", pid=42))
expects_message(shimtypes.StateResponse(status=TaskStatus.RUNNING))

# Fields are typed and the constructors are keyword-only.
CreateTaskRequest(id=1)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
CreateTaskRequest("c1")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
DeleteResponse(exit_code=0)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
expects_message("not a message")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
