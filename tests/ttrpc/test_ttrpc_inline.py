"""Workers started inline (impl/ttrpc/_eager.py): a burst of calls that do
not suspend is answered inside the callback that read it, and a handler
sees one current task, one contextvars context and its own cancellation
across its first await, as it would in a Task of its own."""

from __future__ import annotations

import asyncio
import contextvars
import socket

import pytest

from impl.ttrpc import Client, ClientConnection, ResponseReceived
from impl.ttrpc._server_protocol import ServerProtocol
from shimtypes import TTRPCMethod, TTRPCMethodContext

from ._helpers import run, serving, sock_path

SVC = "inline.Test"
_var: contextvars.ContextVar[str] = contextvars.ContextVar("_var", default="unset")


async def _echo(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
    return payload


def _requests(count: int) -> tuple[bytes, list[int]]:
    conn = ClientConnection()
    frames = [conn.send_request(SVC, "Echo", b"%d" % i) for i in range(count)]
    return b"".join(frame for _, frame in frames), [sid for sid, _ in frames]


def test_a_burst_that_does_not_suspend_is_answered_before_the_loop_moves_on(
    sock_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The peer has every reply in its socket by the time the callback that
    read the requests returns: no worker Task, no later loop turn."""
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    replies = ClientConnection()
    seen: list[ResponseReceived] = []
    answered_inside = asyncio.Event()
    original = ServerProtocol.data_received

    def observed(self: ServerProtocol, data: bytes | memoryview) -> None:
        original(self, data)
        try:
            got = peer.recv(1 << 16, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        seen.extend(ev for ev in replies.receive_data(got) if isinstance(ev, ResponseReceived))
        if len(seen) == 8:
            answered_inside.set()

    monkeypatch.setattr(ServerProtocol, "data_received", observed)

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: {"Echo": _echo}}, path):
            peer.setblocking(False)
            await asyncio.get_running_loop().sock_connect(peer, path)
            burst, sids = _requests(8)
            peer.sendall(burst)
            await asyncio.wait_for(answered_inside.wait(), 10)
            assert sorted((ev.stream_id, ev.payload) for ev in seen) == [
                (sid, b"%d" % i) for i, sid in enumerate(sids)
            ]
            peer.close()

    run(main())


def test_data_fed_from_inside_a_task_is_still_answered(sock_dir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker cannot start inline inside a running task (3.11 has no
    second current task): there it is a Task of its own."""
    original = ServerProtocol.data_received
    fed: list[asyncio.Task[None]] = []

    def from_a_task(self: ServerProtocol, data: bytes | memoryview) -> None:
        chunk = bytes(data)  # the read buffer is reused once this returns

        async def feed() -> None:
            original(self, chunk)

        fed.append(asyncio.get_running_loop().create_task(feed()))

    monkeypatch.setattr(ServerProtocol, "data_received", from_a_task)

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: {"Echo": _echo}}, path):
            async with await Client.connect(path) as client:
                got = await asyncio.gather(*(client.call(SVC, "Echo", b"%d" % i) for i in range(20)))
                assert got == [b"%d" % i for i in range(20)]
        assert fed and all(t.done() and t.exception() is None for t in fed)

    run(main())


def test_a_handler_sees_one_current_task_and_context_across_its_awaits(sock_dir: str) -> None:
    async def observe(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        before = asyncio.current_task()
        assert before is not None
        _var.set(payload.decode())
        await asyncio.sleep(0)
        after_one = asyncio.current_task()
        await asyncio.sleep(0)
        after_two = asyncio.current_task()
        same = before is after_one is after_two
        return b"%s %s %s" % (b"same" if same else b"changed", _var.get().encode(), before.get_name().encode())

    async def read_var(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return _var.get().encode()

    async def main() -> None:
        path = sock_path(sock_dir)
        methods: dict[str, TTRPCMethod] = {"Observe": observe, "Read": read_var}
        async with serving({SVC: methods}, path):
            async with await Client.connect(path) as client:
                for i in range(5):
                    reply = await client.call(SVC, "Observe", b"v%d" % i)
                    same, value, name = reply.split(b" ", 2)
                    assert (same, value) == (b"same", b"v%d" % i)
                    assert name  # a name, as a Task has
                    # A later burst starts from a fresh context: nothing leaks.
                    assert await client.call(SVC, "Read", b"") == b"unset"

    run(main())


def test_a_handler_cancelling_itself_before_its_first_await_is_cancelled_there(sock_dir: str) -> None:
    async def self_cancel(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            cancelling = task.cancelling()
            task.uncancel()
            return b"cancelled at the first await (cancelling=%d)" % cancelling
        return b"not cancelled"

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: {"SelfCancel": self_cancel, "Echo": _echo}}, path):
            async with await Client.connect(path) as client:
                for _ in range(3):
                    got = await asyncio.gather(
                        client.call(SVC, "Echo", b"a"),
                        client.call(SVC, "SelfCancel", b""),
                        client.call(SVC, "Echo", b"b"),
                    )
                    assert list(got) == [b"a", b"cancelled at the first await (cancelling=1)", b"b"]

    run(main())


def test_a_timeout_entered_inline_cancels_the_handler_after_it_suspends(sock_dir: str) -> None:
    """asyncio.timeout takes the current task when entered (inline, before
    any await) and cancels it when it expires (by then a Task carries it)."""

    async def bounded(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        try:
            async with asyncio.timeout(0.02):
                await asyncio.Event().wait()
        except TimeoutError:
            task = asyncio.current_task()
            assert task is not None
            return b"timed out, cancelling=%d" % task.cancelling()
        return b"not timed out"

    async def main() -> None:
        path = sock_path(sock_dir)
        async with serving({SVC: {"Bounded": bounded, "Echo": _echo}}, path):
            async with await Client.connect(path) as client:
                got = await asyncio.gather(
                    client.call(SVC, "Bounded", b""), *(client.call(SVC, "Echo", b"%d" % i) for i in range(5))
                )
                assert got == [b"timed out, cancelling=0", *(b"%d" % i for i in range(5))]

    run(main())
