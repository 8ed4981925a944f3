"""impl.ttrpc against the shimtypes protocols: servers, contexts, typed stubs."""
# requires: impl.ttrpc

import socket
from collections.abc import Mapping
from typing import assert_type

from google.protobuf.empty_pb2 import Empty

from impl.ttrpc import (
    Client,
    ClosedError,
    Code,
    EventsClient,
    MethodContext,
    Server,
    TaskClient,
    TaskMethods,
    TTRPCError,
    bind_events_service,
    bind_task_service,
    call_unary,
    register_task_service,
    require_same_user,
    unary_handler,
)
from impl.ttrpc.services import (
    TASK_V3_SERVICE_NAME,
    IntrospectionClient,
    VersionClient,
    register_introspection,
    register_version,
)
from shimtypes import (
    DeleteRequest,
    ForwardRequest,
    GRPCServer,
    PeerCredentials,
    StateRequest,
    StateResponse,
    TaskService,
    TTRPCMethod,
    TTRPCMethodContext,
    TTRPCServer,
    TTRPCService,
)
from shimtypes.pb.introspection_pb2 import PluginsRequest, PluginsResponse, ServerResponse
from shimtypes.pb.version_pb2 import VersionResponse


def expects_ttrpc_server(server: TTRPCServer) -> None: ...
def expects_grpc_server(server: GRPCServer) -> None: ...
def expects_method_context(context: TTRPCMethodContext) -> None: ...
def expects_task(service: TaskService) -> None: ...


# --- impl.ttrpc.Server is a TTRPCServer (and not a gRPC one).

server = Server()
expects_ttrpc_server(server)
expects_ttrpc_server(Server(peer_check=require_same_user()))
expects_ttrpc_server(Server(peer_check=lambda peer: peer.uid == 0))
expects_grpc_server(server)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def uid_of(peer: PeerCredentials) -> int:
    return peer.uid


def always(peer: PeerCredentials) -> bool:
    return True


Server(peer_check=uid_of)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
Server(always)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


class Ping:
    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        server.register_service("example.v1.Ping", {"Ping": ping})


async def ping(context: TTRPCMethodContext, payload: bytes) -> bytes:
    return payload


def expects_ttrpc_service(service: TTRPCService) -> None: ...


expects_ttrpc_service(Ping())
Ping().register_ttrpc(server)


async def serves(listener: socket.socket) -> None:
    await server.serve("/run/example.sock")
    await server.serve("@abstract-name")
    await server.serve(listener)
    await server.serve(b"/run/example.sock")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await server.shutdown()
    server.close()


# --- MethodContext is a TTRPCMethodContext.

def contexts(context: MethodContext) -> None:
    expects_method_context(context)
    assert_type(context.deadline, float | None)
    assert_type(context.peer, PeerCredentials | None)


# --- Client and the typed stubs.

async def client_side(path: str) -> None:
    client = await Client.connect(path, on_close=lambda: None)
    assert_type(client, Client)
    reply = await client.call("example.v1.Ping", "Ping", b"", timeout=1.0, metadata={"k": ["a", "b"]})
    assert_type(reply, bytes)
    await client.call("example.v1.Ping", "Ping", "text")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]

    task = TaskClient(client)
    expects_task(task)  # the typed stub is itself a TaskService
    assert_type(await task.state(StateRequest(id="c1"), timeout=5.0), StateResponse)
    await task.state(DeleteRequest(id="c1"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]

    events = EventsClient(client)
    assert_type(await events.forward(ForwardRequest(), timeout=1.0), Empty)
    await client.close()


# --- Binding a TaskService to raw methods.

def binds(service: TaskService, ttrpc_server: TTRPCServer, proxy: TaskClient) -> None:
    methods = bind_task_service(service)
    assert_type(methods["State"], TTRPCMethod)
    ttrpc_server.register_service("containerd.task.v2.Task", methods)
    register_task_service(ttrpc_server, service)
    register_task_service(ttrpc_server, proxy)  # forwarding to another shim
    bind_task_service(Ping())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    register_task_service(ttrpc_server, Ping())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    bind_events_service(EventsClient(proxy_client()))
    bind_events_service(service)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def proxy_client() -> Client:
    raise NotImplementedError


async def state(request: StateRequest) -> StateResponse:
    return StateResponse(id=request.id)


async def delete_only(request: DeleteRequest) -> StateResponse:
    return StateResponse()


async def empty_state(request: StateRequest) -> Empty:
    return Empty()


assert_type(unary_handler(TaskMethods.STATE, state), TTRPCMethod)
unary_handler(TaskMethods.STATE, delete_only)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
unary_handler(TaskMethods.STATE, empty_state)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


async def typed_calls(client: Client) -> None:
    reply = await call_unary(client, "containerd.task.v2.Task", TaskMethods.STATE, StateRequest(id="c"))
    assert_type(reply, StateResponse)
    await call_unary(client, "containerd.task.v2.Task", TaskMethods.STATE, DeleteRequest())  # type: ignore[misc]  # pyright: ignore[reportArgumentType]


# --- Errors.

def fails(found: bool) -> None:
    if not found:
        raise TTRPCError(Code.NOT_FOUND, "container c1 not found")
    raise TTRPCError("not found")  # type: ignore[call-arg, arg-type]  # pyright: ignore[reportCallIssue]


def classify(error: TTRPCError) -> Code:
    assert_type(error.code, Code)
    assert_type(error.message, str)
    if isinstance(error, ClosedError):
        return Code.UNAVAILABLE
    return error.code


status: Mapping[str, Code] = {"unimplemented": Code.UNIMPLEMENTED}
assert issubclass(ClosedError, TTRPCError)


# --- Generated bindings of the host's services (impl.ttrpc.services).

class GoodIntrospection:
    async def plugins(self, request: PluginsRequest, /) -> PluginsResponse:
        return PluginsResponse()

    async def server(self, request: Empty, /) -> ServerResponse:
        return ServerResponse()


class SyncIntrospection:  # the host's domain object: synchronous, so not a binding
    def plugins(self, request: PluginsRequest, /) -> PluginsResponse:
        return PluginsResponse()

    def server(self) -> ServerResponse:
        return ServerResponse()


async def host_services(ttrpc_server: TTRPCServer, client: Client, service: TaskService) -> None:
    register_introspection(ttrpc_server, GoodIntrospection())
    register_introspection(ttrpc_server, GoodIntrospection(), name="other.v1.Introspection")
    register_introspection(ttrpc_server, SyncIntrospection())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    register_version(ttrpc_server, GoodIntrospection())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    register_task_service(ttrpc_server, service, name=TASK_V3_SERVICE_NAME)
    assert_type(await IntrospectionClient(client).plugins(PluginsRequest(), timeout=1.0), PluginsResponse)
    assert_type(await VersionClient(client).version(Empty()), VersionResponse)
    await VersionClient(client).version(PluginsRequest())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert_type(await TaskClient(client, service=TASK_V3_SERVICE_NAME).state(StateRequest()), StateResponse)
