"""The slices of a server that a service needs in order to register itself.

containerd's services register on a concrete ``*grpc.Server`` or
``*ttrpc.Server``. Here they register on these protocols instead, so that
shimtypes never imports grpcio and any conforming server (``grpc.Server``,
``grpc.aio.Server``, ``impl.ttrpc.Server``) can be handed in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, TypeAlias

__all__ = [
    "GRPCServer",
    "PeerCredentials",
    "TTRPCMethod",
    "TTRPCMethodContext",
    "TTRPCServer",
]


class GRPCServer(Protocol):
    """What grpcio's generated ``add_*Servicer_to_server`` functions call.

    Both ``grpc.Server`` and ``grpc.aio.Server`` satisfy it.
    """

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Iterable[Any], /) -> None: ...

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, Any], /
    ) -> None: ...


class PeerCredentials(NamedTuple):
    """The connecting process as ``SO_PEERCRED`` reports it at connect time."""

    pid: int
    uid: int
    gid: int


class TTRPCMethodContext(Protocol):
    """What a raw ttrpc handler learns about the call it serves."""

    @property
    def service(self) -> str: ...

    @property
    def method(self) -> str: ...

    @property
    def metadata(self) -> Mapping[str, Sequence[str]]:
        """Lower-cased keys; repeated values kept in arrival order."""
        ...

    @property
    def deadline(self) -> float | None:
        """``time.monotonic()`` value after which the call has expired, if any."""
        ...

    @property
    def peer(self) -> PeerCredentials | None: ...


TTRPCMethod: TypeAlias = Callable[[TTRPCMethodContext, bytes], Awaitable[bytes]]
"""A raw ttrpc method: serialized request in, serialized response out."""


class TTRPCServer(Protocol):
    """The part of a ttrpc server a service uses to register its methods."""

    def register_service(self, name: str, methods: Mapping[str, TTRPCMethod], /) -> None: ...
