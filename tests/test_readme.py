"""The README's plugin example type-checks strictly and really serves.

The example is taken from README.md itself, so the README cannot drift from
what works: mypy --strict must accept it, and a host-style load must collect
it structurally and answer its ttrpc method over a real unix socket.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from google.protobuf.message import Message
from google.protobuf.wrappers_pb2 import StringValue

from impl.loader import LoadPolicy, load
from impl.plugin import Registration, Registry
from impl.ttrpc import Client, Server
from shimtypes import EVENT_PLUGIN

ROOT = Path(__file__).resolve().parent.parent


def _example(tmp_path: Path) -> Path:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README.md has no python example"
    path = tmp_path / "greeter_example.py"
    path.write_text(blocks[0])
    return path


def _import(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_example_is_strictly_typed(tmp_path: Path) -> None:
    path = _example(tmp_path)
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
