"""Structural service protocols, replacing the interfaces containerd removed.

containerd's "shim plugins" change took ``Service``/``TTRPCService``/
``TCPService`` out of the plugin package: the server and the shim check each
plugin instance for a method instead. These protocols are those checks; a
plain class with the right method satisfies them, no inheritance needed.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._servers import GRPCServer, TTRPCServer

__all__ = ["GRPCService", "TCPService", "TTRPCService"]


@runtime_checkable
class GRPCService(Protocol):
    """Served on the host's gRPC unix socket."""

    def register(self, server: GRPCServer, /) -> None: ...


@runtime_checkable
class TCPService(Protocol):
    """Served on the host's gRPC TCP listener (TLS when configured)."""

    def register_tcp(self, server: GRPCServer, /) -> None: ...


@runtime_checkable
class TTRPCService(Protocol):
    """Served on a ttrpc server: the host's, or the shim's own."""

    def register_ttrpc(self, server: TTRPCServer, /) -> None: ...
