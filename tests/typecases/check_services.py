"""GRPCService, TCPService, TTRPCService: plain classes, no inheritance."""

from typing import assert_type

import grpc
import grpc.aio

from shimtypes import (
    GRPCServer,
    GRPCService,
    TCPService,
    TTRPCMethodContext,
    TTRPCServer,
    TTRPCService,
)


def expects_grpc_service(service: GRPCService) -> None: ...
def expects_tcp_service(service: TCPService) -> None: ...
def expects_ttrpc_service(service: TTRPCService) -> None: ...


async def ping(context: TTRPCMethodContext, payload: bytes) -> bytes:
    return payload


class Introspection:
    """Served on the host's gRPC socket, registered the generic way."""

    def register(self, server: GRPCServer, /) -> None:
        handler = grpc.method_handlers_generic_handler("example.v1.Introspection", {})
        server.add_generic_rpc_handlers((handler,))


class Health:
    """Served on the unix socket and the TCP listener; the parameter name is free."""

    def register(self, srv: GRPCServer) -> None:
        srv.add_registered_method_handlers("grpc.health.v1.Health", {})

    def register_tcp(self, srv: GRPCServer) -> None:
        srv.add_registered_method_handlers("grpc.health.v1.Health", {})


class Ping:
    """A shim-side ttrpc service."""

    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        server.register_service("example.v1.Ping", {"Ping": ping})


expects_grpc_service(Introspection())
expects_grpc_service(Health())
expects_tcp_service(Health())
expects_ttrpc_service(Ping())

# One protocol is not another: only the method that is there counts.
expects_tcp_service(Introspection())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_grpc_service(Ping())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_ttrpc_service(Health())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


# Misnamed methods.
class GoNamed:
    def Register(self, server: GRPCServer, /) -> None: ...


class RegisterTTRPCServiceNamed:
    def register_ttrpc_service(self, server: TTRPCServer, /) -> None: ...


class RegisterTCPNamed:
    def registerTCP(self, server: GRPCServer, /) -> None: ...


expects_grpc_service(GoNamed())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_ttrpc_service(RegisterTTRPCServiceNamed())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_tcp_service(RegisterTCPNamed())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


# Wrongly typed methods.
class OnlySyncGRPC:
    """Narrows the server to grpc.Server, so a grpc.aio.Server could not be handed in."""

    def register(self, server: grpc.Server, /) -> None: ...


class OnlyAioGRPC:
    def register_tcp(self, server: grpc.aio.Server, /) -> None: ...


class AsyncRegister:
    async def register(self, server: GRPCServer, /) -> None: ...


class NoServerParameter:
    def register(self) -> None: ...


class KeywordOnlyServer:
    def register_ttrpc(self, *, server: TTRPCServer) -> None: ...


class GRPCServerForTTRPC:
    def register_ttrpc(self, server: GRPCServer, /) -> None: ...


class StaticRegister:
    @staticmethod
    def register_ttrpc() -> None: ...


expects_grpc_service(OnlySyncGRPC())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_tcp_service(OnlyAioGRPC())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_grpc_service(AsyncRegister())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_grpc_service(NoServerParameter())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_ttrpc_service(KeywordOnlyServer())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_ttrpc_service(GRPCServerForTTRPC())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_ttrpc_service(StaticRegister())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


# A service registers on either grpcio server.
def serve_sync(server: grpc.Server) -> None:
    Introspection().register(server)
    Health().register_tcp(server)


def serve_aio(server: grpc.aio.Server) -> None:
    Introspection().register(server)
    Health().register_tcp(server)


def serve_ttrpc_on_grpc(server: grpc.Server) -> None:
    Ping().register_ttrpc(server)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


# How a host collects services: runtime-checkable structural narrowing.
def collect(instances: list[object]) -> list[TTRPCService]:
    found: list[TTRPCService] = []
    for instance in instances:
        if isinstance(instance, GRPCService):
            assert_type(instance, GRPCService)
        if isinstance(instance, TTRPCService):
            assert_type(instance, TTRPCService)
            found.append(instance)
    return found
