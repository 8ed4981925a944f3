"""Hypothesis strategies for raw ttrpc frames, shared by the fuzz and audit tests."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hypothesis import strategies as st

from impl.ttrpc.lowlevel import MAX_MESSAGE
from shimtypes.pb.ttrpc_pb2 import KeyValue, Request

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
u32 = st.integers(0, 0xFFFFFFFF)
int64 = st.integers(-(2**63), 2**63 - 1)
metadata = st.lists(st.tuples(texts, texts), max_size=4)


@dataclass(frozen=True)
class Frame:
    sid: int
    mtype: int
    flags: int
    data: bytes
    oversize: int = 0  # >0: a header announcing MAX_MESSAGE + oversize bytes

    def encode(self) -> bytes:
        if self.oversize:
            n = MAX_MESSAGE + self.oversize
            return struct.pack(">IIBB", n, self.sid, self.mtype, self.flags) + b"\x5a" * n
        return struct.pack(">IIBB", len(self.data), self.sid, self.mtype, self.flags) + self.data


@st.composite
def request_frames(draw: st.DrawFn) -> Frame:
    req = Request(
        service=draw(texts),
        method=draw(texts),
        payload=draw(st.binary(max_size=64)),
        timeout_nano=draw(int64),
        metadata=[KeyValue(key=k, value=v) for k, v in draw(metadata)],
    )
    return Frame(draw(u32), 1, draw(st.integers(0, 255)), req.SerializeToString())


any_frames = st.builds(Frame, u32, st.integers(0, 255), st.integers(0, 255), st.binary(max_size=64))
garbage_requests = st.builds(Frame, u32, st.just(1), st.integers(0, 255), st.binary(max_size=64))
frames = st.one_of(request_frames(), any_frames, garbage_requests)
