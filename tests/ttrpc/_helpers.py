"""Helpers shared by the impl.ttrpc tests: servers, raw peers, handlers (the loops are ``_loops``')."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from typing import TypeVar

import _loops

from impl.ttrpc import ClientConnection, Event, RequestReceived, Server, ServerConnection, StreamMethod
from shimtypes import TTRPCMethod, TTRPCMethodContext

T = TypeVar("T")


def run(coro: Coroutine[object, object, T], timeout: float = 20.0) -> T:
    """Run one test coroutine on a fresh loop of the selected kind (``_loops``), bounded so a hang fails fast."""
    return _loops.run(coro, timeout)


def abstract_name() -> str:
    return f"@ttrpc-h2a-{uuid.uuid4().hex}"


def sock_path(d: str) -> str:
    return os.path.join(d, "t.sock")


@contextlib.asynccontextmanager
async def serving(
    services: Mapping[str, Mapping[str, TTRPCMethod | StreamMethod]],
    target: str | socket.socket,
    server: Server | None = None,
) -> AsyncIterator[Server]:
    """A server listening on ``target`` for the duration of the block."""
    srv = server if server is not None else Server()
    for name, methods in services.items():
        srv.register_service(name, methods)
    await srv.listen(target)
    task = asyncio.create_task(srv.wait_closed())
    try:
        yield srv
    finally:
        srv.close()
        await task


async def raw_connect(target: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A plain stream connection, for speaking bytes at a server directly."""
    if not target.startswith("@"):
        return await asyncio.open_unix_connection(target)
    # uvloop takes no abstract name as a path: connect the socket here.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, "\0" + target[1:])
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_unix_connection(sock=sock)


async def read_events(
    reader: asyncio.StreamReader, conn: ServerConnection | ClientConnection, count: int = 1
) -> list[Event]:
    """Read until ``conn`` has parsed at least ``count`` events; EOF first is an error."""
    events: list[Event] = []
    while len(events) < count:
        data = await reader.read(65536)
        if not data:
            raise EOFError(f"peer closed after {len(events)} of {count} events")
        events += conn.receive_data(data)
    return events


async def read_requests(reader: asyncio.StreamReader, conn: ServerConnection, count: int) -> list[RequestReceived]:
    """``read_events`` for a raw server that expects nothing but Requests."""
    events = await read_events(reader, conn, count)
    requests = [ev for ev in events if isinstance(ev, RequestReceived)]
    assert requests == events, f"expected only requests, got {events}"
    return requests


async def wait_until(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Bounded polling, only for states that signal no event (files, conn sets)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.001)


async def echo(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
    return payload


class Hang:
    """A handler that never answers; records that it started and was cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def __call__(self, ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        raise AssertionError("unreachable: the wait above never ends")
