"""Typed layer: task and events services end to end, and what mypy sees."""

from __future__ import annotations

from typing import assert_type

import pytest
from google.protobuf.empty_pb2 import Empty

from impl.ttrpc import (
    EVENTS_SERVICE,
    TASK_SERVICE,
    Client,
    Code,
    EventsClient,
    EventsMethods,
    MethodSpec,
    Server,
    TaskClient,
    TaskMethods,
    TTRPCError,
    bind_events_service,
    bind_task_service,
    register_task_service,
    unary_handler,
    unary_handler_with_context,
)
from shimtypes import EVENTS_SERVICE_NAME, TASK_SERVICE_NAME, TaskService, TTRPCMethodContext
from shimtypes.pb.events_pb2 import Envelope, ForwardRequest
from shimtypes.pb.task_pb2 import (
    CheckpointTaskRequest,
    CloseIORequest,
    ConnectRequest,
    ConnectResponse,
    CreateTaskRequest,
    CreateTaskResponse,
    DeleteRequest,
    DeleteResponse,
    ExecProcessRequest,
    KillRequest,
    PauseRequest,
    PidsRequest,
    PidsResponse,
    ResizePtyRequest,
    ResumeRequest,
    ShutdownRequest,
    StartRequest,
    StartResponse,
    StateRequest,
    StateResponse,
    StatsRequest,
    StatsResponse,
    UpdateTaskRequest,
    WaitRequest,
    WaitResponse,
)

from ._helpers import run, serving, sock_path

WIRE_NAMES = [
    "State", "Create", "Start", "Delete", "Pids", "Pause", "Resume", "Checkpoint", "Kill",
    "Exec", "ResizePty", "CloseIO", "Update", "Wait", "Stats", "Connect", "Shutdown",
]  # fmt: skip


def unimplemented(name: str) -> TTRPCError:
    return TTRPCError(Code.UNIMPLEMENTED, f"{name} not implemented")


class FakeTask:
    """A TaskService that answers a few calls and refuses the rest."""

    def __init__(self) -> None:
        self.killed: list[KillRequest] = []

    async def state(self, request: StateRequest, /) -> StateResponse:
        return StateResponse(id=request.id, pid=42, bundle="/b")

    async def create(self, request: CreateTaskRequest, /) -> CreateTaskResponse:
        return CreateTaskResponse(pid=len(request.id))

    async def start(self, request: StartRequest, /) -> StartResponse:
        raise unimplemented("start")

    async def delete(self, request: DeleteRequest, /) -> DeleteResponse:
        raise TTRPCError(Code.NOT_FOUND, f"container {request.id}: not found")

    async def pids(self, request: PidsRequest, /) -> PidsResponse:
        raise unimplemented("pids")

    async def pause(self, request: PauseRequest, /) -> Empty:
        raise unimplemented("pause")

    async def resume(self, request: ResumeRequest, /) -> Empty:
        raise unimplemented("resume")

    async def checkpoint(self, request: CheckpointTaskRequest, /) -> Empty:
        raise unimplemented("checkpoint")

    async def kill(self, request: KillRequest, /) -> Empty:
        self.killed.append(request)
        return Empty()

    async def exec(self, request: ExecProcessRequest, /) -> Empty:
        raise unimplemented("exec")

    async def resize_pty(self, request: ResizePtyRequest, /) -> Empty:
        raise unimplemented("resize_pty")

    async def close_io(self, request: CloseIORequest, /) -> Empty:
        raise unimplemented("close_io")

    async def update(self, request: UpdateTaskRequest, /) -> Empty:
        raise unimplemented("update")

    async def wait(self, request: WaitRequest, /) -> WaitResponse:
        return WaitResponse(exit_status=7)

    async def stats(self, request: StatsRequest, /) -> StatsResponse:
        raise unimplemented("stats")

    async def connect(self, request: ConnectRequest, /) -> ConnectResponse:
        return ConnectResponse(shim_pid=1, task_pid=2, version="2")

    async def shutdown(self, request: ShutdownRequest, /) -> Empty:
        return Empty()


class Sink:
    """An EventsService that keeps what it was sent."""

    def __init__(self) -> None:
        self.got: list[ForwardRequest] = []

    async def forward(self, request: ForwardRequest, /) -> Empty:
        self.got.append(request)
        return Empty()


def test_specs_name_every_method() -> None:
    assert TASK_SERVICE.name == TASK_SERVICE_NAME == "containerd.task.v2.Task"
    assert list(TASK_SERVICE.methods) == WIRE_NAMES
    assert sorted(bind_task_service(FakeTask())) == sorted(WIRE_NAMES)
    assert TaskMethods.RESIZE_PTY.name == "ResizePty" and TaskMethods.RESIZE_PTY.request is ResizePtyRequest
    assert EVENTS_SERVICE.name == EVENTS_SERVICE_NAME
    assert list(bind_events_service(Sink())) == ["Forward"]
    # Static: specs keep their request and response types.
    assert_type(TaskMethods.STATE, MethodSpec[StateRequest, StateResponse])
    assert_type(TaskMethods.KILL, MethodSpec[KillRequest, Empty])


