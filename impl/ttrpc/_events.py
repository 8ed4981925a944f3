"""What the sans-IO core reports after reading bytes: one event per frame."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Status:
    """A non-OK google.rpc.Status; details stay opaque (type_url, value)."""

    code: int
    message: str
    details: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A decoded Request on an odd stream id (server side)."""

    stream_id: int
    service: str
    method: str
    payload: bytes
    timeout_nano: int
    metadata: tuple[tuple[str, str], ...]
    """Key/value pairs verbatim, in arrival order, duplicates kept."""


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A decoded Response (client side); ``status`` None means OK."""

    stream_id: int
    status: Status | None
    payload: bytes


@dataclass(frozen=True, slots=True)
class DataReceived:
    """A Data frame (ttrpc 1.2) on a stream this side knows to be open.

    ``payload`` is None for a frame flagged no-data (a bare CloseSend or end
    of stream); ``remote_closed`` says the peer sends nothing more on it.
    """

    stream_id: int
    payload: bytes | None
    remote_closed: bool


@dataclass(frozen=True, slots=True)
class MessageTooLarge:
    """A frame over 4 MiB arrived; its data was skipped without buffering.

    A server answers ResourceExhausted on ``stream_id`` and keeps going.
    """

    stream_id: int
    msg_type: int
    length: int

    @property
    def message(self) -> str:
        return f"message length {self.length} exceed maximum message size of {MAX_MESSAGE}"


@dataclass(frozen=True, slots=True)
class BadRequest:
    """A Request (or Data) frame the server must refuse with ``code`` on ``stream_id``."""

    stream_id: int
    code: Code
    message: str


@dataclass(frozen=True, slots=True)
class BadResponse:
    """A Response frame that did not decode; the call on ``stream_id`` fails."""

    stream_id: int
    message: str


@dataclass(frozen=True, slots=True)
class FrameIgnored:
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
