"""Domain errors to gRPC statuses.

The host's plugins raise ``impl.errdefs`` kinds (or exceptions that map to
one); ``impl.errdefs.code_of`` picks the status, as containerd's
``errdefs.ToGRPC`` does. The ttrpc server maps them itself; gRPC handlers
end their call with ``abort_grpc``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from impl.errdefs import code_of

if TYPE_CHECKING:
    from grpc import aio

__all__ = ["abort_grpc"]


async def abort_grpc(context: aio.ServicerContext[Any, Any], exc: BaseException) -> NoReturn:
    """End a gRPC call with the status for ``exc``."""
    import grpc

    code = code_of(exc)
    status = next((s for s in grpc.StatusCode if s.value[0] == code), grpc.StatusCode.UNKNOWN)
    await context.abort(status, str(exc))
    raise AssertionError("unreachable: abort raises")  # pragma: no cover
