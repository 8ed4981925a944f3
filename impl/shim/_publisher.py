"""Events from the shim to containerd: ttrpc ``Events/Forward`` on ``TTRPC_ADDRESS``.

``publish`` stamps and validates an envelope and queues it; one worker sends
the queue in order (create before start before exit), each call with a 5 s
deadline and the ``containerd-namespace-ttrpc`` metadata, retrying a failed
envelope up to 5 times and reconnecting after a lost connection, as Go's
``RemoteEventsPublisher`` does. ``close`` waits at most 5 s for the queue.

Two envelope rules protect containerd 1.6.20: ``event`` is always set (a
Forward without it kills the daemon with a nil dereference) and the type URL
is the bare full name (``containerd.events.TaskExit``): with
``type.googleapis.com/`` the daemon accepts it but ``ctr events``, CRI and
moby cannot decode it. ``Any.Pack(type_url_prefix="")`` would give
``/containerd.events.TaskExit``, so the ``Any`` is filled in by hand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

from google.protobuf.any_pb2 import Any as AnyPB
from google.protobuf.message import Message

from impl.envelope import envelope_problem
from impl.ttrpc import Client, ClosedError, EventsClient
from shimtypes.pb.events_pb2 import Envelope, ForwardRequest

from ._address import socket_path

__all__ = ["NAMESPACE_METADATA", "RemotePublisher", "pack_event"]

NAMESPACE_METADATA: Final = "containerd-namespace-ttrpc"

_log = logging.getLogger("impl.shim.publisher")

Connector = Callable[[str], Awaitable[Client]]


def _is_message(value: object) -> bool:
    return isinstance(value, Message)


def pack_event(event: Message) -> AnyPB:
    """``event`` in an ``Any`` whose type URL is its bare full name."""
    return AnyPB(type_url=event.DESCRIPTOR.full_name, value=event.SerializeToString())


async def _connect(address: str) -> Client:
    return await Client.connect(socket_path(address))


class RemotePublisher:
    """A ``shimtypes.Publisher`` forwarding to containerd's ttrpc events service."""

    def __init__(
        self,
        address: str,
        namespace: str,
        *,
        attempts: int = 5,
        call_timeout: float = 5.0,
        retry_delay: float = 1.0,
        close_timeout: float = 5.0,
        queue_size: int = 2048,
        connect: Connector = _connect,
        logger: logging.Logger | None = None,
    ) -> None:
        self.address = address
        self.namespace = namespace
        self._attempts = attempts
        self._call_timeout = call_timeout
        self._retry_delay = retry_delay
        self._close_timeout = close_timeout
        self._connect = connect
        self._log = logger or _log
        self._queue: asyncio.Queue[Envelope] = asyncio.Queue(queue_size)
        self._client: Client | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closed = False
        self._pending = 0  # queued or being delivered
        self.forwarded: int = 0
        """Envelopes containerd acknowledged."""
        self.dropped: int = 0
        """Envelopes given up on (invalid, out of retries, or left at close)."""

    async def publish(self, topic: str, event: Message, /) -> None:
        """Queue ``event`` under ``topic``; invalid envelopes are logged and dropped."""
        if self._closed:
            self._drop(f"publisher closed; dropping {topic}")
            return
        if not _is_message(event):  # untyped callers exist; check what really came
            self._drop(f"event for {topic} is {type(event).__name__}, not a protobuf message")
            return
        envelope = Envelope(namespace=self.namespace, topic=topic, event=pack_event(event))
        envelope.timestamp.FromNanoseconds(time.time_ns())
        await self.forward(envelope)

    async def forward(self, envelope: Envelope) -> None:
        """Queue a ready-made envelope, after the same validation."""
        problem = envelope_problem(envelope, require_event=True)
        if problem is not None:
            self._drop(f"not forwarding event: {problem}")
            return
        if self._closed:
            self._drop(f"publisher closed; dropping {envelope.topic}")
            return
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="shim-publisher")
        self._pending += 1
        await self._queue.put(envelope)

    async def close(self) -> None:
        """Stop taking events, flush the queue (at most ``close_timeout``), disconnect."""
        if self._closed:
            return
        self._closed = True
        worker = self._worker
        if worker is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._queue.join()), self._close_timeout)
            except TimeoutError:
                self._log.error(
                    "publisher not closed: %d event(s) undelivered after %ss", self._pending, self._close_timeout
                )
            worker.cancel()
            try:
                await worker
            except asyncio.CancelledError:
                pass
            self.dropped += self._pending
            self._pending = 0
        await self._disconnect()

    # -- worker ---------------------------------------------------------

    async def _run(self) -> None:
        while True:
            envelope = await self._queue.get()
            try:
                await self._deliver(envelope)
                self._pending -= 1
            finally:
                self._queue.task_done()

    async def _deliver(self, envelope: Envelope) -> None:
        request = ForwardRequest(envelope=envelope)
        for attempt in range(1, self._attempts + 1):
            try:
                await self._send(request)
            except Exception as exc:
                if isinstance(exc, (ClosedError, OSError, TimeoutError)):
                    await self._disconnect()
                self._log.error(
                    "forward event %s (attempt %d/%d): %s",
                    envelope.topic,
                    attempt,
                    self._attempts,
                    str(exc) or type(exc).__name__,  # a bare TimeoutError() says nothing
                )
                if attempt < self._attempts:
                    await asyncio.sleep(self._retry_delay * attempt)
                continue
            self.forwarded += 1
            return
        self.dropped += 1
        self._log.error(
            "dropping event %s: not forwarded to %s in %d attempts", envelope.topic, self.address, self._attempts
        )

    async def _send(self, request: ForwardRequest) -> None:
        if not self.address:
            raise ConnectionError("no TTRPC_ADDRESS to forward events to")
        client = self._client
        if client is not None and not client.closed:
            try:
                await self._call(client, request)
                return
            except ClosedError:
                # A connection that died while idle (containerd restarted):
                # reconnect and retry at once, as Go's publisher does.
                await self._disconnect()
        client = await asyncio.wait_for(self._connect(self.address), self._call_timeout)
        self._client = client
        await self._call(client, request)

    async def _call(self, client: Client, request: ForwardRequest) -> None:
        await EventsClient(client).forward(
            request, timeout=self._call_timeout, metadata={NAMESPACE_METADATA: self.namespace}
        )

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.close()
            except Exception:
                pass

    def _drop(self, message: str) -> None:
        self.dropped += 1
        self._log.error("%s", message)
