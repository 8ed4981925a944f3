"""One shim per pod: ``start`` groups containers by annotation, on pyrunc as on Go's runc shim.

Two containers run with the same ``io.containerd.runc.v2.group`` (or CRI's
``io.kubernetes.cri.sandbox-id``) spec annotation, through ``ctr run
--annotation``: one serving shim answers both, on the socket computed from
the group id; it keeps serving the second after the first is deleted and
exits, removing its socket, after the last (2.1's Go shim leaves its socket
and its debug socket behind). On every pinned containerd (the Go shim of 2.x serves task v3 only).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from _containerd import GO_RUNTIME, PYRUNC_RUNTIME, Containerd, unique_id, wait_until
from impl.shim import socket_address
from impl.ttrpc import TASK_V3_SERVICE_NAME, Client, TaskClient
from shimtypes.pb.task_pb2 import ConnectRequest, ConnectResponse

pytestmark = pytest.mark.e2e


async def _connect(address: str, id: str, v3: bool) -> ConnectResponse:
    client = await Client.connect(address.removeprefix("unix://"))
    try:
        task = TaskClient(client, service=TASK_V3_SERVICE_NAME) if v3 else TaskClient(client)
        return await task.connect(ConnectRequest(id=id), timeout=5)
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


@pytest.mark.parametrize("runtime", [PYRUNC_RUNTIME, GO_RUNTIME], ids=["pyrunc", "go-runc"])
@pytest.mark.parametrize("annotation", ["io.containerd.runc.v2.group", "io.kubernetes.cri.sandbox-id"])
def test_two_containers_of_a_group_share_one_shim(ctrd: Containerd, annotation: str, runtime: str) -> None:
    group = unique_id("pod")
    ids = [unique_id("sandbox"), unique_id("app")]
    v3 = runtime == GO_RUNTIME and ctrd.peer.major >= 2
    try:
        for id in ids:
            ctrd.ctr("run", "-d", "--runtime", runtime, "--annotation", f"{annotation}={group}",
                     "--rootfs", str(ctrd.rootfs), id, "/bin/sleep", "60")  # fmt: skip
        group_address = socket_address(ctrd.address, ctrd.namespace, group)
        assert [ctrd.shim_addresses(id) for id in ids] == [{group_address.removeprefix("unix://")}] * 2
        answers = [asyncio.run(_connect(group_address, id, v3)) for id in ids]
        shim = answers[0].shim_pid
        assert answers[1].shim_pid == shim, "one shim serves both"
        tasks = ctrd.tasks()
        assert [a.task_pid for a in answers] == [tasks[id][0] for id in ids] and all(a.task_pid for a in answers)
        _stop(ctrd, ids[0])
        assert _alive(shim), "the shim keeps serving the group's other container"
        assert asyncio.run(_connect(group_address, ids[1], v3)).task_pid == tasks[ids[1]][0]
        _stop(ctrd, ids[1])
        wait_until(lambda: not _alive(shim), 10, "the group's shim to exit after its last container")
        socket = group_address.removeprefix("unix://")
        debug = ctrd.debug_socket_path(group)  # a shim run with -debug (this daemon logs at debug) may listen there too
        if runtime == GO_RUNTIME and ctrd.peer.major >= 2:
            for left in (socket, debug):  # 2.1's Go shim exits leaving both (seen every run here); pyrunc never does
                if os.path.exists(left):
                    os.unlink(left)
        assert not os.path.exists(socket)
        assert not os.path.exists(debug)
    finally:
        for id in ids:
            ctrd.ctr("task", "kill", "-s", "KILL", id, check=False)
            ctrd.ctr("task", "rm", "-f", id, check=False)
            ctrd.ctr("c", "rm", id, check=False)
