"""Typed layer: a method described by its wire name and message classes.

Handlers and stubs built from a ``MethodSpec`` take and return messages, so
mypy checks request/response types end to end while the raw layer stays bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import DecodeError, Message

from shimtypes import TTRPCMethod, TTRPCMethodContext

from ._client import Client, Metadata
from ._codes import Code
from ._errors import TTRPCError

__all__ = [
    "MethodSpec",
    "ServiceSpec",
    "call_unary",
    "unary_handler",
    "unary_handler_with_context",
]

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


@dataclass(frozen=True, slots=True)
class MethodSpec(Generic[Req, Resp]):
    """One unary method: wire name (e.g. ``"State"``) and message classes.

    Invariant in both types on purpose: a covariant spec would let a checker
    widen ``Resp`` to ``Message`` and accept a handler answering with the
    wrong message.
    """

    name: str
    request: type[Req]
    response: type[Resp]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A service: full wire name and its methods by wire name."""

    name: str
    methods: Mapping[str, MethodSpec[Any, Any]]


def _decode(cls: type[Req], payload: bytes) -> Req:
    try:
        return cls.FromString(payload)
    except DecodeError as exc:
        raise TTRPCError(Code.INTERNAL, f"ttrpc: error unmarshalling payload: {exc}") from None


def _encode(msg: object, ctx: TTRPCMethodContext) -> bytes:
    if msg is None:  # Go's words for a nil reply
        raise TTRPCError(Code.UNKNOWN, "ttrpc: marshal called with nil")
    if not isinstance(msg, Message):
        raise TypeError(
            f"ttrpc: handler {ctx.service}/{ctx.method} returned {type(msg).__name__}, not a protobuf message"
        )
    return msg.SerializeToString()


def unary_handler(spec: MethodSpec[Req, Resp], fn: Callable[[Req], Awaitable[Resp]]) -> TTRPCMethod:
    """Wrap ``async fn(request) -> response`` as a raw ttrpc method."""
    request_cls = spec.request

    async def method(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return _encode(await fn(_decode(request_cls, payload)), ctx)

    return method


def unary_handler_with_context(
    spec: MethodSpec[Req, Resp],
    fn: Callable[[TTRPCMethodContext, Req], Awaitable[Resp]],
) -> TTRPCMethod:
    """Like ``unary_handler`` for handlers that need metadata, deadline or peer."""
    request_cls = spec.request

    async def method(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return _encode(await fn(ctx, _decode(request_cls, payload)), ctx)

    return method


async def call_unary(
    client: Client,
    service: str,
    spec: MethodSpec[Req, Resp],
    request: Req,
    *,
    timeout: float | None = None,
    metadata: Metadata | None = None,
) -> Resp:
    """Call ``service``/``spec.name`` with a message; decode the typed reply."""
    payload = await client.call(
        service, spec.name, request.SerializeToString(), timeout=timeout, metadata=metadata
    )
    try:
        return spec.response.FromString(payload)
    except DecodeError as exc:
        raise TTRPCError(Code.INTERNAL, f"ttrpc: error unmarshalling payload: {exc}") from None
