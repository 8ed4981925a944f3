"""Connections like Go's: a burst of clients is never refused, on a path or
an inherited listener, and idle connections hold no read buffer of their own."""

from __future__ import annotations

import asyncio
import socket
import tracemalloc

import pytest

from impl.ttrpc import Client, ClientConnection, Server
from impl.ttrpc._unix import listen_backlog

from ._helpers import abstract_name, echo, run, serving, sock_path

BURST = 500


def _connect_burst(addr: str, count: int) -> tuple[list[socket.socket], list[OSError]]:
    """``count`` non-blocking connects in one go: the server accepts none meanwhile."""
    socks: list[socket.socket] = []
    refused: list[OSError] = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(addr)
        except BlockingIOError as exc:  # EAGAIN: the listen queue is full
            refused.append(exc)
            s.close()
            continue
        socks.append(s)
    return socks, refused


async def _all_answer(socks: list[socket.socket]) -> None:
    clients = [await Client.connect(s) for s in socks]
    try:
        replies = await asyncio.gather(*(c.call("s", "m", b"%d" % i) for i, c in enumerate(clients)))
        assert replies == [b"%d" % i for i in range(len(clients))]
    finally:
        await asyncio.gather(*(c.close() for c in clients))


def test_backlog_is_the_system_maximum() -> None:
    with open("/proc/sys/net/core/somaxconn") as f:
        assert listen_backlog() == min(int(f.read()), 0xFFFF)


@pytest.mark.parametrize("where", ["path", "abstract"])
def test_burst_of_clients_is_not_refused(where: str, sock_dir: str) -> None:
    count = min(BURST, listen_backlog() - 1)
    assert count >= 200, "net.core.somaxconn is too small to show the difference from asyncio's 100"
    target = sock_path(sock_dir) if where == "path" else abstract_name()
    addr = target if where == "path" else "\0" + target[1:]

    async def main() -> None:
        async with serving({"s": {"m": echo}}, target):
            socks, refused = _connect_burst(addr, count)
            assert refused == [], f"{len(refused)} of {count} connects refused"
            await _all_answer(socks)

    run(main(), timeout=60)


def test_inherited_listener_is_relistened_with_the_maximum() -> None:
    count = min(BURST, listen_backlog() - 1)
    name = abstract_name()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + name[1:])
    listener.listen(5)  # as a parent process might have left it

    async def main() -> None:
        async with serving({"s": {"m": echo}}, listener):
            socks, refused = _connect_burst("\0" + name[1:], count)
            assert refused == [], f"{len(refused)} of {count} connects refused"
            await _all_answer(socks)

    run(main(), timeout=60)


def test_idle_connections_cost_little_python_memory() -> None:
    """Python heap per idle server connection, after one call each (buffers
    touched): well under the 16 KiB goal (RSS is measured in bench/ttrpc.py)."""
    n = 200
    name = abstract_name()

    async def main() -> int:
        server = Server()
        server.register_service("s", {"m": echo})
        await server.listen(name)
        socks: list[socket.socket] = []
        try:
            warm = await Client.connect(name)
            await warm.call("s", "m", b"x")
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            _, request = ClientConnection().send_request("s", "m", b"hi")
            loop = asyncio.get_running_loop()
            for _ in range(n):
                a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                a.setblocking(False)
                await loop.sock_connect(a, "\0" + name[1:])
                socks.append(a)
                await loop.sock_sendall(a, request)
            # Each raw peer reads its reply: every connection has been read and written.
            for a in socks:
                reply = await loop.sock_recv(a, 64)
                assert reply.endswith(b"hi"), reply
            after = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            await warm.close()
            return (after - before) // n
        finally:
            for a in socks:
                a.close()
            server.close()

    per_conn = run(main(), timeout=60)
    assert 0 < per_conn < 8 * 1024, f"{per_conn} bytes of Python heap per idle connection"
