"""The introspection plugin: what loaded, in init order, and why not.

Served over gRPC and ttrpc as containerd.services.introspection.v1, so
``ctr plugins ls`` and ``shimtypes plugins ls`` read the same answer.
"""

from __future__ import annotations

import os
import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from impl.plugin import InitContext, Plugin, PluginSet, Registration
from shimtypes import GRPC_PLUGIN, GRPCServer, TTRPCMethodContext, TTRPCServer
from shimtypes.pb.introspection_pb2 import Plugin as PluginInfo
from shimtypes.pb.introspection_pb2 import PluginsRequest, PluginsResponse, ServerResponse
from shimtypes.pb.platform_pb2 import Platform

from ._filters import FilterError, compile_filters

__all__ = [
    "INTROSPECTION_SERVICE",
    "Introspection",
    "describe",
    "format_platform",
    "introspection_registration",
    "parse_platform",
    "status_of",
]

INTROSPECTION_SERVICE = "containerd.services.introspection.v1.Introspection"
_UNKNOWN = 2  # gRPC Unknown: what containerd reports for an init error


def parse_platform(text: str) -> Platform:
    """``os/arch[/variant]`` into the wire message."""
    parts = text.split("/", 2)
    return Platform(
        os=parts[0],
        architecture=parts[1] if len(parts) > 1 else "",
        variant=parts[2] if len(parts) > 2 else "",
    )


def format_platform(p: Platform) -> str:
    return "/".join(x for x in (p.os, p.architecture, p.variant) if x)


def describe(plugins: Iterable[Plugin]) -> list[PluginInfo]:
    """One wire record per plugin, failed and skipped ones with ``init_err``."""
    out: list[PluginInfo] = []
    for p in plugins:
        reg = p.registration
        info = PluginInfo(
            type=reg.type,
            id=reg.id,
            requires=list(reg.requires),
            platforms=[parse_platform(s) for s in p.meta.platforms],
            exports=dict(p.meta.exports),
            capabilities=list(p.meta.capabilities),
        )
        if p.error is not None:
            info.init_err.code = _UNKNOWN
            info.init_err.message = str(p.error) or type(p.error).__name__
        out.append(info)
    return out


def status_of(info: PluginInfo) -> str:
    """ok, skip or error, decided from the wire record exactly as ctr does."""
    if not info.HasField("init_err"):
        return "ok"
    return "skip" if "skip plugin" in info.init_err.message else "error"


_FIELDS: Mapping[str, Callable[[PluginInfo], Sequence[str] | str]] = {
    "type": lambda i: i.type,
    "id": lambda i: i.id,
    "requires": lambda i: list(i.requires),
    "platforms": lambda i: [format_platform(p) for p in i.platforms],
    "capabilities": lambda i: list(i.capabilities),
    "status": status_of,
}


def select(infos: Iterable[PluginInfo], filters: Sequence[str]) -> list[PluginInfo]:
    """Apply containerd-style filters (``type==...``, ``id==...``); FilterError if bad."""
    match = compile_filters(filters, _FIELDS)
    return [i for i in infos if match(i)]


class Introspection:
    """The instance of ``io.containerd.grpc.v1.introspection``."""

    def __init__(self, plugins: PluginSet, server_uuid: str) -> None:
        self._plugins = plugins
        self.uuid = server_uuid

    def plugins(self, request: PluginsRequest) -> PluginsResponse:
        """Every plugin loaded so far (the set is live), filtered."""
        return PluginsResponse(plugins=select(describe(self._plugins), list(request.filters)))

    def server(self) -> ServerResponse:
        return ServerResponse(uuid=self.uuid)

    def register(self, server: GRPCServer, /) -> None:
        from ._grpc import introspection_handler

        server.add_generic_rpc_handlers((introspection_handler(self),))

    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        server.register_service(
            INTROSPECTION_SERVICE, {"Plugins": self._ttrpc_plugins, "Server": self._ttrpc_server}
        )

    async def _ttrpc_plugins(self, ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        from impl.ttrpc import Code, TTRPCError

        try:
            return self.plugins(PluginsRequest.FromString(payload)).SerializeToString()
        except FilterError as exc:
            raise TTRPCError(Code.INVALID_ARGUMENT, str(exc)) from None

    async def _ttrpc_server(self, ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return self.server().SerializeToString()


def introspection_registration() -> Registration[Any]:
    def init(ic: InitContext[Any]) -> Introspection:
        return Introspection(ic.plugins, _server_uuid(ic.root))

    return Registration(type=GRPC_PLUGIN, id="introspection", init=init)


def _server_uuid(root: str) -> str:
    """Stable per root directory, as containerd keeps it in its root."""
    path = os.path.join(root, "uuid")
    try:
        with open(path, encoding="ascii") as f:
            value = f.read().strip()
        if value:
            return value
    except OSError:
        pass
    value = str(uuidlib.uuid4())
    try:
        os.makedirs(root, exist_ok=True)
        with open(path, "w", encoding="ascii") as f:
            f.write(value + "\n")
    except OSError:
        pass  # an unwritable root only costs stability across restarts
    return value
