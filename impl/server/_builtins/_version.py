"""The version plugin: containerd.services.version.v1, what ``ctr version`` asks.

Both bindings here; the answer is this distribution's version, and the
revision a build recorded (empty when unknown).
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf.empty_pb2 import Empty

from impl.plugin import InitContext, Registration
from shimtypes import GRPC_PLUGIN, GRPCServer, TTRPCServer
from shimtypes.pb.version_pb2 import VersionResponse

from .._bindings.version_grpc import VERSION_NAME

__all__ = ["VERSION_SERVICE", "VersionService", "version_registration"]

VERSION_SERVICE: Final = VERSION_NAME


def _distribution_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("shimtypes")
    except metadata.PackageNotFoundError:
        return "unknown"


class VersionService:
    """The instance of ``io.containerd.grpc.v1.version``."""

    def __init__(self, version: str, revision: str = "") -> None:
        self.response: VersionResponse = VersionResponse(version=version, revision=revision)

    def version(self) -> VersionResponse:
        return self.response

    def register(self, server: GRPCServer, /) -> None:
        from .._bindings.version_grpc import add_version

        add_version(server, _Answers(self))

    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        from impl.ttrpc.services import register_version

        register_version(server, _Answers(self))


class _Answers:
    """The answer as the generated bindings want it (a gRPC call passes its context, a ttrpc one none)."""

    __slots__ = ("_svc",)

    def __init__(self, svc: VersionService) -> None:
        self._svc = svc

    async def version(self, request: Empty, context: object = None, /) -> VersionResponse:
        return self._svc.response


def version_registration() -> Registration[Any]:
    def init(ic: InitContext[Any]) -> VersionService:
        return VersionService(_distribution_version())

    return Registration(type=GRPC_PLUGIN, id="version", init=init)
