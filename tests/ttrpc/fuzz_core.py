"""Coverage-guided fuzzing of the sans-IO core with atheris (run by hand, not by pytest).

    . .venv/bin/activate && pip install atheris
    python tests/ttrpc/fuzz_core.py -atheris_runs=2000000          # or -max_total_time=300
    python tests/ttrpc/fuzz_core.py CRASH_FILE                     # replay one input

The input is split into a control prefix and a byte stream. The stream goes to
a ServerConnection and a ClientConnection, whole and cut at fuzzer-chosen
offsets; the invariants are those of the hypothesis tests, checked against an
independent frame parser: same events for every split, nothing but a
RemoteProtocolError at EOF (and only mid-frame), memory bounded by the limit,
every reply the server would write within 4 MiB. A second mode builds a
request from fuzzed strings and checks it round-trips through the server side.
"""

from __future__ import annotations

import importlib
import struct
import sys
from typing import Any

from impl.ttrpc import (
    HEADER_SIZE,
    MAX_MESSAGE,
    BadRequest,
    ClientConnection,
    Code,
    Event,
    LocalProtocolError,
    MessageTooLarge,
    RemoteProtocolError,
    RequestReceived,
    ServerConnection,
)

BOUND = HEADER_SIZE + MAX_MESSAGE
_HEAD = struct.Struct(">IIBB")


def reference_frames(stream: bytes) -> tuple[list[tuple[int, int, int, int]], bool]:
    """(length, id, type, flags) of each complete frame, and whether a frame is cut off."""
    out: list[tuple[int, int, int, int]] = []
    pos = 0
    while len(stream) - pos >= HEADER_SIZE:
        length, sid, mtype, flags = _HEAD.unpack_from(stream, pos)
        if len(stream) - pos - HEADER_SIZE < length:
            return out, True
        out.append((length, sid, mtype, flags))
        pos += HEADER_SIZE + length
    return out, pos != len(stream)


def feed(conn: ServerConnection | ClientConnection, stream: bytes, cuts: list[int]) -> list[Event]:
    events: list[Event] = []
    prev = 0
    for cut in sorted(set(c for c in cuts if 0 <= c <= len(stream))) + [len(stream)]:
        events += conn.receive_data(stream[prev:cut])
        assert conn.buffered <= BOUND, conn.buffered
        prev = cut
    return events


def check_stream(stream: bytes, cuts: list[int]) -> None:
    frames, truncated = reference_frames(stream)
    for make in (ServerConnection, ClientConnection):
        whole_conn = make()
        whole = whole_conn.receive_data(stream)
        split_conn = make()
        split = feed(split_conn, stream, cuts)
        assert whole == split, (make.__name__, whole, split)
        assert len(whole) == len(frames), (whole, frames)
        for ev, (length, sid, mtype, _flags) in zip(whole, frames):
            assert ev.stream_id == sid
            if length > MAX_MESSAGE:
                assert ev == MessageTooLarge(sid, mtype, length)
        for conn in (whole_conn, split_conn):
            assert conn.in_frame == truncated
            try:
                conn.receive_eof()
            except RemoteProtocolError:
                assert truncated
            else:
                assert not truncated
        if isinstance(whole_conn, ServerConnection):
            for ev in whole:
                check_server_reply(whole_conn, ev)


def check_server_reply(conn: ServerConnection, ev: Event) -> None:
    """Whatever the server answers to an event fits in one legal frame."""
    if isinstance(ev, RequestReceived):
        assert ev.stream_id & 1
        frames = [
            conn.send_error(ev.stream_id, Code.UNIMPLEMENTED, f"service {ev.service}"),
            conn.send_error(ev.stream_id, Code.UNIMPLEMENTED, f"method {ev.method}"),
            conn.send_response(ev.stream_id, ev.payload),
        ]
    elif isinstance(ev, (BadRequest, MessageTooLarge)):
        code = ev.code if isinstance(ev, BadRequest) else Code.RESOURCE_EXHAUSTED
        frames = [conn.send_error(ev.stream_id, code, ev.message)]
    else:
        return
    for f in frames:
        assert len(f) <= BOUND and _HEAD.unpack_from(f)[0] == len(f) - HEADER_SIZE


def check_request(service: str, method: str, payload: bytes, timeout: int, md: list[tuple[str, str]]) -> None:
    client = ClientConnection()
    try:
        sid, frame = client.send_request(service, method, payload, timeout, md)
    except LocalProtocolError as exc:
        assert "not valid UTF-8" in str(exc) or "int64" in str(exc), exc
        return
    assert sid == 1 and len(frame) <= BOUND
    (ev,) = ServerConnection().receive_data(frame)
    assert ev == RequestReceived(1, service, method, payload, timeout, tuple(md)), ev


def one_input(data: bytes) -> None:
    fdp: Any = _atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 3)
    if mode == 0:
        service = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 40))
        method = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 40))
        md = [
            (fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 10)), fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 10)))
            for _ in range(fdp.ConsumeIntInRange(0, 4))
        ]
        timeout = fdp.ConsumeIntInRange(-(2**63), 2**63 - 1)
        check_request(service, method, fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200)), timeout, md)
        return
    cuts = [fdp.ConsumeIntInRange(0, 4096) for _ in range(fdp.ConsumeIntInRange(0, 8))]
    stream = fdp.ConsumeBytes(sys.maxsize)
    if mode == 3 and len(stream) >= HEADER_SIZE:
        # Make the first header announce an oversized frame, then carry on with the rest.
        n = MAX_MESSAGE + 1 + (stream[0] % 7)
        stream = _HEAD.pack(n, *_HEAD.unpack_from(stream)[1:]) + b"\0" * n + stream[HEADER_SIZE:]
        cuts.append(HEADER_SIZE + n // 2)
    check_stream(stream, cuts)


_atheris: Any = None


def main() -> None:
    global _atheris
    _atheris = importlib.import_module("atheris")
    _atheris.instrument_all()  # coverage feedback from impl.ttrpc (and protobuf's Python parts)
    _atheris.Setup(sys.argv, one_input)
    _atheris.Fuzz()


if __name__ == "__main__":
    main()
