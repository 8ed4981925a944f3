"""CRIService: async run and close, registered on a gRPC server."""

import grpc.aio

from shimtypes import CRIService, GRPCServer, GRPCService


def expects_cri(service: CRIService) -> None: ...
def expects_grpc_service(service: GRPCService) -> None: ...


class CRI:
    async def run(self) -> None: ...
    async def close(self) -> None: ...

    def register(self, server: GRPCServer, /) -> None:
        server.add_registered_method_handlers("runtime.v1.RuntimeService", {})


expects_cri(CRI())
expects_grpc_service(CRI())  # a CRI service is also a plain gRPC service


class SyncRun:
    def run(self) -> None: ...
    async def close(self) -> None: ...
    def register(self, server: GRPCServer, /) -> None: ...


class NoClose:
    async def run(self) -> None: ...
    def register(self, server: GRPCServer, /) -> None: ...


class NoRegister:
    async def run(self) -> None: ...
    async def close(self) -> None: ...


class AioOnlyRegister:
    async def run(self) -> None: ...
    async def close(self) -> None: ...
    def register(self, server: grpc.aio.Server, /) -> None: ...


class GoNamed:
    async def Run(self) -> None: ...
    async def Close(self) -> None: ...
    def Register(self, server: GRPCServer, /) -> None: ...


expects_cri(SyncRun())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_cri(NoClose())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_cri(NoRegister())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_cri(AioOnlyRegister())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_cri(GoNamed())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


async def host(cri: CRIService, server: grpc.aio.Server) -> None:
    cri.register(server)
    await cri.run()
    await cri.close()
