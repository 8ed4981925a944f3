"""The error boundary of a real serving pyrunc shim: errdefs kinds arrive as containerd's codes.

The shim is started as containerd starts it (re-executed, so no zygote is
left behind) and called over its real ttrpc socket; no container is run.
"""

from __future__ import annotations

import asyncio

from impl.ttrpc import Client, Code, TaskClient
from shimtypes.pb import task_pb2 as task

from .conftest import Bundle, serving_pyrunc, statuses


async def _codes(path: str, b: Bundle) -> dict[str, tuple[Code, str]]:
    client = await Client.connect(path)
    try:
        t = TaskClient(client)
        return await statuses(
            {
                "create, missing bundle": t.create(task.CreateTaskRequest(id=b.id, bundle=str(b.path / "gone")), timeout=10),
                "create, no config.json": t.create(task.CreateTaskRequest(id=b.id, bundle=str(b.path)), timeout=10),
                "create, invalid id": t.create(task.CreateTaskRequest(id="other/x", bundle=str(b.path)), timeout=10),
                "state, no task": t.state(task.StateRequest(id=b.id), timeout=10),
                "start, no task": t.start(task.StartRequest(id=b.id), timeout=10),
                "kill, no task": t.kill(task.KillRequest(id=b.id, signal=9), timeout=10),
                "pause": t.pause(task.PauseRequest(id=b.id), timeout=10),
                "stats": t.stats(task.StatsRequest(id=b.id), timeout=10),
                "checkpoint": t.checkpoint(task.CheckpointTaskRequest(id=b.id), timeout=10),
            }
        )
    finally:
        await client.close()


def test_errors_reach_containerd_as_its_codes(bundle: Bundle) -> None:
    with serving_pyrunc(bundle) as path:
        got = asyncio.run(_codes(path, bundle))
    codes = {name: code for name, (code, _) in got.items()}
    assert codes == {
        "create, missing bundle": Code.NOT_FOUND,
        "create, no config.json": Code.NOT_FOUND,
        "create, invalid id": Code.INVALID_ARGUMENT,
        "state, no task": Code.NOT_FOUND,
        "start, no task": Code.NOT_FOUND,
        "kill, no task": Code.NOT_FOUND,
        "pause": Code.NOT_FOUND,  # supported, but there is no task
        "stats": Code.NOT_FOUND,
        "checkpoint": Code.UNIMPLEMENTED,
    }, got
    messages = {name: message for name, (_, message) in got.items()}
    assert str(bundle.path / "gone") in messages["create, missing bundle"]
    assert "config.json" in messages["create, no config.json"]
