"""The README's examples type-check strictly and really work.

The examples are taken from README.md itself, so the README cannot drift from
what works: mypy --strict must accept them; a host-style load must collect
the plugin structurally and answer its ttrpc method over a real unix socket;
the runtime must run real processes through the SDK's task service.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf.message import Message
from google.protobuf.wrappers_pb2 import StringValue

from impl.loader import LoadPolicy, load
from impl.plugin import Registration, Registry
from impl.ttrpc import Client, Server
from shimtypes import EVENT_PLUGIN

ROOT = Path(__file__).resolve().parent.parent


def _example(tmp_path: Path, marker: str = "registration = Registration(", name: str = "greeter_example") -> Path:
    text = (ROOT / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if marker in b]
    assert len(blocks) == 1, f"README.md has {len(blocks)} python examples with {marker!r}"
    path = tmp_path / f"{name}.py"
    path.write_text(blocks[0])
    return path


RUNTIME = ("containerd-shim-hostproc-v1", "hostproc_example")


def _import(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("which", ["plugin", "runtime"])
def test_readme_example_is_strictly_typed(tmp_path: Path, which: str) -> None:
    path = _example(tmp_path) if which == "plugin" else _example(tmp_path, *RUNTIME)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--warn-unused-ignores", "--no-incremental",
         "--cache-dir", str(tmp_path / "cache"), str(path)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


class _Events:
    def __init__(self) -> None:
        self.published: list[tuple[str, Message]] = []

    async def publish(self, topic: str, event: Message, /) -> None:
        self.published.append((topic, event))

    async def close(self) -> None:
        pass


def test_readme_example_loads_and_serves(tmp_path: Path) -> None:
    example = _import(_example(tmp_path))
    registration = example.registration
    assert isinstance(registration, Registration)
    registry = Registry()
    registry.register(Registration(EVENT_PLUGIN, "events", lambda ic: _Events()))
    registry.register(registration)

    async def scenario() -> str:
        result = await load(
            registry.graph(),
            policy=LoadPolicy.SERVER,
            root=str(tmp_path / "root"),
            state=str(tmp_path / "state"),
            configs={registration.uri: {"greeting": "hi"}},
        )
        assert [type(s).__name__ for s in result.ttrpc] == ["Greeter"]
        server = Server()
        for service in result.ttrpc:
            service.register_ttrpc(server)
        sock = str(tmp_path / "greeter.sock")
        await server.listen(sock)
        try:
            client = await Client.connect(sock)
            try:
                reply = await client.call(
                    "example.Greeter", "Greet", StringValue(value="world").SerializeToString(), timeout=10
                )
            finally:
                await client.close()
        finally:
            await server.shutdown()
        return StringValue.FromString(reply).value

    assert asyncio.run(scenario()) == "hi, world"


def test_readme_runtime_runs_processes_through_the_sdk(tmp_path: Path) -> None:
    from shimtypes import ShimContext, TaskService
    from shimtypes.pb import task_pb2 as task

    example = _import(_example(tmp_path, *RUNTIME))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text('{"process": {"args": ["cat"]}}')
    stdin = tmp_path / "stdin"
    os.mkfifo(stdin)
    log = tmp_path / "out.log"
    events = _Events()
    ctx = ShimContext(id="c", namespace="t", bundle=str(bundle), address="", ttrpc_address="", containerd_binary="")
    shim = example.init(ctx, events, lambda: None)
    assert isinstance(shim, TaskService)
    exec_spec = task.ExecProcessRequest(id="c", exec_id="e", stdout=f"file://{log}")
    exec_spec.spec.value = b'{"args": ["/bin/sh", "-c", "echo from exec; exit 3"]}'

    async def scenario() -> tuple[int, int]:
        request = task.CreateTaskRequest(id="c", bundle=str(bundle), stdin=str(stdin), stdout=f"file://{log}")
        await shim.create(request)
        await shim.start(task.StartRequest(id="c", exec_id=""))
        await shim.exec(exec_spec)
        await shim.start(task.StartRequest(id="c", exec_id="e"))
        exec_status = (await asyncio.wait_for(shim.wait(task.WaitRequest(id="c", exec_id="e")), 30)).exit_status
        writer = os.open(stdin, os.O_WRONLY)  # the shim's stdin pump is the reader
        os.write(writer, b"from init\n")
        os.close(writer)  # cat sees EOF once the pump copied the line: it echoes, then exits
        status = (await asyncio.wait_for(shim.wait(task.WaitRequest(id="c")), 30)).exit_status
        await shim.delete(task.DeleteRequest(id="c"))
        return status, exec_status

    assert asyncio.run(scenario()) == (0, 3)
    assert sorted(log.read_text().splitlines()) == ["from exec", "from init"]
    assert [t for t, _ in events.published][:3] == ["/tasks/create", "/tasks/start", "/tasks/exec-added"]
    assert [t for t, _ in events.published][-1] == "/tasks/delete"
