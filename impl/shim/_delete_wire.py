"""``containerd.task.v2.DeleteResponse`` encoded by hand, for the ``delete`` action.

``delete`` prints one small message and exits; importing protobuf for it
would cost more than the rest of ``delete`` on containerd's critical path. The encoding is proto3's:
fields in number order, zero scalars and an absent timestamp omitted.
``tests/shim/test_delete_wire.py`` checks byte equality with protobuf.
"""

from __future__ import annotations

from .._varint import varint as _varint

__all__ = ["encode_delete_response"]


def encode_delete_response(pid: int, exit_status: int, exited_at: tuple[int, int] | None) -> bytes:
    """``DeleteResponse{1 pid u32, 2 exit_status u32, 3 exited_at Timestamp{1 seconds, 2 nanos}}``.

    ``exited_at`` is ``(seconds, nanos)`` or ``None`` for no timestamp.
    Raises ``ValueError`` for values outside the fields' types.
    """
    if not 0 <= pid <= 0xFFFFFFFF or not 0 <= exit_status <= 0xFFFFFFFF:
        raise ValueError(f"DeleteResponse: pid {pid} / exit_status {exit_status} out of uint32 range")
    out = bytearray()
    if pid:
        out += b"\x08" + _varint(pid)
    if exit_status:
        out += b"\x10" + _varint(exit_status)
    if exited_at is not None:
        seconds, nanos = exited_at
        if not -(1 << 63) <= seconds < 1 << 63 or not -(1 << 31) <= nanos < 1 << 31:
            raise ValueError(f"DeleteResponse.exited_at: ({seconds}, {nanos}) out of int64/int32 range")
        ts = bytearray()
        if seconds:
            ts += b"\x08" + _varint(seconds)
        if nanos:
            ts += b"\x10" + _varint(nanos)
        out += b"\x1a" + _varint(len(ts)) + ts
    return bytes(out)
