"""impl.errdefs: containerd's error kinds and the gRPC codes they map to."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impl import errdefs
from impl.ttrpc import Code, TTRPCError

# containerd's errdefs.ToGRPC table (and context's two errors), written out.
CONTAINERD_TABLE = [
    (errdefs.Unknown, Code.UNKNOWN),
    (errdefs.InvalidArgument, Code.INVALID_ARGUMENT),
    (errdefs.NotFound, Code.NOT_FOUND),
    (errdefs.AlreadyExists, Code.ALREADY_EXISTS),
    (errdefs.FailedPrecondition, Code.FAILED_PRECONDITION),
    (errdefs.Unavailable, Code.UNAVAILABLE),
    (errdefs.NotImplemented, Code.UNIMPLEMENTED),
    (errdefs.Canceled, Code.CANCELLED),
    (errdefs.DeadlineExceeded, Code.DEADLINE_EXCEEDED),
    (errdefs.PermissionDenied, Code.PERMISSION_DENIED),
    (errdefs.ResourceExhausted, Code.RESOURCE_EXHAUSTED),
    (errdefs.Aborted, Code.ABORTED),
    (errdefs.OutOfRange, Code.OUT_OF_RANGE),
    (errdefs.DataLoss, Code.DATA_LOSS),
    (errdefs.Unauthenticated, Code.UNAUTHENTICATED),
    (errdefs.Internal, Code.INTERNAL),
]


@pytest.mark.parametrize(("kind", "code"), CONTAINERD_TABLE, ids=lambda v: getattr(v, "__name__", str(v)))
def test_each_kind_maps_to_containerds_code_and_back(kind: type[errdefs.Error], code: Code) -> None:
    err = kind("what went wrong")
    assert errdefs.code_of(err) == code
    back = errdefs.from_code(int(code), "msg")
    assert type(back) is kind and str(back) == "msg"
    assert isinstance(err, errdefs.Error)


def test_every_public_kind_is_in_the_table() -> None:
    kinds = {getattr(errdefs, n) for n in errdefs.__all__ if isinstance(getattr(errdefs, n), type)}
    assert kinds - {errdefs.Error} == {k for k, _ in CONTAINERD_TABLE}


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (FileNotFoundError(2, "no such bundle"), Code.NOT_FOUND),
        (FileExistsError(17, "exists"), Code.ALREADY_EXISTS),
        (PermissionError(13, "denied"), Code.PERMISSION_DENIED),
        (TimeoutError(), Code.DEADLINE_EXCEEDED),
        (NotImplementedError(), Code.UNIMPLEMENTED),
        (TTRPCError(Code.ABORTED, "peer said so"), Code.ABORTED),
        (ValueError("anything else"), Code.UNKNOWN),
        (OSError(5, "EIO"), Code.UNKNOWN),
    ],
)
def test_python_exceptions(exc: BaseException, code: Code) -> None:
    assert errdefs.code_of(exc) == code


@given(st.integers(min_value=-(1 << 40), max_value=1 << 40), st.text())
def test_from_code_total_and_round_trips(code: int, message: str) -> None:
    err = errdefs.from_code(code, message)
    assert str(err) == message
    expected = code if code in {int(c) for _, c in CONTAINERD_TABLE} else Code.UNKNOWN
    assert errdefs.code_of(err) == expected


def test_import_is_free() -> None:
    """No imports at all: the shim's start/delete processes may use it."""
    probe = "import sys; before = set(sys.modules); import impl.errdefs; print(sorted(set(sys.modules) - before))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert set(eval(out)) <= {"__future__", "impl", "impl.errdefs"}
