"""Exceptions: call failures a peer reported, and protocol faults by side.

``TTRPCError`` is what crosses the wire (a status); ``ClosedError`` is the
connection going away; the two ``*ProtocolError`` classes say whose bytes were
wrong, as h11 does, so that callers can tell a bug here from a bad peer.
"""

from __future__ import annotations

from ._codes import Code

DEADLINE_MESSAGE = "context deadline exceeded"
"""Go's words for an expired deadline (context.DeadlineExceeded), both sides."""

__all__ = [
    "DEADLINE_MESSAGE",
    "ClosedError",
    "LocalProtocolError",
    "MessageTooLargeError",
    "ProtocolError",
    "RemoteProtocolError",
    "TTRPCError",
]


class TTRPCError(Exception):
    """A call failed with a gRPC status; raise it in a handler to send one."""

    code: Code
    message: str
    wire_code: int
    """The number as sent or received; differs from ``code`` only for
    numbers outside the gRPC table, which ``code`` shows as UNKNOWN."""

    details: tuple[tuple[str, bytes], ...]
    """google.protobuf.Any entries of the status as (type_url, value)."""

    def __init__(
        self,
        code: Code | int,
        message: str,
        *,
        details: tuple[tuple[str, bytes], ...] = (),
    ) -> None:
        super().__init__(message)
        self.details = details
        self.wire_code = int(code)
        try:
            self.code = Code(code)
        except ValueError:
            self.code = Code.UNKNOWN
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.name}, {self.message!r})"


class ClosedError(TTRPCError, ConnectionError):
    """The connection is gone ("ttrpc: closed", as Go says for EOF/EPIPE/reset).

    Both a ``TTRPCError`` (code UNAVAILABLE) and a ``ConnectionError``, so
    either ``except`` clause catches it.
    """

    def __init__(self, message: str = "ttrpc: closed") -> None:
        TTRPCError.__init__(self, Code.UNAVAILABLE, message)


class ProtocolError(Exception):
    """Base of protocol faults detected by the sans-IO core."""


class LocalProtocolError(ProtocolError):
    """We were asked to put something on the wire that the protocol forbids."""


class MessageTooLargeError(LocalProtocolError):
    """An outbound frame would exceed the 4 MiB data limit."""

    def __init__(self, length: int, limit: int) -> None:
        # Go's wording, verbatim: peers and tests match on it.
        super().__init__(f"message length {length} exceed maximum message size of {limit}")
        self.length = length
        self.limit = limit


class RemoteProtocolError(ProtocolError):
    """The peer broke the stream irrecoverably (closed in the middle of a frame).

    Recoverable peer faults (oversize, undecodable messages, even ids) are
    events, because ttrpc answers them and carries on.
    """
