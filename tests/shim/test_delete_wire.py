"""The hand-encoded DeleteResponse is byte for byte what protobuf produces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impl.shim import encode_delete_response
from shimtypes.pb.task_pb2 import DeleteResponse

u32 = st.integers(0, 2**32 - 1)
timestamps = st.none() | st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**31), 2**31 - 1))


def reference(pid: int, exit_status: int, exited_at: tuple[int, int] | None) -> bytes:
    msg = DeleteResponse(pid=pid, exit_status=exit_status)
    if exited_at is not None:
        msg.exited_at.SetInParent()
        msg.exited_at.seconds, msg.exited_at.nanos = exited_at
    return msg.SerializeToString()


@given(u32, u32, timestamps)
def test_matches_protobuf(pid: int, exit_status: int, exited_at: tuple[int, int] | None) -> None:
    data = encode_delete_response(pid, exit_status, exited_at)
    assert data == reference(pid, exit_status, exited_at)
    back = DeleteResponse.FromString(data)
    assert (back.pid, back.exit_status, back.HasField("exited_at")) == (pid, exit_status, exited_at is not None)
    if exited_at is not None:
        assert (back.exited_at.seconds, back.exited_at.nanos) == exited_at


def test_go_zero_time_and_empty() -> None:
    # Go's zero time.Time, as containerd would send it back.
    go_zero = (-62135596800, 0)
    assert encode_delete_response(0, 0, go_zero) == reference(0, 0, go_zero)
    assert encode_delete_response(0, 0, None) == b""
    assert encode_delete_response(0, 0, (0, 0)) == b"\x1a\x00"


@pytest.mark.parametrize(
    ("pid", "status", "ts"),
    [(-1, 0, None), (2**32, 0, None), (0, -1, None), (0, 0, (2**63, 0)), (0, 0, (0, 2**31))],
)
def test_out_of_range_is_rejected(pid: int, status: int, ts: tuple[int, int] | None) -> None:
    with pytest.raises(ValueError, match="DeleteResponse"):
        encode_delete_response(pid, status, ts)
