"""The introspection plugin: what loaded, in init order, and why not.

Served over gRPC and ttrpc (both bindings here) as containerd.services.introspection.v1, so
``ctr plugins ls`` and ``shimtypes plugins ls`` read the same answer.
"""

from __future__ import annotations

import os
import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from google.protobuf.empty_pb2 import Empty

from impl.plugin import InitContext, Plugin, PluginSet, Registration
from shimtypes import GRPC_PLUGIN, GRPCServer, TTRPCServer
from shimtypes.pb.introspection_pb2 import Plugin as PluginInfo
from shimtypes.pb.introspection_pb2 import PluginsRequest, PluginsResponse, ServerResponse
from shimtypes.pb.platform_pb2 import Platform

from .._bindings.introspection_grpc import INTROSPECTION_NAME
from ._filters import compile_filters

__all__ = [
    "INTROSPECTION_SERVICE",
    "Introspection",
    "describe",
    "format_platform",
    "introspection_registration",
    "parse_platform",
    "status_of",
]

INTROSPECTION_SERVICE: Final = INTROSPECTION_NAME
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
        from .._bindings.introspection_grpc import add_introspection

        add_introspection(server, _Answers(self))

    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        from impl.ttrpc.services import register_introspection

        register_introspection(server, _Answers(self))


class _Answers:
    """``Introspection`` as the generated bindings want it: async, one request each (a gRPC
    call passes its context, a ttrpc one none).

    A ``FilterError`` is an ``errdefs.InvalidArgument``: either server's boundary maps it.
    """

    __slots__ = ("_svc",)

    def __init__(self, svc: Introspection) -> None:
        self._svc = svc

    async def plugins(self, request: PluginsRequest, context: object = None, /) -> PluginsResponse:
        return self._svc.plugins(request)

    async def server(self, request: Empty, context: object = None, /) -> ServerResponse:
        return self._svc.server()


def introspection_registration() -> Registration[Any]:
    def init(ic: InitContext[Any]) -> Introspection:
        return Introspection(ic.plugins, _server_uuid(ic.root))

    return Registration(type=GRPC_PLUGIN, id="introspection", init=init)


def _server_uuid(root: str) -> str:
    """Stable per root directory, as containerd keeps it in its root.

    Never follows a symlink: read with ``O_NOFOLLOW``, created with
    ``O_CREAT|O_EXCL`` (which refuses any existing name, a dangling symlink
    included), so a planted ``uuid`` cannot make the host read or write a
    file of someone else's choosing.
    """
    path = os.path.join(root, "uuid")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        pass  # missing, or a symlink (ELOOP): make a new one below
    else:
        try:
            value = os.read(fd, 128).decode("ascii", "replace").strip()
        finally:
            os.close(fd)
        if value:
            return value
    value = str(uuidlib.uuid4())
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError:
        return value  # unwritable, or something is in the way: only stability across restarts is lost
    try:
        os.write(fd, (value + "\n").encode("ascii"))
    finally:
        os.close(fd)
    return value
