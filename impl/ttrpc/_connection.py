"""Sans-IO ttrpc connections: bytes in -> events out, calls -> bytes out.

No sockets and no event loop here, h11-style, so that every framing rule can
be tested byte for byte and fuzzed. Memory is bounded: at most one partial
frame (header + 4 MiB) is ever buffered; oversized frames are skipped as they
stream past.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from google.protobuf.message import DecodeError

from shimtypes.pb.ttrpc_pb2 import Request, Response

from ._codes import Code
from ._errors import LocalProtocolError, MessageTooLargeError, RemoteProtocolError
from ._events import (
    BadRequest,
    BadResponse,
    DataReceived,
    Event,
    FrameIgnored,
    MessageTooLarge,
    RequestReceived,
    ResponseReceived,
    Status,
)
from ._frame import (
    FLAG_NO_DATA,
    FLAG_REMOTE_CLOSED,
    HEADER,
    HEADER_SIZE,
    MAX_MESSAGE,
    MAX_STREAM_ID,
    MessageType,
)
from .._varint import SMALL as _SMALL
from ._wire import (
    encode_error_response,
    encode_request,
    encode_request_head,
    varint,
)

__all__ = ["ClientConnection", "DataRoute", "ServerConnection"]

class DataRoute(Protocol):
    """Where a routed stream's Data goes (a stream's inbox)."""

    def feed(self, payload: bytes | None, last: bool, /) -> object:
        """One frame: its message (None: flagged no-data); ``last``: the peer closed."""
        ...

    def feed_many(self, payloads: list[bytes], /) -> object:
        """A run of plain messages (no flags) that arrived together, in order."""
        ...

_unpack_header = HEADER.unpack_from
_pack_header = HEADER.pack
_REQUEST = int(MessageType.REQUEST)
_RESPONSE = int(MessageType.RESPONSE)
_DATA = int(MessageType.DATA)
_ODD_MSG = "StreamID must be odd for client initiated streams"
_REUSED_MSG = "StreamID cannot be re-used and must increment"
_EMPTY_META: tuple[tuple[str, str], ...] = ()


_HEADS: dict[bytes, tuple[str, str]] = {}
"""Service and method by the bytes of a Request's head (a pure function, shared)."""


def _plain_request(body: bytes) -> tuple[str, str, bytes] | None:
    """Service, method and payload of a Request that is just fields 1, 2
    and 3 in that order with short lengths (what clients send for a call
    without deadline or metadata), read without a protobuf decode; None
    for anything else, which is left to protobuf."""
    n = len(body)
    if n < 4 or body[0] != 0x0A:
        return None
    i = 2 + body[1]
    if body[1] & 0x80 or i + 2 > n or body[i] != 0x12 or body[i + 1] & 0x80:
        return None
    e = i + 2 + body[i + 1]
    if e > n:
        return None
    head = body[:e]
    names = _HEADS.get(head)
    if names is None:
        try:
            names = (body[2:i].decode(), body[i + 2 : e].decode())
        except UnicodeDecodeError:
            return None
        if len(_HEADS) < 1024:
            _HEADS[head] = names
    if e == n:
        return names[0], names[1], b""
    if e + 2 > n or body[e] != 0x1A:
        return None
    size = body[e + 1]
    if size == n - e - 2:
        return names[0], names[1], body[e + 2 :]
    if size & 0x80 and e + 3 <= n and 0 < body[e + 2] < 0x80 and (size & 0x7F) | body[e + 2] << 7 == n - e - 3:
        return names[0], names[1], body[e + 3 :]
    return None


_MIN_STRIDE = 8
"""Equal frames a stretch must have for ``_repeats`` to be worth trying again."""
_STRIDE_SPAN = 256
"""Frames ``_repeats`` looks at in one go: its work stays in proportion to
what it finds, whatever a peer sends (a longer stretch takes several goes)."""


def _repeats(data: bytes, pos: int, size: int, most: int) -> int:
    """How many ``size``-byte frames from ``pos`` (at most ``most``, at least
    one) carry exactly the header of the first: each header byte is read
    for all of them at once, as one strided slice."""
    stop = pos + most * size
    count = most
    for i in range(pos, pos + HEADER_SIZE):
        column = data[i:stop:size]
        rest = len(column.lstrip(column[:1]))
        if rest:
            count -= rest
            stop -= rest * size
    return count


