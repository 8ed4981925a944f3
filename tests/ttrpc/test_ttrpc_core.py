"""Sans-IO core: framing and every protocol rule, checked as exact bytes."""

from __future__ import annotations

import struct

import pytest
from google.protobuf.any_pb2 import Any
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.ttrpc import (
    HEADER_SIZE,
    MAX_MESSAGE,
    BadRequest,
    BadResponse,
    ClientConnection,
    Code,
    FrameIgnored,
    LocalProtocolError,
    MessageTooLarge,
    MessageTooLargeError,
    RemoteProtocolError,
    RequestReceived,
    ResponseReceived,
    ServerConnection,
    Status,
)
from impl.ttrpc._frame import HEADER
from impl.ttrpc._wire import varint
from shimtypes.pb.ttrpc_pb2 import KeyValue, Request, Response
from shimtypes.pb.ttrpc_pb2 import Status as PbStatus


def frame(sid: int, mtype: int, data: bytes, flags: int = 0) -> bytes:
    return struct.pack(">IIBB", len(data), sid, mtype, flags) + data


def request_bytes(**kw: object) -> bytes:
    return Request(**kw).SerializeToString()  # type: ignore[arg-type]


# -- frames ---------------------------------------------------------------


def test_header_layout_is_big_endian_length_id_type_flags() -> None:
    assert HEADER_SIZE == 10
    assert MAX_MESSAGE == 4194304
    assert HEADER.pack(2, 0x01020304, 2, 7) == bytes.fromhex("00000002 01020304 02 07")
    # The core's own frames carry that header: length of the data only.
    out = ServerConnection().send_response(0x01020304, b"ab")
    assert out == bytes.fromhex("00000004 01020304 02 00 12 02") + b"ab"


def test_varint_negative_is_ten_bytes() -> None:
    assert varint(-1) == b"\xff" * 9 + b"\x01"
    assert varint(300) == b"\xac\x02"


# -- server side -----------------------------------------------------------


def test_request_decodes_to_event() -> None:
    conn = ServerConnection()
    data = request_bytes(
        service="echo.Echo",
        method="Echo",
        payload=b"\x0a\x02hi",
        timeout_nano=5,
        metadata=[KeyValue(key="K", value="1"), KeyValue(key="K", value="2")],
    )
    (ev,) = conn.receive_data(frame(1, 1, data))
    assert ev == RequestReceived(1, "echo.Echo", "Echo", b"\x0a\x02hi", 5, (("K", "1"), ("K", "2")))
    assert conn.buffered == 0 and not conn.in_frame


def test_success_reply_has_no_status_field_like_go() -> None:
    conn = ServerConnection()
    out = conn.send_response(1, b"\x0a\x02hi")
    assert out == bytes.fromhex("00000006 00000001 02 00 12 04 0a 02 68 69")


def test_empty_reply_is_a_zero_length_frame() -> None:
    assert ServerConnection().send_response(3, b"") == bytes.fromhex("00000000 00000003 02 00")


def test_unknown_service_status_bytes_match_go() -> None:
    out = ServerConnection().send_error(5, Code.UNIMPLEMENTED, "service nope.Svc")
    assert out[HEADER_SIZE:] == bytes.fromhex("0a 14 08 0c 12 10") + b"service nope.Svc"
    assert out[:HEADER_SIZE] == bytes.fromhex("00000016 00000005 02 00")


def test_error_frame_equals_protobuf_encoding() -> None:
    out = ServerConnection().send_error(7, Code.NOT_FOUND, "gone", [("type.x/y", b"\x01")])
    want = Response(status=PbStatus(code=5, message="gone", details=[Any(type_url="type.x/y", value=b"\x01")]))
    assert out[HEADER_SIZE:] == want.SerializeToString(deterministic=True)


def test_send_error_refuses_ok() -> None:
    with pytest.raises(LocalProtocolError):
        ServerConnection().send_error(1, Code.OK, "")


def test_oversized_reply_is_refused() -> None:
    conn = ServerConnection()
    # 4 MiB of data fits; the 2-byte field header on top no longer does.
    with pytest.raises(MessageTooLargeError, match="message length 4194305 exceed maximum message size of 4194304") as info:
        conn.send_response(1, b"\0" * (MAX_MESSAGE - 4))
    assert info.value.length == MAX_MESSAGE - 4 + 1 + 4
    ok = conn.send_response(1, b"\0" * (MAX_MESSAGE - 5))
    assert len(ok) == HEADER_SIZE + MAX_MESSAGE


