"""Hand-rolled encoders for the framing messages, byte-identical to gogo's.

Fields go out in number order and zero values are omitted, as Go does; this
keeps success replies free of a status field and skips protobuf object
construction on the hot path. Decoding uses the generated classes (upb).
"""

from __future__ import annotations

from collections.abc import Iterable

from .._varint import SMALL as _SMALL, varint as varint
from ._errors import LocalProtocolError

__all__ = [
    "encode_error_response",
    "encode_request",
    "encode_request_head",
    "encode_success_response",
    "varint",
]

def _field_bytes(tag: int, value: bytes) -> bytes:
    return _SMALL[tag] + varint(len(value)) + value


def encode_success_response(payload: bytes) -> bytes:
    """Response{payload}: no status field, and nothing at all for an empty payload."""
    if not payload:
        return b""
    n = len(payload)
    if n < 128:
        return b"\x12" + _SMALL[n] + payload
    return b"\x12" + varint(n) + payload


def _encode_status(code: int, message: str, details: Iterable[tuple[str, bytes]]) -> bytes:
    """google.rpc.Status; text that is not UTF-8 is replaced, never refused (an
    error reply must always go out)."""
    out = b""
    if code:
        out += b"\x08" + varint(code)
    if message:
        out += _field_bytes(0x12, message.encode("utf-8", "replace"))
    for type_url, value in details:
        any_ = b""
        if type_url:
            any_ += _field_bytes(0x0A, type_url.encode("utf-8", "replace"))
        if value:
            any_ += _field_bytes(0x12, value)
        out += _field_bytes(0x1A, any_)
    return out


def encode_error_response(
    code: int, message: str, details: Iterable[tuple[str, bytes]] = ()
) -> bytes:
    """Response{status}: the shape Go emits for an error (no payload)."""
    return _field_bytes(0x0A, _encode_status(code, message, details))


def _utf8(value: str, what: str) -> bytes:
    """Strict UTF-8 (protobuf strings must be); a lone surrogate names its field."""
    try:
        return value.encode()
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"ttrpc: {what} {value!r} is not valid UTF-8: {exc.reason}") from exc


def encode_request_head(service: str, method: str) -> bytes:
    """The service/method prefix of a Request; callers cache it per method."""
    out = b""
    if service:
        out += _field_bytes(0x0A, _utf8(service, "service"))
    if method:
        out += _field_bytes(0x12, _utf8(method, "method"))
    return out


def encode_request(
    head: bytes,
    payload: bytes,
    timeout_nano: int,
    metadata: Iterable[tuple[str, str]],
) -> bytes:
    """Request{service, method, payload, timeout_nano, metadata} after a cached head.

    Strings must be strict UTF-8: a bad one raises LocalProtocolError naming it.
    """
    out = head
    if payload:
        out += _field_bytes(0x1A, payload)
    if timeout_nano:
        out += b"\x20" + varint(timeout_nano)
    for key, value in metadata:
        kv = b""
        if key:
            kv += _field_bytes(0x0A, _utf8(key, "metadata key"))
        if value:
            kv += _field_bytes(0x12, _utf8(value, f"metadata value of {key!r}"))
        out += _field_bytes(0x2A, kv)
    return out
