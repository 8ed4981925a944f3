"""Server protocols: both grpcio servers are GRPCServers; handlers are TTRPCMethods."""

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, assert_type

import grpc
import grpc.aio

from shimtypes import (
    GRPCServer,
    PeerCredentials,
    TTRPCMethod,
    TTRPCMethodContext,
    TTRPCServer,
)


def expects_grpc_server(server: GRPCServer) -> None: ...
def expects_ttrpc_server(server: TTRPCServer) -> None: ...
def expects_ttrpc_method(method: TTRPCMethod) -> None: ...
def expects_method_context(context: TTRPCMethodContext) -> None: ...


# --- GRPCServer: the slice of a grpc server that generated code calls.

def sync_grpc(server: grpc.Server) -> None:
    expects_grpc_server(server)


def aio_grpc(server: grpc.aio.Server) -> None:
    expects_grpc_server(server)


expects_grpc_server(grpc.server(ThreadPoolExecutor(max_workers=1)))
expects_grpc_server(grpc.aio.server())


class HandlersOnly:
    """Only the generic half: generated code also calls the registered half."""

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Iterable[Any], /) -> None: ...


class WrongServiceName:
    def add_generic_rpc_handlers(self, generic_rpc_handlers: Iterable[Any], /) -> None: ...
    def add_registered_method_handlers(
        self, service_name: bytes, method_handlers: Mapping[str, Any], /
    ) -> None: ...


expects_grpc_server(HandlersOnly())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_grpc_server(WrongServiceName())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def ttrpc_is_not_grpc(server: TTRPCServer) -> None:
    expects_grpc_server(server)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


# --- TTRPCServer: register a service's raw methods by name.

class MinimalTTRPCServer:
    def __init__(self) -> None:
        self.services: dict[str, Mapping[str, TTRPCMethod]] = {}

    def register_service(self, name: str, methods: Mapping[str, TTRPCMethod], /) -> None:
        self.services[name] = methods


class DictOnlyTTRPCServer:
    """Demands a dict: a caller passing any other Mapping would break it."""

    def register_service(self, name: str, methods: dict[str, TTRPCMethod], /) -> None: ...


class KeywordTTRPCServer:
    def register_service(self, *, name: str, methods: Mapping[str, TTRPCMethod]) -> None: ...


class AsyncRegisterTTRPCServer:
    async def register_service(self, name: str, methods: Mapping[str, TTRPCMethod], /) -> None: ...


expects_ttrpc_server(MinimalTTRPCServer())
expects_ttrpc_server(DictOnlyTTRPCServer())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_ttrpc_server(KeywordTTRPCServer())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_ttrpc_server(AsyncRegisterTTRPCServer())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def grpc_is_not_ttrpc(server: grpc.Server) -> None:
    expects_ttrpc_server(server)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


# --- TTRPCMethod: serialized request in, serialized response out, async.

async def echo(context: TTRPCMethodContext, payload: bytes) -> bytes:
    assert_type(context.service, str)
    assert_type(context.method, str)
    assert_type(context.metadata["key"], Sequence[str])
    assert_type(context.deadline, float | None)
    assert_type(context.peer, PeerCredentials | None)
    if context.peer is not None:
        assert_type(context.peer.uid, int)
    return payload


def sync_echo(context: TTRPCMethodContext, payload: bytes) -> bytes:
    return payload


async def text_echo(context: TTRPCMethodContext, payload: str) -> str:
    return payload


async def no_context(payload: bytes) -> bytes:
    return payload


expects_ttrpc_method(echo)
expects_ttrpc_method(sync_echo)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_ttrpc_method(text_echo)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_ttrpc_method(no_context)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def registers(server: TTRPCServer) -> None:
    server.register_service("example.v1.Echo", {"Echo": echo})
    server.register_service("example.v1.Echo", {"Echo": sync_echo})  # type: ignore[dict-item]  # pyright: ignore[reportArgumentType]
    server.register_service("example.v1.Echo", echo)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


# --- TTRPCMethodContext: read-only properties; plain attributes satisfy it.

class FakeContext:
    def __init__(self) -> None:
        self.service = "example.v1.Echo"
        self.method = "Echo"
        self.metadata: dict[str, list[str]] = {}
        self.deadline: float | None = None
        self.peer: PeerCredentials | None = PeerCredentials(pid=1, uid=0, gid=0)


class NoPeerContext:
    def __init__(self) -> None:
        self.service = "example.v1.Echo"
        self.method = "Echo"
        self.metadata: dict[str, list[str]] = {}
        self.deadline: float | None = None


class WallClockDeadlineContext:
    def __init__(self) -> None:
        self.service = "example.v1.Echo"
        self.method = "Echo"
        self.metadata: dict[str, list[str]] = {}
        self.deadline: str = "2026-01-01T00:00:00Z"
        self.peer: PeerCredentials | None = None


expects_method_context(FakeContext())
expects_method_context(NoPeerContext())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_method_context(WallClockDeadlineContext())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def context_is_read_only(context: TTRPCMethodContext) -> None:
    context.deadline = None  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]


# --- PeerCredentials: an immutable (pid, uid, gid).

creds = PeerCredentials(pid=1, uid=1000, gid=1000)
assert_type(creds.pid, int)
pid, uid, gid = creds
assert_type(gid, int)
PeerCredentials(1, 1000)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
creds.uid = 0  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
