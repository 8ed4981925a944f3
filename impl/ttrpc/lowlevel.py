"""impl.ttrpc.lowlevel: the sans-IO ttrpc core, for writing your own I/O layer.

``ServerConnection``/``ClientConnection`` turn received bytes into events and
calls into bytes, with no sockets and no event loop (as h11 does); the asyncio
``Server`` and ``Client`` in ``impl.ttrpc`` are built on them.
"""

from __future__ import annotations

from ._connection import ClientConnection as ClientConnection, ServerConnection as ServerConnection
from ._errors import (
    LocalProtocolError as LocalProtocolError,
    MessageTooLargeError as MessageTooLargeError,
    ProtocolError as ProtocolError,
    RemoteProtocolError as RemoteProtocolError,
)
from ._events import (
    BadRequest as BadRequest,
    BadResponse as BadResponse,
    DataReceived as DataReceived,
    Event as Event,
    FrameIgnored as FrameIgnored,
    MessageTooLarge as MessageTooLarge,
    RequestReceived as RequestReceived,
    ResponseReceived as ResponseReceived,
    Status as Status,
)
from ._frame import (
    FLAG_NO_DATA as FLAG_NO_DATA,
    FLAG_REMOTE_CLOSED as FLAG_REMOTE_CLOSED,
    FLAG_REMOTE_OPEN as FLAG_REMOTE_OPEN,
    HEADER_SIZE as HEADER_SIZE,
    MAX_MESSAGE as MAX_MESSAGE,
    MessageType as MessageType,
)
from ._public import public_module

__all__ = [
    "FLAG_NO_DATA",
    "FLAG_REMOTE_CLOSED",
    "FLAG_REMOTE_OPEN",
    "HEADER_SIZE",
    "MAX_MESSAGE",
    "BadRequest",
    "BadResponse",
    "ClientConnection",
    "DataReceived",
    "Event",
    "FrameIgnored",
    "LocalProtocolError",
    "MessageTooLarge",
    "MessageTooLargeError",
    "MessageType",
    "ProtocolError",
    "RemoteProtocolError",
    "RequestReceived",
    "ResponseReceived",
    "ServerConnection",
    "Status",
]

public_module(globals(), __name__, skip={"LocalProtocolError", "MessageTooLargeError", "ProtocolError", "RemoteProtocolError"})
