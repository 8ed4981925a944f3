"""containerd's error kinds (``errdefs``) as exception classes, and their gRPC codes.

Raise ``NotFound``, ``AlreadyExists``, ``FailedPrecondition``... wherever the
fault is found; the service boundary maps them to a status once
(``code_of``), with the same table containerd's ``errdefs.ToGRPC`` uses, so
a client sees ``NotFound`` as containerd's own services would report it.
``from_code`` is the way back (containerd's ``errdefs.FromGRPC``).

Codes are plain ints numbered as gRPC numbers them (``impl.ttrpc.Code``
compares equal to them): this module imports nothing, so the cheapest
process (a shim's ``start``/``delete``) and any package can use it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar

__all__ = [
    "Aborted",
    "AlreadyExists",
    "Canceled",
    "DataLoss",
    "DeadlineExceeded",
    "Error",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "NotImplemented",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unknown",
    "code_of",
    "from_code",
]

# gRPC status numbers (google.rpc.Code).
_CANCELLED = 1
_UNKNOWN = 2
_INVALID_ARGUMENT = 3
_DEADLINE_EXCEEDED = 4
_NOT_FOUND = 5
_ALREADY_EXISTS = 6
_PERMISSION_DENIED = 7
_RESOURCE_EXHAUSTED = 8
_FAILED_PRECONDITION = 9
_ABORTED = 10
_OUT_OF_RANGE = 11
_UNIMPLEMENTED = 12
_INTERNAL = 13
_UNAVAILABLE = 14
_DATA_LOSS = 15
_UNAUTHENTICATED = 16


class Error(Exception):
    """Base of the error kinds; ``code`` is the gRPC status a service answers with."""

    code: ClassVar[int] = _UNKNOWN
    """The gRPC status number of this kind (``impl.ttrpc.Code`` compares equal)."""


class Unknown(Error):
    """No more specific kind applies (``errdefs.ErrUnknown``; UNKNOWN)."""

    code = _UNKNOWN


class InvalidArgument(Error):
    """The request itself is wrong, whatever the state (``ErrInvalidArgument``; INVALID_ARGUMENT)."""

    code = _INVALID_ARGUMENT


class NotFound(Error):
    """The object named does not exist (``ErrNotFound``; NOT_FOUND)."""

    code = _NOT_FOUND


class AlreadyExists(Error):
    """An object with that name exists already (``ErrAlreadyExists``; ALREADY_EXISTS)."""

    code = _ALREADY_EXISTS


class FailedPrecondition(Error):
    """The object is not in the state the call needs (``ErrFailedPrecondition``; FAILED_PRECONDITION)."""

    code = _FAILED_PRECONDITION


class Unavailable(Error):
    """The service cannot answer now; retrying may help (``ErrUnavailable``; UNAVAILABLE)."""

    code = _UNAVAILABLE


class NotImplemented(Error):  # containerd's name; shadows the builtin constant in this module only
    """The call is not supported here (``ErrNotImplemented``; UNIMPLEMENTED)."""

    code = _UNIMPLEMENTED


class Canceled(Error):
    """The caller gave up (``context.Canceled``; CANCELLED)."""

    code = _CANCELLED


class DeadlineExceeded(Error):
    """The call ran out of time (``context.DeadlineExceeded``; DEADLINE_EXCEEDED)."""

    code = _DEADLINE_EXCEEDED


class PermissionDenied(Error):
    """The caller may not do this (``ErrPermissionDenied``; PERMISSION_DENIED)."""

    code = _PERMISSION_DENIED


class ResourceExhausted(Error):
    """Out of a resource: space, memory, a quota (``ErrResourceExhausted``; RESOURCE_EXHAUSTED)."""

    code = _RESOURCE_EXHAUSTED


class Aborted(Error):
    """Gave up because of a concurrent change (``ErrAborted``; ABORTED)."""

    code = _ABORTED


class OutOfRange(Error):
    """A value past the valid range (``ErrOutOfRange``; OUT_OF_RANGE)."""

    code = _OUT_OF_RANGE


class DataLoss(Error):
    """Data was lost or corrupted (``ErrDataLoss``; DATA_LOSS)."""

    code = _DATA_LOSS


class Unauthenticated(Error):
    """The caller is not who it must be (``ErrUnauthenticated``; UNAUTHENTICATED)."""

    code = _UNAUTHENTICATED


class Internal(Error):
    """A bug or broken invariant on this side (``ErrInternal``; INTERNAL)."""

    code = _INTERNAL


_BY_CODE: dict[int, type[Error]] = {
    cls.code: cls
    for cls in (
        Unknown,
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Unavailable,
        NotImplemented,
        Canceled,
        DeadlineExceeded,
        PermissionDenied,
        ResourceExhausted,
        Aborted,
        OutOfRange,
        DataLoss,
        Unauthenticated,
        Internal,
    )
}

# Python's own exceptions that name one of the kinds unambiguously.
_BUILTIN: tuple[tuple[type[BaseException], int], ...] = (
    (FileNotFoundError, _NOT_FOUND),
    (FileExistsError, _ALREADY_EXISTS),
    (PermissionError, _PERMISSION_DENIED),
    (TimeoutError, _DEADLINE_EXCEEDED),
    (NotImplementedError, _UNIMPLEMENTED),
)


def code_of(exc: BaseException) -> int:
    """The gRPC status number for ``exc``: what a service answers when a call raised it.

    An ``Error`` gives its ``code``; an exception with an int ``code`` of
    its own (``impl.ttrpc.TTRPCError``) keeps it; ``FileNotFoundError``,
    ``FileExistsError``, ``PermissionError``, ``TimeoutError`` and
    ``NotImplementedError`` give NOT_FOUND, ALREADY_EXISTS,
    PERMISSION_DENIED, DEADLINE_EXCEEDED and UNIMPLEMENTED; anything else is
    UNKNOWN, as in containerd.
    """
    if isinstance(exc, Error):
        return exc.code
    code = getattr(exc, "code", None)
    if isinstance(code, int) and not isinstance(code, bool) and 0 < code <= _UNAUTHENTICATED:
        return int(code)
    for kind, number in _BUILTIN:
        if isinstance(exc, kind):
            return number
    return _UNKNOWN


def from_code(code: int, message: str) -> Error:
    """The error kind for a gRPC status number (``errdefs.FromGRPC``); unknown numbers give ``Unknown``."""
    return _BY_CODE.get(code, Unknown)(message)
