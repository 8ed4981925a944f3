"""The host answers containerd's Version service: ``ctr version`` prints its Server section."""

from __future__ import annotations

import asyncio
import subprocess
from importlib import metadata
from pathlib import Path

from google.protobuf.empty_pb2 import Empty

from _peers import containerd_peer
from impl.server import VERSION_SERVICE
from impl.ttrpc import Client
from shimtypes.pb.version_pb2 import VersionResponse

from ._helpers import Sockets, start_host


def test_ctr_version_prints_the_server_section(sockets: Sockets, good_plugin_path: Path) -> None:
    ctr = str(containerd_peer("1.6").ctr)  # the pinned peer, whatever the system has installed
    h = start_host(sockets, good_plugin_path)
    try:
        r = subprocess.run([ctr, "--address", str(sockets.grpc), "version"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        server = r.stdout.split("Server:", 1)[1]
        lines = [line.strip() for line in server.strip().splitlines()]
        assert lines[0] == f"Version:  {metadata.version('shimtypes')}"
        assert lines[1].startswith("Revision:")
        assert lines[2].startswith("UUID: ") and len(lines[2].split()[1]) == 36
    finally:
        assert h.terminate() == 0, h.stderr_text


def test_version_over_ttrpc(sockets: Sockets, good_plugin_path: Path) -> None:
    h = start_host(sockets, good_plugin_path)

    async def call() -> VersionResponse:
        client = await Client.connect(str(sockets.ttrpc))
        try:
            raw = await client.call(VERSION_SERVICE, "Version", Empty().SerializeToString(), timeout=10)
        finally:
            await client.close()
        return VersionResponse.FromString(raw)

    try:
        assert asyncio.run(call()).version == metadata.version("shimtypes")
    finally:
        assert h.terminate() == 0, h.stderr_text
