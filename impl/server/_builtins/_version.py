"""The version plugin: containerd.services.version.v1, what ``ctr version`` asks.

Both bindings here; the answer is this distribution's version, and the
revision a build recorded (empty when unknown).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.empty_pb2 import Empty

from impl.plugin import InitContext, Registration
from shimtypes import GRPC_PLUGIN, GRPCServer, TTRPCServer
from shimtypes.pb.version_pb2 import VersionResponse

__all__ = ["VERSION_SERVICE", "VersionService", "version_registration"]

VERSION_SERVICE = "containerd.services.version.v1.Version"


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
        import grpc

        async def version(request: Empty, context: Any) -> VersionResponse:
            return self.response

        handler = grpc.method_handlers_generic_handler(
            VERSION_SERVICE,
            {
                "Version": grpc.unary_unary_rpc_method_handler(
                    version,
                    request_deserializer=Empty.FromString,
                    response_serializer=VersionResponse.SerializeToString,
                ),
            },
        )
        server.add_generic_rpc_handlers((handler,))

    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        from impl.ttrpc.services import register_version

        register_version(server, _VersionTTRPC(self))


class _VersionTTRPC:
    """The answer as the generated ttrpc binding wants it."""

    __slots__ = ("_svc",)

    def __init__(self, svc: VersionService) -> None:
        self._svc = svc

    async def version(self, request: Empty, /) -> VersionResponse:
        return self._svc.response


def version_registration() -> Registration[Any]:
    def init(ic: InitContext[Any]) -> VersionService:
        return VersionService(_distribution_version())

    return Registration(type=GRPC_PLUGIN, id="version", init=init)
