"""One shim per pod under containerd 1.6: ``start`` groups containers by annotation.

Two containers run with the same ``io.containerd.runc.v2.group`` (or CRI's
``io.kubernetes.cri.sandbox-id``) spec annotation, through ``ctr run
--annotation``: one serving shim answers both, on the socket computed from
the group id; it keeps serving the second after the first is deleted and
exits, removing its socket, after the last.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from impl.shim import read_address, socket_address
from impl.ttrpc import Client, TaskClient
from shimtypes.pb.task_pb2 import ConnectRequest, ConnectResponse

from _containerd import PYRUNC_RUNTIME, Containerd, unique_id, wait_until

pytestmark = pytest.mark.e2e


async def _connect(address: str, id: str) -> ConnectResponse:
    client = await Client.connect(address.removeprefix("unix://"))
    try:
        return await TaskClient(client).connect(ConnectRequest(id=id), timeout=5)
    finally:
        await client.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _stop(ctrd: Containerd, id: str) -> None:
    ctrd.ctr("task", "kill", "-s", "KILL", id)
    wait_until(lambda: ctrd.tasks().get(id, (0, ""))[1] == "STOPPED", 20, f"{id} to stop")
    ctrd.ctr("task", "rm", id)
    ctrd.ctr("c", "rm", id)


@pytest.mark.parametrize("annotation", ["io.containerd.runc.v2.group", "io.kubernetes.cri.sandbox-id"])
def test_two_containers_of_a_group_share_one_shim(ctrd: Containerd, annotation: str) -> None:
    group = unique_id("pod")
    ids = [unique_id("sandbox"), unique_id("app")]
    try:
        for id in ids:
            ctrd.ctr("run", "-d", "--runtime", PYRUNC_RUNTIME, "--annotation", f"{annotation}={group}",
                     "--rootfs", str(ctrd.rootfs), id, "/bin/sleep", "60")  # fmt: skip
        group_address = socket_address(ctrd.address, ctrd.namespace, group)
        assert [read_address(str(ctrd.bundle(id) / "address")) for id in ids] == [group_address] * 2
        answers = [asyncio.run(_connect(group_address, id)) for id in ids]
        shim = answers[0].shim_pid
        assert answers[1].shim_pid == shim, "one shim serves both"
        tasks = ctrd.tasks()
        assert [a.task_pid for a in answers] == [tasks[id][0] for id in ids] and all(a.task_pid for a in answers)
        _stop(ctrd, ids[0])
        assert _alive(shim), "the shim keeps serving the group's other container"
        assert asyncio.run(_connect(group_address, ids[1])).task_pid == tasks[ids[1]][0]
        _stop(ctrd, ids[1])
        wait_until(lambda: not _alive(shim), 10, "the group's shim to exit after its last container")
        assert not os.path.exists(group_address.removeprefix("unix://"))
    finally:
        for id in ids:
            ctrd.ctr("task", "kill", "-s", "KILL", id, check=False)
            ctrd.ctr("task", "rm", "-f", id, check=False)
            ctrd.ctr("c", "rm", id, check=False)