def test_huge_error_message_is_cut_to_fit() -> None:
    out = ServerConnection().send_error(1, Code.UNKNOWN, "x" * (MAX_MESSAGE + 10))
    length = struct.unpack(">I", out[:4])[0]
    assert length <= MAX_MESSAGE and len(out) == HEADER_SIZE + length
    resp = Response.FromString(out[HEADER_SIZE:])
    assert resp.status.code == Code.UNKNOWN and resp.status.message.startswith("xxx")


def test_oversized_inbound_is_skipped_without_buffering_then_reported() -> None:
    conn = ServerConnection()
    n = MAX_MESSAGE + 1
    assert conn.receive_data(struct.pack(">IIBB", n, 9, 1, 0)) == []
    chunk = b"\xff" * 65536
    sent = 0
    while sent + len(chunk) < n:
        assert conn.receive_data(chunk) == []
        assert conn.buffered == 0
        sent += len(chunk)
    rest = n - sent
    follow = frame(11, 1, request_bytes(service="s", method="m"))
    events = conn.receive_data(b"\xff" * rest + follow)
    assert events == [
        MessageTooLarge(9, 1, n),
        RequestReceived(11, "s", "m", b"", 0, ()),
    ]
    tl = events[0]
    assert isinstance(tl, MessageTooLarge)
    assert tl.message == "message length 4194305 exceed maximum message size of 4194304"


def test_exactly_4mib_request_is_accepted() -> None:
    # service(3) + method(3) + payload tag(1) + 4-byte length varint + payload
    size = MAX_MESSAGE - 3 - 3 - 1 - 4
    body = request_bytes(service="s", method="m", payload=b"\x00" * size)
    assert len(body) == MAX_MESSAGE
    conn = ServerConnection()
    (ev,) = conn.receive_data(frame(1, 1, body))
    assert isinstance(ev, RequestReceived) and len(ev.payload) == size


def test_even_stream_id_is_refused_after_decoding() -> None:
    conn = ServerConnection(legacy=True)  # Go 1.1.1's order; 1.2's is in test_ttrpc_streams_core
    (ev,) = conn.receive_data(frame(2, 1, request_bytes(service="s", method="m")))
    assert ev == BadRequest(2, Code.INVALID_ARGUMENT, "StreamID must be odd for client initiated streams")
    # Go decodes first: garbage on an even id is an unmarshal error.
    (ev,) = conn.receive_data(frame(4, 1, b"\x0a\x05ab"))
    assert isinstance(ev, BadRequest) and ev.message.startswith("unmarshal request error: ")


def test_undecodable_request() -> None:
    (ev,) = ServerConnection().receive_data(frame(1, 1, b"\xff\xff\xff"))
    assert isinstance(ev, BadRequest)
    assert ev.stream_id == 1 and ev.code == Code.INVALID_ARGUMENT
    assert ev.message.startswith("unmarshal request error: ")


def test_data_unknown_types_and_responses_are_ignored_by_server() -> None:
    conn = ServerConnection()
    stream = frame(1, 3, b"abc") + frame(3, 0x7F, b"") + frame(5, 2, b"\x12\x00")
    assert conn.receive_data(stream) == [
        FrameIgnored(1, 3, 0, 3),
        FrameIgnored(3, 0x7F, 0, 0),
        FrameIgnored(5, 2, 0, 2),
    ]


def test_flags_are_ignored() -> None:
    (ev,) = ServerConnection().receive_data(frame(1, 1, request_bytes(service="s", method="m"), flags=0xFF))
    assert ev == RequestReceived(1, "s", "m", b"", 0, ())


def test_byte_at_a_time_gives_the_same_events() -> None:
    stream = frame(1, 1, request_bytes(service="a", method="b", payload=b"xyz")) + frame(3, 1, b"") + frame(5, 3, b"q")
    whole = ServerConnection().receive_data(stream)
    conn = ServerConnection()
    events = []
    for i in range(len(stream)):
        events += conn.receive_data(stream[i : i + 1])
    assert events == whole and len(whole) == 3


# -- client side -------------------------------------------------------------


def test_client_ids_are_odd_and_increasing() -> None:
    conn = ClientConnection()
    ids = [conn.send_request("s", "m", b"")[0] for _ in range(4)]
    assert ids == [1, 3, 5, 7]


def test_client_request_bytes_equal_protobuf() -> None:
    conn = ClientConnection()
    sid, out = conn.send_request("containerd.task.v2.Task", "Create", b"\x0a\x01x", -5, [("k", "v"), ("k", "")])
    want = Request(
        service="containerd.task.v2.Task",
        method="Create",
        payload=b"\x0a\x01x",
        timeout_nano=-5,
        metadata=[KeyValue(key="k", value="v"), KeyValue(key="k", value="")],
    ).SerializeToString(deterministic=True)
    assert out == struct.pack(">IIBB", len(want), sid, 1, 0) + want


