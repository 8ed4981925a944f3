"""containerd's CRI plugin service, structurally."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._servers import GRPCServer

__all__ = ["CRIService"]


@runtime_checkable
class CRIService(Protocol):
    """A CRI implementation: served over gRPC, run in the background, closed."""

    async def run(self) -> None: ...

    async def close(self) -> None: ...

    def register(self, server: GRPCServer, /) -> None: ...
