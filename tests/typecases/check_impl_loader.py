"""impl.loader: what a host or shim gets back from a load."""
# requires: impl.loader, impl.plugin

from collections.abc import Sequence
from typing import Literal, assert_type

from impl.loader import ConfigError, LoadError, LoadPolicy, LoadResult, load
from impl.plugin import PluginError, PluginSet, Registry
from shimtypes import GRPCService, TCPService, TTRPCServer, TTRPCService


def expects_ttrpc_services(services: Sequence[TTRPCService]) -> None: ...
def expects_grpc_services(services: Sequence[GRPCService]) -> None: ...


async def host(registry: Registry, ttrpc_server: TTRPCServer) -> None:
    result = await load(
        registry.graph(),
        policy=LoadPolicy.SERVER,
        root="/var/lib/shimtypes",
        state="/run/shimtypes",
        configs={"io.containerd.grpc.v1.example": {"interval": 2.0}},
        required=("io.containerd.grpc.v1.example",),
    )
    assert_type(result, LoadResult)
    assert_type(result.plugins, PluginSet)
    assert_type(result.grpc, tuple[GRPCService, ...])
    assert_type(result.tcp, tuple[TCPService, ...])
    assert_type(result.ttrpc, tuple[TTRPCService, ...])
    expects_ttrpc_services(result.ttrpc)
    expects_grpc_services(result.grpc)
    expects_grpc_services(result.tcp)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    for service in result.ttrpc:
        service.register_ttrpc(ttrpc_server)
    for plugin in result.plugins:
        assert_type(plugin.status, Literal["ok", "skip", "error"])


async def shim(registry: Registry, bundle: str) -> LoadResult:
    return await load(registry.graph(), policy=LoadPolicy.SHIM, root="", state=bundle)


async def rejected(registry: Registry) -> None:
    await load(registry.graph(), policy="shim", root="", state="/b")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await load(registry.graph(), LoadPolicy.SHIM, "", "/b")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    await load(registry.graph(), policy=LoadPolicy.SHIM, root="", state="/b", configs={"uri": 1})  # type: ignore[dict-item]  # pyright: ignore[reportArgumentType]
    await load(list(registry), policy=LoadPolicy.SHIM)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


def load_errors_are_plugin_errors(error: LoadError | ConfigError) -> PluginError:
    return error


def tuples_are_immutable(result: LoadResult) -> None:
    result.grpc = ()  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
