"""The shim's plugin set: what the program registered, then ``publisher``, then ``task``."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from impl.loader import LoadPolicy, load
from impl.plugin import IDRegisteredError, InitContext, Registration
from impl.shim import TaskPlugin
from impl.shim import shim_plugins
from impl.ttrpc import Client, Server, TTRPCError
from shimtypes import EVENT_PLUGIN, INTERNAL_PLUGIN, TASK_SERVICE_NAME, TTRPC_PLUGIN, Publisher, ShimContext

from .shimprog import MemShim, PlainShim


class NullPublisher:
    async def publish(self, topic: str, event: object, /) -> None:
        return None

    async def close(self) -> None:
        return None


def _ctx(bundle: str = "/bundle") -> ShimContext:
    return ShimContext("id", "ns", bundle, "/c.sock", "", "containerd")


class Extra:
    def __init__(self, ic: InitContext[Any]) -> None:
        self.root, self.state = ic.root, ic.state
        self.publisher = ic.get_by_id(EVENT_PLUGIN, "publisher") if ic.registration.requires else None

    def register_ttrpc(self, server: Any, /) -> None:
        server.register_service("extra." + self.root, {})


def test_order_as_containerds_global_registry() -> None:
    pub: Publisher = NullPublisher()
    registered = [
        Registration(TTRPC_PLUGIN, "needs-events", init=Extra, requires=(EVENT_PLUGIN,)),
        Registration(INTERNAL_PLUGIN, "plain", init=Extra),
    ]
    shim = MemShim(_ctx(), pub, lambda: None)
    order = [r.uri for r in shim_plugins(shim, pub, registered).graph()]
    # The event requirement pulls publisher first; otherwise registration order; task last.
    assert order == [
        "io.containerd.event.v1.publisher",
        "io.containerd.ttrpc.v1.needs-events",
        "io.containerd.internal.v1.plain",
        "io.containerd.ttrpc.v1.task",
    ]
    result = asyncio.run(
        load(shim_plugins(shim, pub, registered).graph(), policy=LoadPolicy.SHIM, root="", state="/bundle")
    )
    publisher = result.plugins.get(EVENT_PLUGIN, "publisher")
    assert publisher is not None and publisher.instance is pub
    plugin = result.plugins.get(TTRPC_PLUGIN, "needs-events")
    assert plugin is not None
    needs = plugin.instance
    assert isinstance(needs, Extra) and needs.publisher is pub
    uri = "io.containerd.ttrpc.v1.needs-events"
    assert (needs.root, needs.state) == (uri, f"/bundle/{uri}")
    assert [type(s).__name__ for s in result.ttrpc] == ["Extra", "Extra", "TaskPlugin"]


def test_plain_shim_gets_no_task_plugin() -> None:
    pub: Publisher = NullPublisher()
    order = [r.uri for r in shim_plugins(PlainShim(_ctx(), pub, lambda: None), pub, []).graph()]
    assert order == ["io.containerd.event.v1.publisher"]


def test_duplicate_publisher_is_rejected() -> None:
    pub: Publisher = NullPublisher()
    clash = [Registration(EVENT_PLUGIN, "publisher", init=Extra)]
    with pytest.raises(IDRegisteredError, match="publisher"):
        shim_plugins(PlainShim(_ctx(), pub, lambda: None), pub, clash)


TASK_METHODS = (
    "State Create Start Delete Pids Pause Resume Checkpoint Kill Exec ResizePty CloseIO Update Wait Stats "
    "Connect Shutdown"
).split()


def test_task_plugin_serves_all_17_methods(tmp_path: Path) -> None:
    pub: Publisher = NullPublisher()
    server = Server()
    TaskPlugin(MemShim(_ctx(str(tmp_path)), pub, lambda: None)).register_ttrpc(server)
    with pytest.raises(ValueError, match="duplicate service"):
        TaskPlugin(MemShim(_ctx(), pub, lambda: None)).register_ttrpc(server)

    async def go() -> dict[str, str]:
        path = str(tmp_path / "task.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen()
        serving = asyncio.ensure_future(server.serve(listener))
        client = None
        try:
            client = await Client.connect(path)
            answers = {}
            for method in [*TASK_METHODS, "Bogus"]:
                try:
                    await client.call(TASK_SERVICE_NAME, method, b"", timeout=5)
                    answers[method] = "ok"
                except TTRPCError as exc:
                    answers[method] = exc.message
            return answers
        finally:
            if client is not None:
                await client.close()
            await server.shutdown()
            await serving

    answers = asyncio.run(go())
    assert answers.pop("Bogus") == "method Bogus"  # unknown to the server
    assert not any(a.startswith("method ") for a in answers.values()), answers  # all 17 reach MemShim
    assert answers["Connect"] == "ok" and answers["Pids"] == "Pids not implemented"
