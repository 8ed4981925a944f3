"""The health plugin: grpc.health.v1 for the host's gRPC socket.

Everything reports NOT_SERVING until the host has registered every service
and started listening; then the overall status ("") and each registered
service name report SERVING. Skipped when grpcio-health-checking is absent.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from impl.plugin import InitContext, Registration, SkipPlugin
from shimtypes import GRPC_PLUGIN, GRPCServer

__all__ = ["Health", "health_registration"]


class Health:
    """Holds the aio HealthServicer once registered on a server."""

    def __init__(self) -> None:
        self._servicer: Any = None

    def register(self, server: GRPCServer, /) -> None:
        from grpc_health.v1 import health, health_pb2_grpc  # type: ignore[import-untyped]

        self._servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)

    async def serving(self, services: Sequence[str], /) -> None:
        if self._servicer is None:
            return
        from grpc_health.v1 import health_pb2

        for name in ("", *services):
            await self._servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def shutting_down(self) -> None:
        if self._servicer is not None:
            await self._servicer.enter_graceful_shutdown()


def health_registration() -> Registration[Any]:
    def init(ic: InitContext[Any]) -> Health:
        for name in ("grpc", "grpc_health"):
            try:
                found = importlib.util.find_spec(name) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                raise SkipPlugin(f"{name} is not importable (install the shimtypes[grpc] extra)")
        return Health()

    return Registration(type=GRPC_PLUGIN, id="health", init=init)
