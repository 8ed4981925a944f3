"""The Python twin of tests/go/src/ttrpcpeer/echo: same service, same messages.

Both peers implement it so each test can run in either direction. Messages are
protobuf well-known types (see the Go package comment for the table).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from google.protobuf import duration_pb2, empty_pb2, wrappers_pb2

from impl.ttrpc import Code, TTRPCError
from shimtypes import TTRPCMethod, TTRPCMethodContext

SERVICE = "ttrpcpeer.Echo"
MAX_MESSAGE = 4 << 20  # stated here, not imported from impl.ttrpc: the tests check it


@dataclass
class Events:
    """What the Python handlers saw, for assertions from the test side."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    calls: dict[str, int] = field(default_factory=dict)
    sleep_arrivals: list[int] = field(default_factory=list)  # Sleep/Hang milliseconds, in start order


def _json(value: object) -> bytes:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return wrappers_pb2.StringValue(value=text).SerializeToString()


def methods(events: Events | None = None) -> dict[str, TTRPCMethod]:
    """The method table; ``events`` records Sleep/Hang progress."""
    ev = events if events is not None else Events()

    def count(name: str) -> None:
        ev.calls[name] = ev.calls.get(name, 0) + 1

    async def echo(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        count("Echo")
        msg = wrappers_pb2.BytesValue.FromString(payload)
        return msg.SerializeToString()

    async def fail(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        count("Fail")
        spec = wrappers_pb2.StringValue.FromString(payload).value
        code, sep, message = spec.partition(":")
        if not sep or not code.isdigit():
            raise TTRPCError(Code.INVALID_ARGUMENT, f"Fail wants CODE:message, got {spec!r}")
        raise TTRPCError(int(code), message)

    async def sleep(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        count(ctx.method)
        d = duration_pb2.Duration.FromString(payload)
        start = time.monotonic()
        report: dict[str, object] = {"had_deadline": ctx.deadline is not None, "deadline_ms": 0.0}
        if ctx.deadline is not None:
            report["deadline_ms"] = (ctx.deadline - start) * 1000.0
        ev.sleep_arrivals.append(round((d.seconds + d.nanos / 1e9) * 1000))
        ev.started.set()
        try:
            await asyncio.sleep(d.seconds + d.nanos / 1e9)
        except asyncio.CancelledError:
            ev.cancelled.set()
            raise
        ev.finished.set()
        report["slept_ms"] = (time.monotonic() - start) * 1000.0
        report["ctx_err"] = ""
        return _json(report)

    async def metadata(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        count("Metadata")
        empty_pb2.Empty.FromString(payload)
        return _json({k: list(v) for k, v in ctx.metadata.items()})

    async def big(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        count("Big")
        size = wrappers_pb2.UInt64Value.FromString(payload).value
        if size > 64 << 20:
            raise TTRPCError(Code.INVALID_ARGUMENT, f"Big: {size} bytes is too many")
        return wrappers_pb2.BytesValue(value=bytes(size)).SerializeToString()

    async def fail_big(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        count("FailBig")
        size = wrappers_pb2.UInt64Value.FromString(payload).value
        if size > 64 << 20:
            raise TTRPCError(Code.INVALID_ARGUMENT, f"FailBig: {size} bytes is too many")
        raise TTRPCError(Code.INTERNAL, "x" * size)

    return {
        "Echo": echo,
        "FailBig": fail_big,
        "Fail": fail,
        "Sleep": sleep,
        "Hang": sleep,  # the Python server enforces deadlines either way
        "Metadata": metadata,
        "Big": big,
    }


def bytes_value(data: bytes) -> bytes:
    return wrappers_pb2.BytesValue(value=data).SerializeToString()


def string_value(text: str) -> bytes:
    return wrappers_pb2.StringValue(value=text).SerializeToString()


def uint64_value(n: int) -> bytes:
    return wrappers_pb2.UInt64Value(value=n).SerializeToString()


def parse_bytes_value(data: bytes) -> bytes:
    return wrappers_pb2.BytesValue.FromString(data).value


def duration(seconds: float) -> bytes:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d.SerializeToString()


def parse_report(data: bytes) -> dict[str, object]:
    value = json.loads(wrappers_pb2.StringValue.FromString(data).value)
    assert isinstance(value, dict)
    return value

