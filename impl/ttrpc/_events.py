"""What the sans-IO core reports after reading bytes: one event per frame.

Events are immutable named tuples (one is built per frame, so construction
cost counts), but an event equals only an event of the same type.
"""

from __future__ import annotations

from typing import NamedTuple

from ._codes import Code
from ._frame import MAX_MESSAGE

__all__ = [
    "BadRequest",
    "BadResponse",
    "DataReceived",
    "Event",
    "FrameIgnored",
    "MessageTooLarge",
    "RequestReceived",
    "ResponseReceived",
    "Status",
]


class Status(NamedTuple):
    """A non-OK google.rpc.Status; details stay opaque (type_url, value)."""

    code: int
    message: str
    details: tuple[tuple[str, bytes], ...] = ()


class RequestReceived(NamedTuple):
    """A decoded Request on an odd stream id (server side)."""

    stream_id: int
    service: str
    method: str
    payload: bytes
    timeout_nano: int
    metadata: tuple[tuple[str, str], ...]
    """Key/value pairs verbatim, in arrival order, duplicates kept."""


class ResponseReceived(NamedTuple):
    """A decoded Response (client side); ``status`` None means OK."""

    stream_id: int
    status: Status | None
    payload: bytes


class DataReceived(NamedTuple):
    """A Data frame (ttrpc 1.2) on a stream this side knows to be open.

    ``payload`` is None for a frame flagged no-data (a bare CloseSend or end
    of stream); ``remote_closed`` says the peer sends nothing more on it.
    """

    stream_id: int
    payload: bytes | None
    remote_closed: bool


class MessageTooLarge(NamedTuple):
    """A frame over 4 MiB arrived; its data was skipped without buffering.

    A server answers ResourceExhausted on ``stream_id`` and keeps going.
    """

    stream_id: int
    msg_type: int
    length: int

    @property
    def message(self) -> str:
        return f"message length {self.length} exceed maximum message size of {MAX_MESSAGE}"


class BadRequest(NamedTuple):
    """A Request (or Data) frame the server must refuse with ``code`` on ``stream_id``."""

    stream_id: int
    code: Code
    message: str


class BadResponse(NamedTuple):
    """A Response frame that did not decode; the call on ``stream_id`` fails."""

    stream_id: int
    message: str


class FrameIgnored(NamedTuple):
    """A frame this side does not act on: an unknown type, the wrong direction,
    or Data for a stream that is not open (Go 1.2.0-1.2.7 panic on that)."""

    stream_id: int
    msg_type: int
    flags: int
    length: int


Event = (
    RequestReceived
    | ResponseReceived
    | DataReceived
    | MessageTooLarge
    | BadRequest
    | BadResponse
    | FrameIgnored
)


def _same_type_eq(self: tuple[object, ...], other: object) -> bool:
    return type(self) is type(other) and tuple.__eq__(self, other)


def _same_type_ne(self: tuple[object, ...], other: object) -> bool:
    return not _same_type_eq(self, other)


for _cls in (Status, RequestReceived, ResponseReceived, DataReceived, MessageTooLarge, BadRequest, BadResponse, FrameIgnored):
    setattr(_cls, "__eq__", _same_type_eq)
    setattr(_cls, "__ne__", _same_type_ne)
    setattr(_cls, "__hash__", tuple.__hash__)
del _cls
