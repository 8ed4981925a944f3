"""What a shim author implements, and what the shim runner hands them.

As in containerd's "shim plugins" change, a ``Shim`` only needs ``cleanup``
and ``start_shim``; it is served as a task service only if it *also*
structurally is a ``TaskService``. Both methods are synchronous because they
run on the ``start``/``delete`` paths, which must not pay for an event loop.
The option records are NamedTuples for the same reason: immutable, and free
to import (dataclasses would add to the start path's import time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from .pb.task_pb2 import DeleteResponse

__all__ = ["Init", "Publisher", "Shim", "ShimContext", "StartOpts"]


class StartOpts(NamedTuple):
    """What ``start`` knows when it must start (or find) the serving shim."""

    id: str
    namespace: str
    address: str
    """containerd's gRPC address (``-address``)."""
    ttrpc_address: str
    """containerd's ttrpc address (``TTRPC_ADDRESS``), where events go."""
    containerd_binary: str
    """``-publish-binary``."""
    debug: bool = False


class ShimContext(NamedTuple):
    """The flags and environment a shim process was started with."""

    id: str
    namespace: str
    bundle: str
    """Absolute bundle directory (the shim's working directory)."""
    address: str
    ttrpc_address: str
    containerd_binary: str
    debug: bool = False


@runtime_checkable
class Publisher(Protocol):
    """Sends events to containerd; ``close`` flushes what is still queued."""

    async def publish(self, topic: str, event: Message, /) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class Shim(Protocol):
    """The two actions containerd runs as separate, short-lived processes."""

    def cleanup(self) -> DeleteResponse:
        """``delete``: tidy up after the container; must be idempotent."""
        ...

    def start_shim(self, opts: StartOpts, /) -> str:
        """``start``: start (or find) the serving shim and return its address."""
        ...


class Init(Protocol):
    """Builds the shim; called by the runner for every action.

    ``shutdown`` asks the serving process to exit once it is safe to.
    """

    def __call__(
        self, context: ShimContext, publisher: Publisher, shutdown: Callable[[], None], /
    ) -> Shim: ...