def test_task_service_served_and_called_under_the_v3_name(sock_dir: str) -> None:
    """containerd 2.x's ``containerd.task.v3.Task``: the same handlers and stub under another name."""
    from impl.ttrpc import TASK_V3_SERVICE_NAME

    async def main() -> None:
        path = sock_path(sock_dir)
        server = Server()
        register_task_service(server, FakeTask(), name=TASK_V3_SERVICE_NAME)
        async with serving({}, path, server):
            client = await Client.connect(path)
            state = await TaskClient(client, service=TASK_V3_SERVICE_NAME).state(StateRequest(id="c1"))
            assert (state.id, state.pid) == ("c1", 42)
            with pytest.raises(TTRPCError) as info:  # registered under v3 only
                await TaskClient(client).state(StateRequest(id="c1"))
            assert info.value.code == Code.UNIMPLEMENTED
            await client.close()

    run(main())


def test_task_service_round_trip(sock_dir: str) -> None:
    async def main() -> None:
        path = sock_path(sock_dir)
        task = FakeTask()
        server = Server()
        register_task_service(server, task)
        async with serving({}, path, server):
            client = await Client.connect(path)
            stub = TaskClient(client)
            as_protocol: TaskService = stub
            assert isinstance(as_protocol, TaskService)
            state = await stub.state(StateRequest(id="c1"))
            assert_type(state, StateResponse)
            assert (state.id, state.pid, state.bundle) == ("c1", 42, "/b")
            created = await stub.create(CreateTaskRequest(id="abcd"), timeout=5)
            assert created.pid == 4
            killed = await stub.kill(KillRequest(id="c1", signal=9, all=True))
            assert_type(killed, Empty)
            assert [(k.id, k.signal, k.all) for k in task.killed] == [("c1", 9, True)]
            waited = await stub.wait(WaitRequest(id="c1"), metadata={"k": "v"})
            assert waited.exit_status == 7
            with pytest.raises(TTRPCError) as info:
                await stub.delete(DeleteRequest(id="c9"))
            assert (info.value.code, info.value.message) == (Code.NOT_FOUND, "container c9: not found")
            with pytest.raises(TTRPCError) as info:
                await stub.pids(PidsRequest(id="c1"))
            assert info.value.code == Code.UNIMPLEMENTED
            # Bytes that are no CreateTaskRequest: Internal, as Go words it.
            with pytest.raises(TTRPCError) as info:
                await client.call(TASK_SERVICE_NAME, "Create", b"\x0a\x05ab")
            assert info.value.code == Code.INTERNAL
            assert info.value.message.startswith("ttrpc: error unmarshalling payload: ")
            await client.close()

    run(main())


def test_events_forward_and_context_handler(sock_dir: str) -> None:
    seen_ns: list[str] = []

    async def forward_ctx(ctx: TTRPCMethodContext, request: ForwardRequest) -> Empty:
        seen_ns.extend(ctx.metadata.get("containerd-namespace-ttrpc", []))
        return Empty()

    async def main() -> None:
        path = sock_path(sock_dir)
        sink = Sink()
        async with serving(
            {
                EVENTS_SERVICE_NAME: bind_events_service(sink),
                "ctx.Events": {"Forward": unary_handler_with_context(EventsMethods.FORWARD, forward_ctx)},
            },
            path,
        ):
            client = await Client.connect(path)
            events = EventsClient(client)
            env = Envelope(namespace="default", topic="/tasks/exit")
            env.event.Pack(StateRequest(id="x"))
            out = await events.forward(ForwardRequest(envelope=env), metadata={"containerd-namespace-ttrpc": "default"})
            assert_type(out, Empty)
            assert [(r.envelope.namespace, r.envelope.topic) for r in sink.got] == [("default", "/tasks/exit")]
            unpacked = StateRequest()
            assert sink.got[0].envelope.event.Unpack(unpacked) and unpacked.id == "x"
            await client.call("ctx.Events", "Forward", b"", metadata={"containerd-namespace-ttrpc": "k8s.io"})
            assert seen_ns == ["k8s.io"]
            await client.close()

    run(main())


def test_handler_returning_none_or_a_non_message_is_unknown(sock_dir: str) -> None:
    async def bad(request: StateRequest) -> StateResponse:
        return None  # type: ignore[return-value]

    async def wrong(request: StateRequest) -> StateResponse:
        return b"raw"  # type: ignore[return-value]

    async def main() -> None:
        path = sock_path(sock_dir)
        methods = {"State": unary_handler(TaskMethods.STATE, bad), "Wrong": unary_handler(TaskMethods.STATE, wrong)}
        async with serving({"x.Y": methods}, path):
            client = await Client.connect(path)
            with pytest.raises(TTRPCError) as info:
                await client.call("x.Y", "State", b"")
            # Go's words for a nil reply.
            assert (info.value.code, info.value.message) == (Code.UNKNOWN, "ttrpc: marshal called with nil")
            with pytest.raises(TTRPCError) as info:
                await client.call("x.Y", "Wrong", b"")
            assert (info.value.code, info.value.message) == (
                Code.UNKNOWN,
                "ttrpc: handler x.Y/Wrong returned bytes, not a protobuf message",
            )
            await client.close()

    run(main())