def test_client_refuses_oversize_without_using_an_id() -> None:
    conn = ClientConnection()
    with pytest.raises(MessageTooLargeError):
        conn.send_request("s", "m", b"\0" * MAX_MESSAGE)
    assert conn.send_request("s", "m", b"")[0] == 1


def test_client_id_space_exhaustion_is_a_local_error() -> None:
    conn = ClientConnection()
    conn._next_id = 0xFFFFFFFF
    assert conn.send_request("s", "m", b"")[0] == 0xFFFFFFFF
    with pytest.raises(LocalProtocolError):
        conn.send_request("s", "m", b"")


def test_client_decodes_responses() -> None:
    conn = ClientConnection()
    ok = frame(1, 2, b"\x12\x02hi")
    err = frame(3, 2, bytes.fromhex("0a 14 08 0c 12 10") + b"service nope.Svc")
    ok_status = frame(5, 2, Response(status=PbStatus(code=0), payload=b"p").SerializeToString())
    bad = frame(7, 2, b"\x0a\x09")
    req = frame(9, 1, b"")
    events = conn.receive_data(ok + err + ok_status + bad + req)
    assert events[:3] == [
        ResponseReceived(1, None, b"hi"),
        ResponseReceived(3, Status(12, "service nope.Svc"), b""),
        ResponseReceived(5, None, b"p"),
    ]
    assert isinstance(events[3], BadResponse) and events[3].stream_id == 7
    assert events[3].message.startswith("ttrpc: unmarshal response error: ")
    assert events[4:] == [FrameIgnored(9, 1, 0, 0)]


def test_oversized_response_is_reported_to_the_client() -> None:
    conn = ClientConnection()
    n = MAX_MESSAGE + 3
    events = conn.receive_data(struct.pack(">IIBB", n, 1, 2, 0) + b"\0" * n)
    assert events == [MessageTooLarge(1, 2, n)]


def test_eof_mid_frame_is_a_remote_protocol_error() -> None:
    conn = ServerConnection()
    conn.receive_eof()  # clean boundary: fine
    conn.receive_data(b"\x00\x00")
    with pytest.raises(RemoteProtocolError, match="after 2 of 10 header bytes"):
        conn.receive_eof()
    conn = ServerConnection()
    conn.receive_data(frame(7, 1, b"abcdef")[:13])
    with pytest.raises(RemoteProtocolError, match="after 3 of 6 data bytes on stream 7"):
        conn.receive_eof()
    conn = ServerConnection()
    conn.receive_data(struct.pack(">IIBB", MAX_MESSAGE + 5, 9, 1, 0) + b"x" * 100)
    with pytest.raises(RemoteProtocolError, match="after 100 of 4194309 bytes of an oversized frame on stream 9"):
        conn.receive_eof()


def test_timeout_must_fit_int64() -> None:
    conn = ClientConnection()
    with pytest.raises(LocalProtocolError, match="int64"):
        conn.send_request("s", "m", b"", 2**63)
    assert conn.send_request("s", "m", b"", 2**63 - 1)[0] == 1


_TEXT = st.text(max_size=140)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.builds(
            lambda s, m, p, t, md: Request(
                service=s, method=m, payload=p, timeout_nano=t,
                metadata=[KeyValue(key=k, value=v) for k, v in md],
            ).SerializeToString(),
            _TEXT, _TEXT, st.binary(max_size=20000), st.sampled_from([0, 0, 0, 5, -1]),
            st.lists(st.tuples(_TEXT, _TEXT), max_size=2) | st.just([]),
        ),
        st.binary(max_size=300),
        # A well-formed head followed by arbitrary bytes, and non-UTF-8 names.
        st.tuples(st.binary(max_size=3), st.binary(max_size=3), st.binary(max_size=40)).map(
            lambda t: b"\x0a" + bytes([len(t[0])]) + t[0] + b"\x12" + bytes([len(t[1])]) + t[1] + t[2]
        ),
    )
)
def test_request_decoding_matches_protobuf(body: bytes) -> None:
    """The server reads a plain Request without protobuf: what it reports is what protobuf decodes."""
    (ev,) = ServerConnection().receive_data(struct.pack(">IIBB", len(body), 1, 1, 0) + body)
    try:
        req = Request.FromString(body)
    except DecodeError:
        assert isinstance(ev, BadRequest)
        return
    meta = tuple((kv.key, kv.value) for kv in req.metadata)
    assert ev == RequestReceived(1, req.service, req.method, req.payload, req.timeout_nano, meta)