class _FrameReader:
    """Splits a byte stream into frames; subclasses turn frames into events."""

    __slots__ = ("_buf", "_length", "_stream_id", "_type", "_flags", "_discard", "_routes")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._length = -1  # -1: reading a header; else data length awaited
        self._stream_id = 0
        self._type = 0
        self._flags = 0
        self._discard = 0  # bytes of an oversized frame still to skip
        self._routes: dict[int, DataRoute] = {}

    def route(self, stream_id: int, deliver: DataRoute) -> bool:
        """Hand this open stream's Data straight to ``deliver`` from inside
        ``receive_data`` instead of as DataReceived events (no event per
        message; a run of messages in one chunk in one ``feed_many``); False
        (and no route) if its Data would not be reported. The route goes when
        the stream ends or on ``unroute``."""
        if not self._reports_data(stream_id):
            return False
        self._routes[stream_id] = deliver
        return True

    def unroute(self, stream_id: int) -> None:
        """Report this stream's Data as events again (if it is still open)."""
        if self._routes:
            self._routes.pop(stream_id, None)

    def _reports_data(self, stream_id: int) -> bool:
        raise NotImplementedError

    def _data_closed(self, stream_id: int) -> None:
        """A routed stream's peer closed its side."""
        raise NotImplementedError

    @property
    def buffered(self) -> int:
        """Bytes held for a partial frame; never above HEADER_SIZE + MAX_MESSAGE."""
        return len(self._buf)

    @property
    def in_frame(self) -> bool:
        """True in the middle of a frame (at EOF: the peer sent a truncated one)."""
        return bool(self._buf) or self._length >= 0 or self._discard > 0

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed bytes as they arrive, in any split; returns completed events."""
        events: list[Event] = []
        if type(data) is not bytes:
            data = bytes(data)
        end = len(data)
        pos = 0
        buf = self._buf
        frame = self._frame
        routes = self._routes
        view: memoryview | None = None
        while True:
            if self._length < 0 and not buf and not self._discard:
                # Between frames: take every whole frame from here at once.
                pos = self._whole_frames(data, pos, end, events)
            if pos >= end:
                break
            # The rest is a frame that does not fit in this chunk, or the
            # tail of one begun in an earlier chunk: one step at a time.
            if view is None:
                view = memoryview(data)  # append to buf without a slice copy
            if self._discard:
                take = min(self._discard, end - pos)
                pos += take
                self._discard -= take
                if not self._discard:
                    events.append(MessageTooLarge(self._stream_id, self._type, self._length))
                    self._length = -1
                continue
            if self._length < 0:
                if not buf and end - pos >= HEADER_SIZE:
                    length, sid, mtype, flags = _unpack_header(data, pos)
                    pos += HEADER_SIZE
                else:
                    take = min(HEADER_SIZE - len(buf), end - pos)
                    buf += view[pos : pos + take]
                    pos += take
                    if len(buf) < HEADER_SIZE:
                        break
                    length, sid, mtype, flags = _unpack_header(buf)
                    buf.clear()
                self._stream_id = sid
                self._type = mtype
                self._flags = flags
                self._length = length
                if length > MAX_MESSAGE:
                    self._discard = length
                    continue
                if length:
                    continue
                body = b""
            else:
                length = self._length
                if not buf and end - pos >= length:
                    body = data[pos : pos + length]
                    pos += length
                else:
                    take = min(length - len(buf), end - pos)
                    buf += view[pos : pos + take]
                    pos += take
                    if len(buf) < length:
                        break
                    body = bytes(buf)
                    buf.clear()
            self._length = -1
            sid = self._stream_id
            flags = self._flags
            if routes and self._type == _DATA:
                deliver = routes.get(sid)
                if deliver is not None:
                    last = bool(flags & FLAG_REMOTE_CLOSED)
                    if last:
                        del routes[sid]
                        self._data_closed(sid)
                    deliver.feed(None if flags & FLAG_NO_DATA else body, last)
                    continue
            event = frame(sid, self._type, flags, body)
            if event is not None:
                events.append(event)
        return events

    def _whole_frames(self, data: bytes, pos: int, end: int, events: list[Event]) -> int:
        """Handle the whole frames of ``data`` from ``pos`` (which starts a
        frame); returns where the first incomplete or oversized one starts.
        Plain Data frames in a row for one routed stream are handed over as
        one run, before any other frame is looked at."""
        frame = self._frame
        routes = self._routes
        run: list[bytes] = []
        run_sid = -1
        run_length = -1
        stride = True  # look for a stretch of equal frames (until it stops paying)
        run_to: DataRoute | None = None
        while end - pos >= HEADER_SIZE:
            length, sid, mtype, flags = _unpack_header(data, pos)
            start = pos + HEADER_SIZE
            stop = start + length
            if length > MAX_MESSAGE or stop > end:
                break
            if sid == run_sid and mtype == _DATA and not flags:
                if length == run_length and stride:
                    # The second same-sized message in a row: take every
                    # frame from here that repeats this header, at once.
                    size = HEADER_SIZE + length
                    count = _repeats(data, pos, size, min((end - pos) // size, _STRIDE_SPAN))
                    if count < _MIN_STRIDE:
                        stride = False
                    stop = pos + count * size
                    run += [data[at : at + length] for at in range(start, start + count * size, size)]
                else:
                    run.append(data[start:stop])
                    run_length = length
                pos = stop
                continue
            pos = stop
            if run_to is not None:
                run_to.feed_many(run)
                run = []
                run_sid = -1
                run_to = None
            if routes and mtype == _DATA:
                deliver = routes.get(sid)
                if deliver is not None:
                    if not flags:
                        run_sid = sid
                        run_length = length
                        run_to = deliver
                        run.append(data[start:stop])
                    elif flags & FLAG_REMOTE_CLOSED:
                        del routes[sid]
                        self._data_closed(sid)
                        deliver.feed(None if flags & FLAG_NO_DATA else data[start:stop], True)
                    else:
                        deliver.feed(None if flags & FLAG_NO_DATA else data[start:stop], False)
                    continue
            event = frame(sid, mtype, flags, data[start:stop])
            if event is not None:
                events.append(event)
        if run_to is not None:
            run_to.feed_many(run)
        return pos

    def receive_eof(self) -> None:
        """The peer closed. Raises RemoteProtocolError if it stopped mid-frame.

        Every other fault a peer can commit is recoverable in ttrpc and is
        reported as an event instead.
        """
        if self._discard:
            got = self._length - self._discard
            raise RemoteProtocolError(
                f"ttrpc: peer closed after {got} of {self._length} bytes of an oversized "
                f"frame on stream {self._stream_id}"
            )
        if self._length >= 0:
            raise RemoteProtocolError(
                f"ttrpc: peer closed after {len(self._buf)} of {self._length} data bytes "
                f"on stream {self._stream_id}"
            )
        if self._buf:
            raise RemoteProtocolError(
                f"ttrpc: peer closed after {len(self._buf)} of {HEADER_SIZE} header bytes"
            )

    def _frame(self, stream_id: int, msg_type: int, flags: int, body: bytes) -> Event | None:
        raise NotImplementedError


class ServerConnection(_FrameReader):
    """The server half: Requests and Data in, Responses and Data out.

    By default the rules are Go ttrpc 1.2's: stream ids must be odd and
    strictly increasing (checked before the Request is decoded), and a Data
    frame is reported only for a stream that is open (a Request arrived, no
    final frame was sent, the client has not closed its side); any other Data
    frame is ignored, where Go 1.2.0-1.2.7 panic. With ``legacy=True`` they are
    1.1.1's: ids need only be odd (checked after decoding), Data is ignored.
    Unknown frame types are ignored either way.
    """

    __slots__ = ("_legacy", "_last_id", "_open")

    def __init__(self, *, legacy: bool = False) -> None:
        super().__init__()
        self._legacy = legacy
        self._last_id = 0
        # Open streams: id -> whether the client has closed its sending side.
        self._open: dict[int, bool] = {}

    @property
    def open_streams(self) -> int:
        """Streams with a Request received and no final frame sent yet."""
        return len(self._open)

    def _reports_data(self, stream_id: int) -> bool:
        return not self._legacy and self._open.get(stream_id) is False

    def _data_closed(self, stream_id: int) -> None:
        self._open[stream_id] = True

    def _end(self, stream_id: int) -> None:
        self._open.pop(stream_id, None)
        if self._routes:
            self._routes.pop(stream_id, None)

    def _frame(self, stream_id: int, msg_type: int, flags: int, body: bytes) -> Event | None:
        if self._legacy:
            return self._frame_1_1(stream_id, msg_type, flags, body)
        if msg_type == _REQUEST:
            if not stream_id & 1:
                return BadRequest(stream_id, Code.INVALID_ARGUMENT, _ODD_MSG)
            if stream_id <= self._last_id:
                return BadRequest(stream_id, Code.INVALID_ARGUMENT, _REUSED_MSG)
            self._last_id = stream_id
            plain = _plain_request(body)
            if plain is not None:
                self._open[stream_id] = False
                return RequestReceived(stream_id, plain[0], plain[1], plain[2], 0, _EMPTY_META)
            try:
                req = Request.FromString(body)
            except DecodeError as exc:
                return BadRequest(stream_id, Code.INVALID_ARGUMENT, f"unmarshal request error: {exc}")
            self._open[stream_id] = False
            md = req.metadata
            meta = tuple((kv.key, kv.value) for kv in md) if md else _EMPTY_META
            return RequestReceived(stream_id, req.service, req.method, req.payload, req.timeout_nano, meta)
        if msg_type == _DATA:
            if not stream_id & 1:
                return BadRequest(stream_id, Code.INVALID_ARGUMENT, _ODD_MSG)
            if self._open.get(stream_id, True):  # not open, or the client closed it
                return FrameIgnored(stream_id, msg_type, flags, len(body))
            closed = bool(flags & FLAG_REMOTE_CLOSED)
            if closed:
                self._open[stream_id] = True
            return DataReceived(stream_id, None if flags & FLAG_NO_DATA else body, closed)
        return FrameIgnored(stream_id, msg_type, flags, len(body))

    def _frame_1_1(self, stream_id: int, msg_type: int, flags: int, body: bytes) -> Event | None:
        if msg_type != _REQUEST:
            return FrameIgnored(stream_id, msg_type, flags, len(body))
        try:
            req = Request.FromString(body)
        except DecodeError as exc:
            return BadRequest(stream_id, Code.INVALID_ARGUMENT, f"unmarshal request error: {exc}")
        # Go 1.1.1 decodes first, then checks the id; keep that order.
        if not stream_id & 1:
            return BadRequest(stream_id, Code.INVALID_ARGUMENT, _ODD_MSG)
        md = req.metadata
        meta = tuple((kv.key, kv.value) for kv in md) if md else _EMPTY_META
        return RequestReceived(stream_id, req.service, req.method, req.payload, req.timeout_nano, meta)

    def send_data(self, stream_id: int, payload: bytes | None, *, close: bool = False) -> bytes:
        """A Data frame of a server stream; ``close`` ends the stream (no
        Response follows). ``payload`` None sends the no-data flag, so
        ``send_data(id, None, close=True)`` is the end of a server stream.
        Raises MessageTooLargeError over 4 MiB."""
        flags = 0
        if payload is None:
            flags = FLAG_NO_DATA
            payload = b""
        elif len(payload) > MAX_MESSAGE:
            raise MessageTooLargeError(len(payload), MAX_MESSAGE)
        if close:
            flags |= FLAG_REMOTE_CLOSED
            self._end(stream_id)
        return _pack_header(len(payload), stream_id, _DATA, flags) + payload

    def send_response(self, stream_id: int, payload: bytes) -> bytes:
        """A success frame (no status field). Raises MessageTooLargeError over 4 MiB."""
        if self._open:
            self._end(stream_id)
        size = len(payload)
        if size < 128:
            if not size:  # an empty message: a frame with no data at all
                return _pack_header(0, stream_id, _RESPONSE, 0)
            return b"".join((_pack_header(size + 2, stream_id, _RESPONSE, 0), b"\x12", _SMALL[size], payload))
        # Header, tag, length and payload copied once (a large reply is not
        # concatenated twice); the bytes are those of encode_success_response.
        length = varint(size)
        n = 1 + len(length) + size
        if n > MAX_MESSAGE:
            raise MessageTooLargeError(n, MAX_MESSAGE)
        return b"".join((_pack_header(n, stream_id, _RESPONSE, 0), b"\x12", length, payload))

    def send_error(
        self,
        stream_id: int,
        code: int,
        message: str,
        details: Iterable[tuple[str, bytes]] = (),
    ) -> bytes:
        """An error frame; a message too long to fit is cut, never over 4 MiB.

        A code outside int32 (google.rpc.Status.code) would not decode on the
        peer, so it goes out as UNKNOWN.
        """
        if code == Code.OK:
            raise LocalProtocolError("an error response needs a non-OK code")
        if not -(2**31) <= code < 2**31:
            code = Code.UNKNOWN
        details = tuple(details)
        data = encode_error_response(code, message, details)
        if len(data) > MAX_MESSAGE:
            details = ()
            data = encode_error_response(code, message[: MAX_MESSAGE // 8], details)
        if self._open:
            self._end(stream_id)
        return _pack_header(len(data), stream_id, _RESPONSE, 0) + data


class ClientConnection(_FrameReader):
    """The client half: odd, strictly increasing stream ids; Responses and Data in."""

    __slots__ = ("_next_id", "_heads", "_streams")

    def __init__(self) -> None:
        super().__init__()
        self._next_id = 1
        self._heads: dict[tuple[str, str], bytes] = {}
        # Streams opened (Request with flags) that the server has not ended.
        self._streams: set[int] = set()

    @property
    def open_streams(self) -> int:
        """Streams opened here that have not seen their last frame."""
        return len(self._streams)

    def forget(self, stream_id: int) -> None:
        """Stop reporting Data for a stream (it was cancelled locally)."""
        self._streams.discard(stream_id)
        if self._routes:
            self._routes.pop(stream_id, None)

    def _reports_data(self, stream_id: int) -> bool:
        return stream_id in self._streams

    def _data_closed(self, stream_id: int) -> None:
        self._streams.discard(stream_id)

    def send_request(
        self,
        service: str,
        method: str,
        payload: bytes,
        timeout_nano: int = 0,
        metadata: Iterable[tuple[str, str]] = (),
        flags: int = 0,
    ) -> tuple[int, bytes]:
        """Allocate the next id and build its frame, as one step.

        ``flags`` 0 is a unary call; a stream opens with FLAG_REMOTE_OPEN
        (the client sends Data next) or FLAG_REMOTE_CLOSED (it does not).

        Raises MessageTooLargeError rather than send over 4 MiB, and
        LocalProtocolError for a string that is not UTF-8, a timeout outside
        int64, or once the 32-bit id space is used up; no id is used by a
        refused request.
        """
        if not -(2**63) <= timeout_nano < 2**63:
            raise LocalProtocolError(f"ttrpc: timeout_nano {timeout_nano} does not fit in int64")
        key = (service, method)
        head = self._heads.get(key)
        if head is None:
            head = encode_request_head(service, method)
            if len(self._heads) < 1024:
                self._heads[key] = head
        if timeout_nano or metadata:
            data = encode_request(head, payload, timeout_nano, metadata)
        elif payload:  # the common call: field 3 (payload) after the head
            size = len(payload)
            data = b"".join((head, b"\x1a", _SMALL[size] if size < 128 else varint(size), payload))
        else:
            data = head
        n = len(data)
        if n > MAX_MESSAGE:
            raise MessageTooLargeError(n, MAX_MESSAGE)
        sid = self._next_id
        if sid > MAX_STREAM_ID:
            raise LocalProtocolError("ttrpc: stream ids exhausted on this connection")
        self._next_id = sid + 2
        if flags:
            self._streams.add(sid)
        return sid, _pack_header(n, sid, _REQUEST, flags) + data

    def send_data(self, stream_id: int, payload: bytes | None, *, close: bool = False) -> bytes:
        """A Data frame on a stream this client opened; ``send_data(id, None,
        close=True)`` is CloseSend. Raises MessageTooLargeError over 4 MiB."""
        flags = 0
        if payload is None:
            flags = FLAG_NO_DATA
            payload = b""
        elif len(payload) > MAX_MESSAGE:
            raise MessageTooLargeError(len(payload), MAX_MESSAGE)
        if close:
            flags |= FLAG_REMOTE_CLOSED
        return _pack_header(len(payload), stream_id, _DATA, flags) + payload

    def _frame(self, stream_id: int, msg_type: int, flags: int, body: bytes) -> Event | None:
        if msg_type != _RESPONSE:
            if msg_type == _DATA and stream_id in self._streams:
                closed = bool(flags & FLAG_REMOTE_CLOSED)
                if closed:
                    self._streams.discard(stream_id)
                return DataReceived(stream_id, None if flags & FLAG_NO_DATA else body, closed)
            # Unknown types, Requests, and Data for a unary call or an ended stream.
            return FrameIgnored(stream_id, msg_type, flags, len(body))
        if self._streams:
            self._streams.discard(stream_id)
            if self._routes:
                self._routes.pop(stream_id, None)
        # A success is mostly just field 2 (payload) with a 1- or 2-byte
        # length: read it without a protobuf decode. Anything else decodes.
        n = len(body)
        if not n:
            return ResponseReceived(stream_id, None, b"")
        if n > 1 and body[0] == 0x12:
            size = body[1]
            if size == n - 2:
                return ResponseReceived(stream_id, None, body[2:])
            if size & 0x80 and n > 2 and body[2] < 0x80 and (size & 0x7F) | body[2] << 7 == n - 3 and body[2]:
                return ResponseReceived(stream_id, None, body[3:])
        try:
            resp = Response.FromString(body)
        except DecodeError as exc:
            return BadResponse(stream_id, f"ttrpc: unmarshal response error: {exc}")
        if resp.HasField("status") and resp.status.code != 0:
            st = resp.status
            status: Status | None = Status(
                st.code, st.message, tuple((d.type_url, d.value) for d in st.details)
            )
        else:
            status = None
        return ResponseReceived(stream_id, status, resp.payload)
