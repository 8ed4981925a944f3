"""The sans-IO core's ttrpc 1.2 stream rules, byte for byte."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.ttrpc import (
    FLAG_NO_DATA,
    FLAG_REMOTE_CLOSED,
    FLAG_REMOTE_OPEN,
    MAX_MESSAGE,
    BadRequest,
    ClientConnection,
    Code,
    DataReceived,
    FrameIgnored,
    MessageTooLargeError,
    RequestReceived,
    ResponseReceived,
    ServerConnection,
)
from shimtypes.pb.ttrpc_pb2 import Request

DATA = 3


def frame(sid: int, mtype: int, data: bytes, flags: int = 0) -> bytes:
    return struct.pack(">IIBB", len(data), sid, mtype, flags) + data


def request(sid: int, flags: int = 0, payload: bytes = b"") -> bytes:
    return frame(sid, 1, Request(service="s", method="m", payload=payload).SerializeToString(), flags)


ODD = "StreamID must be odd for client initiated streams"
REUSED = "StreamID cannot be re-used and must increment"


def test_even_ids_are_refused_before_decoding_as_go_1_2_does() -> None:
    conn = ServerConnection()
    assert conn.receive_data(frame(2, 1, b"\xff\xff")) == [BadRequest(2, Code.INVALID_ARGUMENT, ODD)]
    assert conn.receive_data(frame(4, DATA, b"x")) == [BadRequest(4, Code.INVALID_ARGUMENT, ODD)]


def test_ids_must_increase() -> None:
    conn = ServerConnection()
    (ev,) = conn.receive_data(request(5))
    assert isinstance(ev, RequestReceived) and ev.stream_id == 5
    assert conn.receive_data(request(5) + request(3)) == [
        BadRequest(5, Code.INVALID_ARGUMENT, REUSED),
        BadRequest(3, Code.INVALID_ARGUMENT, REUSED),
    ]
    (ev,) = conn.receive_data(request(7))
    assert isinstance(ev, RequestReceived) and ev.stream_id == 7
    # An undecodable Request still uses its id up, as in Go.
    (bad,) = conn.receive_data(frame(9, 1, b"\xff\xff"))
    assert isinstance(bad, BadRequest) and bad.message.startswith("unmarshal request error: ")
    assert conn.receive_data(request(9)) == [BadRequest(9, Code.INVALID_ARGUMENT, REUSED)]


def test_legacy_mode_keeps_1_1_1_rules() -> None:
    conn = ServerConnection(legacy=True)
    evs = conn.receive_data(request(5) + request(5) + request(1) + frame(1, DATA, b"d"))
    assert [type(e) for e in evs] == [RequestReceived, RequestReceived, RequestReceived, FrameIgnored]


def test_data_only_for_open_streams() -> None:
    conn = ServerConnection()
    # Unknown stream (Go 1.2.0-1.2.7 panic here): ignored.
    assert conn.receive_data(frame(1, DATA, b"zz")) == [FrameIgnored(1, DATA, 0, 2)]
    conn.receive_data(request(1, FLAG_REMOTE_OPEN))
    assert conn.open_streams == 1
    evs = conn.receive_data(
        frame(1, DATA, b"a")
        + frame(1, DATA, b"", FLAG_NO_DATA)
        + frame(1, DATA, b"", FLAG_REMOTE_CLOSED | FLAG_NO_DATA)
        + frame(1, DATA, b"late")
    )
    assert evs == [
        DataReceived(1, b"a", False),
        DataReceived(1, None, False),
        DataReceived(1, None, True),
        FrameIgnored(1, DATA, 0, 4),  # after the client closed its side
    ]
    conn.receive_data(request(3, FLAG_REMOTE_OPEN))
    assert conn.receive_data(frame(3, DATA, b"")) == [DataReceived(3, b"", False)]  # an empty message
    conn.send_response(3, b"")
    assert conn.receive_data(frame(3, DATA, b"x")) == [FrameIgnored(3, DATA, 0, 1)]  # stream finished
    conn.send_data(1, None, close=True)
    assert conn.open_streams == 0


def test_unknown_types_are_ignored() -> None:
    conn = ServerConnection()
    assert conn.receive_data(frame(1, 0x7F, b"q", 0x3)) == [FrameIgnored(1, 0x7F, 3, 1)]
    (ev,) = conn.receive_data(request(1))
    assert isinstance(ev, RequestReceived)


def test_data_frames_are_go_shaped() -> None:
    server = ServerConnection()
    assert server.send_data(3, b"hi") == frame(3, DATA, b"hi")
    assert server.send_data(3, None, close=True) == frame(3, DATA, b"", FLAG_REMOTE_CLOSED | FLAG_NO_DATA)
    assert server.send_data(3, b"last", close=True) == frame(3, DATA, b"last", FLAG_REMOTE_CLOSED)
    client = ClientConnection()
    sid, out = client.send_request("s", "m", b"", flags=FLAG_REMOTE_OPEN)
    assert out == request(1, FLAG_REMOTE_OPEN)
    assert client.send_data(sid, None, close=True) == frame(1, DATA, b"", 0x05)  # Go's CloseSend
    with pytest.raises(MessageTooLargeError):
        client.send_data(sid, bytes(MAX_MESSAGE + 1))
    with pytest.raises(MessageTooLargeError):
        server.send_data(sid, bytes(MAX_MESSAGE + 1))
    assert len(server.send_data(sid, bytes(MAX_MESSAGE))) == MAX_MESSAGE + 10


def test_client_reports_data_only_for_its_streams() -> None:
    client = ClientConnection()
    unary, _ = client.send_request("s", "m", b"")
    stream, _ = client.send_request("s", "m", b"x", flags=FLAG_REMOTE_CLOSED)
    assert client.open_streams == 1
    evs = client.receive_data(
        frame(unary, DATA, b"u")
        + frame(stream, DATA, b"a")
        + frame(stream, DATA, b"", FLAG_REMOTE_CLOSED | FLAG_NO_DATA)
        + frame(stream, DATA, b"b")
        + frame(99, DATA, b"c")
    )
    assert evs == [
        FrameIgnored(unary, DATA, 0, 1),
        DataReceived(stream, b"a", False),
        DataReceived(stream, None, True),
        FrameIgnored(stream, DATA, 0, 1),
        FrameIgnored(99, DATA, 0, 1),
    ]
    other, _ = client.send_request("s", "m", b"", flags=FLAG_REMOTE_OPEN)
    (resp,) = client.receive_data(frame(other, 2, b"\x12\x01z"))
    assert resp == ResponseReceived(other, None, b"z")
    assert client.open_streams == 0  # a Response ends a stream too
    last, _ = client.send_request("s", "m", b"", flags=FLAG_REMOTE_OPEN)
    client.forget(last)
    assert client.receive_data(frame(last, DATA, b"x")) == [FrameIgnored(last, DATA, 0, 1)]


# A random exchange between the two cores: every message each side sends
# arrives as sent, in order, and each stream ends once.
ops = st.lists(
    st.tuples(st.sampled_from(["open-cs", "open-ss", "c-send", "c-close", "s-send", "s-end", "s-respond"]),
              st.integers(0, 7), st.binary(max_size=16)),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(ops, st.integers(1, 64))
def test_random_stream_exchanges_round_trip(script: list[tuple[str, int, bytes]], chunk: int) -> None:
    client, server = ClientConnection(), ServerConnection()
    opened: list[int] = []
    c_open: set[int] = set()  # client may still send
    s_open: set[int] = set()  # server may still send
    to_server: dict[int, list[bytes | None]] = {}
    to_client: dict[int, list[bytes | None]] = {}
    got_server: dict[int, list[bytes | None]] = {}
    got_client: dict[int, list[bytes | None]] = {}
    wire_c = bytearray()
    wire_s = bytearray()
    for op, pick, payload in script:
        if op.startswith("open"):
            flags = FLAG_REMOTE_OPEN if op == "open-cs" else FLAG_REMOTE_CLOSED
            sid, out = client.send_request("s", "m", payload, flags=flags)
            wire_c += out
            opened.append(sid)
            s_open.add(sid)
            if op == "open-cs":
                c_open.add(sid)
            continue
        if not opened:
            continue
        sid = opened[pick % len(opened)]
        if op == "c-send" and sid in c_open:
            wire_c += client.send_data(sid, payload)
            to_server.setdefault(sid, []).append(payload)
        elif op == "c-close" and sid in c_open:
            wire_c += client.send_data(sid, None, close=True)
            to_server.setdefault(sid, []).append(None)
            c_open.discard(sid)
        elif op == "s-send" and sid in s_open:
            wire_s += server.send_data(sid, payload)
            to_client.setdefault(sid, []).append(payload)
        elif op in ("s-end", "s-respond") and sid in s_open:
            # The server must have read the Request first: deliver the client's bytes so far.
            for i in range(0, len(wire_c), chunk):
                for ev in server.receive_data(bytes(wire_c[i : i + chunk])):
                    if isinstance(ev, DataReceived):
                        got_server.setdefault(ev.stream_id, []).append(
                            ev.payload if not ev.remote_closed else None
                        )
                    else:
                        assert isinstance(ev, RequestReceived), ev
            wire_c.clear()
            if op == "s-end":
                wire_s += server.send_data(sid, None, close=True)
            else:
                wire_s += server.send_response(sid, payload)
            to_client.setdefault(sid, []).append(None)
            s_open.discard(sid)
            c_open.discard(sid)  # what the client sends after the end is ignored
    for i in range(0, len(wire_c), chunk):
        for ev in server.receive_data(bytes(wire_c[i : i + chunk])):
            if isinstance(ev, DataReceived):
                got_server.setdefault(ev.stream_id, []).append(ev.payload if not ev.remote_closed else None)
    for i in range(0, len(wire_s), chunk):
        for ev in client.receive_data(bytes(wire_s[i : i + chunk])):
            if isinstance(ev, DataReceived):
                got_client.setdefault(ev.stream_id, []).append(ev.payload if not ev.remote_closed else None)
            else:
                assert isinstance(ev, ResponseReceived), ev
                got_client.setdefault(ev.stream_id, []).append(None)
    assert got_server == to_server
    assert got_client == to_client
    assert client.open_streams == len(s_open)


class _Sink:
    """A DataRoute recording what it is handed, flattened to (payload, last)."""

    def __init__(self) -> None:
        self.got: list[tuple[bytes | None, bool]] = []
        self.runs = 0

    def feed(self, payload: bytes | None, last: bool, /) -> bool:
        self.got.append((payload, last))
        return True

    def feed_many(self, payloads: list[bytes], /) -> bool:
        self.runs += 1
        self.got.extend((p, False) for p in payloads)
        return True


_ROUTE_FRAME = st.tuples(
    st.sampled_from([1, 3, 5]),  # stream ids the client opened
    st.sampled_from(["data", "data", "data", "nodata", "close", "closedata", "response"]),
    st.binary(max_size=20),
)


_SAME_SIZED_FRAME = st.tuples(
    st.sampled_from([1, 3]),
    st.sampled_from(["data"] * 6 + ["nodata", "closedata", "response"]),
    st.sampled_from([b"ab", b"cd", b"xy", b"", b"abc"]),  # mostly equal lengths: long runs of equal headers
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ROUTE_FRAME, max_size=40), st.integers(min_value=1, max_value=64), st.sets(st.sampled_from([1, 3, 5])))
def test_routed_data_matches_data_events(
    script: list[tuple[int, str, bytes]], chunk: int, routed: set[int]
) -> None:
    """A route sees exactly the Data the events would report, in order, in any split."""
    _check_routes(script, chunk, routed)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_SAME_SIZED_FRAME, max_size=200),
    st.integers(min_value=1, max_value=2000),
    st.sets(st.sampled_from([1, 3, 5])),
)
def test_routed_runs_of_equal_frames_match_data_events(
    script: list[tuple[int, str, bytes]], chunk: int, routed: set[int]
) -> None:
    """The same for long runs of equal-sized messages (read header by header
    column at once), broken by other streams, flags and Responses."""
    _check_routes(script, chunk, routed)


def test_stretches_of_equal_frames_longer_than_one_look_are_split_in_order() -> None:
    """Stretches longer than the frames looked at in one go, broken once by
    another stream and once by a frame of the same stream but other flags."""
    script = [(1, "data", b"%03d" % i) for i in range(700)]
    script[300] = (3, "data", b"zzz")
    script[555] = (1, "nodata", b"")
    for chunk in (1 << 20, 4096, 777):
        _check_routes(script, chunk, {1, 3})
        _check_routes(script, chunk, {1})


def _check_routes(script: list[tuple[int, str, bytes]], chunk: int, routed: set[int]) -> None:
    flags = {"data": 0, "nodata": FLAG_NO_DATA, "close": FLAG_REMOTE_CLOSED | FLAG_NO_DATA, "closedata": FLAG_REMOTE_CLOSED}
    wire = b"".join(
        frame(sid, 2, b"") if kind == "response" else frame(sid, DATA, payload, flags[kind])
        for sid, kind, payload in script
    )
    plain, fast = ClientConnection(), ClientConnection()
    sinks = {sid: _Sink() for sid in routed}
    for conn in (plain, fast):
        for _ in range(3):
            conn.send_request("s", "m", b"", flags=FLAG_REMOTE_OPEN)
    for sid, sink in sinks.items():
        assert fast.route(sid, sink)
    expected: dict[int, list[tuple[bytes | None, bool]]] = {1: [], 3: [], 5: []}
    for ev in plain.receive_data(wire):
        if isinstance(ev, DataReceived):
            expected[ev.stream_id].append((ev.payload, ev.remote_closed))
    got: dict[int, list[tuple[bytes | None, bool]]] = {1: [], 3: [], 5: []}
    for i in range(0, len(wire), chunk):
        for ev in fast.receive_data(wire[i : i + chunk]):
            if isinstance(ev, DataReceived):
                assert ev.stream_id not in routed, "a routed stream's Data came as an event"
                got[ev.stream_id].append((ev.payload, ev.remote_closed))
    for sid, sink in sinks.items():
        got[sid] = sink.got
    assert got == expected
    assert fast.open_streams == plain.open_streams


def test_a_route_gets_a_run_of_messages_at_once_and_ends_with_its_stream() -> None:
    conn = ServerConnection()
    assert conn.receive_data(request(1, FLAG_REMOTE_OPEN))[0] == RequestReceived(1, "s", "m", b"", 0, ())
    sink = _Sink()
    assert conn.route(1, sink)
    assert not conn.route(3, _Sink())  # not open: no route
    run = b"".join(frame(1, DATA, bytes([i])) for i in range(5))
    assert conn.receive_data(run + frame(1, DATA, b"z", FLAG_REMOTE_CLOSED)) == []
    assert sink.runs == 1
    assert sink.got == [(bytes([i]), False) for i in range(5)] + [(b"z", True)]
    # The client closed its side: later Data is ignored, not routed.
    assert conn.receive_data(frame(1, DATA, b"late")) == [FrameIgnored(1, DATA, 0, 4)]
    assert len(sink.got) == 6
    assert not ServerConnection(legacy=True).route(1, _Sink())


def test_a_run_after_a_frame_split_across_chunks_still_goes_at_once() -> None:
    """Reads rarely end on a frame boundary: the whole frames after the tail
    of a split one are still handed over as one run, not one by one."""
    conn = ServerConnection()
    conn.receive_data(request(1, FLAG_REMOTE_OPEN))
    sink = _Sink()
    assert conn.route(1, sink)
    wire = b"".join(frame(1, DATA, bytes([i]) * 3) for i in range(12))
    cut = len(frame(1, DATA, b"xxx")) * 4 + 5  # mid-header of the fifth frame
    for chunk in (wire[:cut], wire[cut : len(wire) - 2], wire[len(wire) - 2 :]):
        assert conn.receive_data(chunk) == []
    assert sink.got == [(bytes([i]) * 3, False) for i in range(12)]
    # The first four; the fifth, completed alone; the next six in one run; the last, completed alone.
    assert sink.runs == 2
