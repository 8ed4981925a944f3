"""Hypothesis: the sans-IO core under random, malformed and split streams."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.ttrpc import (
    HEADER_SIZE,
    MAX_MESSAGE,
    BadRequest,
    BadResponse,
    Client,
    ClientConnection,
    Code,
    Event,
    FrameIgnored,
    MessageTooLarge,
    RemoteProtocolError,
    RequestReceived,
    ResponseReceived,
    Server,
    ServerConnection,
    Status,
    TTRPCError,
)
from shimtypes import TTRPCMethodContext
from shimtypes.pb.ttrpc_pb2 import KeyValue, Request, Response

from ._frames import Frame, frames, int64, metadata, texts, u32
from ._helpers import echo, raw_connect, run, wait_until

BOUND = HEADER_SIZE + MAX_MESSAGE

def expected_server_event(f: Frame) -> Event:
    """An independent statement of the Go 1.1.1 server rules for one frame."""
    if f.oversize:
        return MessageTooLarge(f.sid, f.mtype, MAX_MESSAGE + f.oversize)
    if f.mtype != 1:
        return FrameIgnored(f.sid, f.mtype, f.flags, len(f.data))
    try:
        req = Request.FromString(f.data)
    except DecodeError:
        return BadRequest(f.sid, Code.INVALID_ARGUMENT, "unmarshal request error")
    if f.sid % 2 == 0:
        return BadRequest(f.sid, Code.INVALID_ARGUMENT, "StreamID must be odd for client initiated streams")
    meta = tuple((kv.key, kv.value) for kv in req.metadata)
    return RequestReceived(f.sid, req.service, req.method, req.payload, req.timeout_nano, meta)


def same(got: Event, want: Event) -> bool:
    if isinstance(want, BadRequest) and want.message == "unmarshal request error":
        return (
            isinstance(got, BadRequest)
            and (got.stream_id, got.code) == (want.stream_id, want.code)
            and got.message.startswith("unmarshal request error: ")
        )
    return got == want


def feed(conn: ServerConnection | ClientConnection, stream: bytes, cuts: list[int]) -> list[Event]:
    events: list[Event] = []
    prev = 0
    for cut in sorted(set(cuts)) + [len(stream)]:
        events += conn.receive_data(stream[prev:cut])
        assert conn.buffered <= BOUND
        prev = cut
    return events


@settings(max_examples=500, deadline=None)
@given(st.lists(frames, max_size=8), st.lists(st.floats(0, 1), max_size=10))
def test_server_events_follow_the_rules_for_any_split(fs: list[Frame], fractions: list[float]) -> None:
    stream = b"".join(f.encode() for f in fs)
    cuts = [int(x * len(stream)) for x in fractions]
    conn = ServerConnection(legacy=True)  # the model states Go 1.1.1's rules
    events = feed(conn, stream, cuts)
    wanted = [expected_server_event(f) for f in fs]
    assert len(events) == len(wanted)
    assert all(same(g, w) for g, w in zip(events, wanted))
    assert conn.buffered == 0 and not conn.in_frame
    conn.receive_eof()  # ended on a frame boundary: no complaint


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(frames, max_size=3),
    st.integers(1, 64),
    st.integers(0, 0xFFFFFFFF),
    st.lists(frames, max_size=3),
    st.lists(st.floats(0, 1), max_size=6),
)
def test_oversized_frames_are_skipped_in_any_split(
    before: list[Frame], extra: int, sid: int, after: list[Frame], fractions: list[float]
) -> None:
    fs = before + [Frame(sid, 1, 0, b"", oversize=extra)] + after
    stream = b"".join(f.encode() for f in fs)
    cuts = [int(x * len(stream)) for x in fractions]
    conn = ServerConnection(legacy=True)
    events = feed(conn, stream, cuts)
    wanted = [expected_server_event(f) for f in fs]
    assert len(events) == len(wanted) and all(same(g, w) for g, w in zip(events, wanted))


@settings(max_examples=100, deadline=None)
@given(st.lists(frames, min_size=1, max_size=3))
def test_every_byte_boundary_gives_the_same_events(fs: list[Frame]) -> None:
    stream = b"".join(f.encode() for f in fs)
    whole = ServerConnection().receive_data(stream)
    for i in range(len(stream) + 1):
        conn = ServerConnection()
        assert conn.receive_data(stream[:i]) + conn.receive_data(stream[i:]) == whole


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512), st.lists(st.integers(0, 512), max_size=8))
def test_garbage_never_raises_and_stays_bounded(data: bytes, cuts: list[int]) -> None:
    for conn in (ServerConnection(), ClientConnection()):
        feed(conn, data, [c for c in cuts if c <= len(data)])
        if conn.in_frame:
            with pytest.raises(RemoteProtocolError):
                conn.receive_eof()
        else:
            conn.receive_eof()


@settings(max_examples=200, deadline=None)
@given(texts, texts, st.binary(max_size=300), int64, metadata)
def test_request_round_trip_and_go_identical_bytes(
    service: str, method: str, payload: bytes, timeout: int, md: list[tuple[str, str]]
) -> None:
    client = ClientConnection()
    client.send_request("warm", "up", b"")
    sid, out = client.send_request(service, method, payload, timeout, md)
    assert sid == 3
    want = Request(
        service=service,
        method=method,
        payload=payload,
        timeout_nano=timeout,
        metadata=[KeyValue(key=k, value=v) for k, v in md],
    ).SerializeToString(deterministic=True)
    assert out[HEADER_SIZE:] == want
    (ev,) = ServerConnection().receive_data(out)
    assert ev == RequestReceived(sid, service, method, payload, timeout, tuple(md))


@settings(max_examples=200, deadline=None)
@given(u32, st.binary(max_size=300), st.integers(1, 2**31 - 1), texts)
def test_response_round_trip(sid: int, payload: bytes, code: int, message: str) -> None:
    server = ServerConnection()
    ok = server.send_response(sid, payload)
    assert ok[HEADER_SIZE:] == Response(payload=payload).SerializeToString(deterministic=True)
    err = server.send_error(sid, code, message)
    events = ClientConnection().receive_data(ok + err)
    assert events == [ResponseReceived(sid, None, payload), ResponseReceived(sid, Status(code, message), b"")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.builds(Frame, u32, st.integers(0, 255), st.integers(0, 255), st.binary(max_size=64)), max_size=6))
def test_client_side_rules(fs: list[Frame]) -> None:
    events = ClientConnection().receive_data(b"".join(f.encode() for f in fs))
    assert len(events) == len(fs)
    for f, ev in zip(fs, events):
        if f.mtype != 2:
            assert ev == FrameIgnored(f.sid, f.mtype, f.flags, len(f.data))
            continue
        try:
            resp = Response.FromString(f.data)
        except DecodeError:
            assert isinstance(ev, BadResponse) and ev.stream_id == f.sid
            continue
        status = None
        if resp.HasField("status") and resp.status.code != 0:
            st_ = resp.status
            status = Status(st_.code, st_.message, tuple((d.type_url, d.value) for d in st_.details))
        assert ev == ResponseReceived(f.sid, status, resp.payload)


# -- a live server fed the same streams -----------------------------------------

abuse_chunks = st.lists(
    st.one_of(frames.map(Frame.encode), st.binary(max_size=64)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(abuse_chunks)
def test_live_server_answers_only_well_formed_frames(chunks: list[bytes]) -> None:
    async def main() -> None:
        name = f"\0ttrpc-h2a-fuzz-{uuid.uuid4().hex}"
        server = Server()
        server.register_service("s", {"m": echo})
        await server.listen("@" + name[1:])
        try:
            reader, writer = await raw_connect("@" + name[1:])
            for chunk in chunks:
                writer.write(chunk)
            good = await Client.connect("@" + name[1:])
            assert await good.call("s", "m", b"ping") == b"ping"
            writer.write_eof()  # the abuser half-closes; the server drops it
            replies = await reader.read()
            conn = ClientConnection()
            for ev in conn.receive_data(replies):
                assert isinstance(ev, ResponseReceived)
            assert not conn.in_frame
            assert await good.call("s", "m", b"pong") == b"pong"
            await good.close()
            writer.close()
        finally:
            server.close()

    run(main())


# -- concurrent calls with mixed handler behaviour ---------------------------------

behaviours = st.lists(
    st.tuples(
        st.sampled_from(["sync", "yield", "fail", "boom", "hang"]),
        st.integers(0, 3),  # yields before answering
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(behaviours)
def test_mixed_concurrent_calls_each_get_their_own_outcome(plan: list[tuple[str, int]]) -> None:
    cancelled: list[int] = []

    async def handler(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        i = int(payload)
        kind, yields = plan[i]
        if kind == "hang":
            # The 50 ms deadline may pass before the handler runs at all (a loaded machine):
            # the cancellation then arrives at its first await, so every await is covered.
            try:
                for _ in range(yields):
                    await asyncio.sleep(0)
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(i)
                raise
        for _ in range(yields):
            await asyncio.sleep(0)
        if kind == "fail":
            raise TTRPCError(Code.NOT_FOUND, f"nf {i}")
        if kind == "boom":
            raise ValueError(f"boom {i}")
        return b"ok %d" % i

    async def main() -> None:
        name = f"@ttrpc-h2a-mix-{uuid.uuid4().hex}"
        server = Server()
        server.register_service("s", {"m": handler})
        await server.listen(name)
        try:
            client = await Client.connect(name)

            async def one(i: int) -> str:
                timeout = 0.05 if plan[i][0] == "hang" else None
                try:
                    return (await client.call("s", "m", b"%d" % i, timeout=timeout)).decode()
                except TTRPCError as exc:
                    return f"{exc.code.name}:{exc.message}"

            got = await asyncio.gather(*(one(i) for i in range(len(plan))))
            want = []
            for i, (kind, _) in enumerate(plan):
                want.append(
                    {
                        "sync": f"ok {i}",
                        "yield": f"ok {i}",
                        "fail": f"NOT_FOUND:nf {i}",
                        "boom": f"UNKNOWN:boom {i}",
                        "hang": "DEADLINE_EXCEEDED:context deadline exceeded",
                    }[kind]
                )
            assert got == want
            hangs = sorted(i for i, (k, _) in enumerate(plan) if k == "hang")
            # The server's own deadline cancels them (the client gave up locally).
            await wait_until(lambda: sorted(cancelled) == hangs, f"handlers {hangs} to be cancelled")
            await client.close()
        finally:
            server.close()

    logging.getLogger("impl.ttrpc").disabled = True  # "boom" tracebacks by the dozen
    try:
        run(main())
    finally:
        logging.getLogger("impl.ttrpc").disabled = False
