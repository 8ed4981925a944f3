"""Shim, Publisher, Init, and the option records a shim author is handed."""

from collections.abc import Awaitable, Callable
from typing import assert_type

from google.protobuf.message import Message

from shimtypes import (
    DeleteResponse,
    Init,
    Publisher,
    Shim,
    ShimContext,
    StartOpts,
    TaskExit,
    TaskService,
)


def expects_shim(shim: Shim) -> None: ...
def expects_publisher(publisher: Publisher) -> None: ...
def expects_init(init: Init) -> None: ...


# --- Shim: two synchronous methods; a TaskService is NOT required.

class ExampleShim:
    def __init__(self, context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> None:
        self.context = context
        self.publisher = publisher
        self.shutdown = shutdown

    def cleanup(self) -> DeleteResponse:
        return DeleteResponse(exit_status=137)

    def start_shim(self, opts: StartOpts) -> str:
        return f"unix:///run/shim/{opts.namespace}/{opts.id}.sock"


def a_shim_need_not_be_a_task_service(context: ShimContext, publisher: Publisher) -> None:
    shim = ExampleShim(context, publisher, lambda: None)
    expects_shim(shim)
    task: TaskService = shim  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    del task


class MissingCleanup:
    def start_shim(self, opts: StartOpts, /) -> str:
        return ""


class MissingStartShim:
    def cleanup(self) -> DeleteResponse:
        return DeleteResponse()


class GoNamedShim:
    def Cleanup(self) -> DeleteResponse:
        return DeleteResponse()

    def StartShim(self, opts: StartOpts, /) -> str:
        return ""


class AsyncCleanup:
    """cleanup runs on the `delete` path, which must not need an event loop."""

    async def cleanup(self) -> DeleteResponse:
        return DeleteResponse()

    def start_shim(self, opts: StartOpts, /) -> str:
        return ""


class BytesAddress:
    def cleanup(self) -> DeleteResponse:
        return DeleteResponse()

    def start_shim(self, opts: StartOpts, /) -> bytes:
        return b""


class ContextInsteadOfOpts:
    def cleanup(self) -> DeleteResponse:
        return DeleteResponse()

    def start_shim(self, opts: ShimContext, /) -> str:
        return ""


class CleanupReturnsExitCode:
    def cleanup(self) -> int:
        return 0

    def start_shim(self, opts: StartOpts, /) -> str:
        return ""


expects_shim(MissingCleanup())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_shim(MissingStartShim())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_shim(GoNamedShim())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_shim(AsyncCleanup())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_shim(BytesAddress())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_shim(ContextInsteadOfOpts())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_shim(CleanupReturnsExitCode())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


# --- Publisher: async publish(topic, message) and async close().

class NullPublisher:
    async def publish(self, topic: str, event: Message, /) -> None: ...
    async def close(self) -> None: ...


class KeywordPublisher:
    """Positional-only in the protocol, so any parameter names will do."""

    async def publish(self, topic: str, message: Message) -> None: ...
    async def close(self) -> None: ...


class TaskExitOnlyPublisher:
    """Too narrow: publishers are handed every kind of event."""

    async def publish(self, topic: str, event: TaskExit, /) -> None: ...
    async def close(self) -> None: ...


class SyncPublisher:
    def publish(self, topic: str, event: Message, /) -> None: ...
    async def close(self) -> None: ...


class NoClosePublisher:
    async def publish(self, topic: str, event: Message, /) -> None: ...


class SyncClosePublisher:
    async def publish(self, topic: str, event: Message, /) -> None: ...
    def close(self) -> None: ...


class BytesTopicPublisher:
    async def publish(self, topic: bytes, event: Message, /) -> None: ...
    async def close(self) -> None: ...


expects_publisher(NullPublisher())
expects_publisher(KeywordPublisher())
expects_publisher(TaskExitOnlyPublisher())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_publisher(SyncPublisher())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_publisher(NoClosePublisher())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_publisher(SyncClosePublisher())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_publisher(BytesTopicPublisher())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


async def publishes(publisher: Publisher) -> None:
    assert_type(await publisher.publish("/tasks/exit", TaskExit(container_id="c1")), None)
    await publisher.publish("/tasks/exit", {"container_id": "c1"})  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await publisher.close()


# --- Init: (context, publisher, shutdown) -> Shim.

def init(context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> ExampleShim:
    return ExampleShim(context, publisher, shutdown)


def init_any_names(ctx: ShimContext, pub: Publisher, stop: Callable[[], object]) -> Shim:
    """Accepting a wider shutdown callable is fine."""
    return ExampleShim(ctx, pub, lambda: None)


def init_without_shutdown(context: ShimContext, publisher: Publisher) -> ExampleShim:
    return ExampleShim(context, publisher, lambda: None)


def init_async_shutdown(
    context: ShimContext, publisher: Publisher, shutdown: Callable[[], Awaitable[None]]
) -> ExampleShim:
    return ExampleShim(context, publisher, lambda: None)


def init_start_opts(opts: StartOpts, publisher: Publisher, shutdown: Callable[[], None]) -> ExampleShim:
    raise NotImplementedError


def init_returns_address(context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> str:
    return ""


async def init_async(context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> ExampleShim:
    return ExampleShim(context, publisher, shutdown)


expects_init(init)
expects_init(init_any_names)
expects_init(ExampleShim)  # the class itself is a fine Init
expects_init(lambda context, publisher, shutdown: ExampleShim(context, publisher, shutdown))
expects_init(init_without_shutdown)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_init(init_async_shutdown)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_init(init_start_opts)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_init(init_returns_address)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_init(init_async)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
expects_init(MissingCleanup)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def runner(make: Init, context: ShimContext, publisher: Publisher) -> None:
    shim = make(context, publisher, lambda: None)
    assert_type(shim, Shim)
    assert_type(shim.cleanup(), DeleteResponse)
    assert_type(shim.cleanup().exit_status, int)


# --- StartOpts / ShimContext: immutable records.

opts = StartOpts(
    id="c1",
    namespace="default",
    address="/run/containerd/containerd.sock",
    ttrpc_address="/run/containerd/containerd.sock.ttrpc",
    containerd_binary="/usr/bin/containerd",
)
assert_type(opts.debug, bool)
assert_type(opts.ttrpc_address, str)
StartOpts(id="c1", namespace="default")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
opts.debug = True  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]

context = ShimContext("c1", "default", "/b", "/run/c.sock", "/run/c.sock.ttrpc", "/usr/bin/containerd", debug=True)
assert_type(context.bundle, str)
context.bundle = "/elsewhere"  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
ShimContext("c1", "default", "/b", "/run/c.sock", "/run/c.sock.ttrpc", "/usr/bin/containerd", "yes")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
