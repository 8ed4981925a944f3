"""The error boundary of a real serving pyrunc shim: errdefs kinds arrive as containerd's codes.

The shim is started as containerd starts it (re-executed, so no zygote is
left behind) and called over its real ttrpc socket; no container is run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from impl.ttrpc import Client, Code, TaskClient, TTRPCError
from shimtypes.pb import task_pb2 as task

from .conftest import Bundle, connect, sock_path, terminate

PYRUNC = os.path.join(os.path.dirname(sys.executable), "containerd-shim-pyrunc-v1")


async def _codes(path: str, b: Bundle) -> list[tuple[str, Code, str]]:
    client = await Client.connect(path)
    out: list[tuple[str, Code, str]] = []
    try:
        t = TaskClient(client)
        calls = {
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
        for name, call in calls.items():
            try:
                await call
            except TTRPCError as err:
                out.append((name, err.code, err.message))
            else:
                out.append((name, Code.OK, ""))
    finally:
        await client.close()
    return out


def test_errors_reach_containerd_as_its_codes(bundle: Bundle) -> None:
    proc = subprocess.run(
        [sys.executable, PYRUNC, *bundle.flags(), "start"],
        cwd=bundle.path,
        env={**bundle.env, "SHIMTYPES_ZYGOTE": "exec"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    address = proc.stdout.decode()
    pid = connect(address, bundle.id).shim_pid
    try:
        got = asyncio.run(_codes(sock_path(address), bundle))
    finally:
        terminate(pid)
    codes = {name: code for name, code, _ in got}
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
    messages = {name: message for name, _, message in got}
    assert str(bundle.path / "gone") in messages["create, missing bundle"]
    assert "config.json" in messages["create, no config.json"]
