"""The host as a user runs it: ``shimtypes serve`` in a subprocess, real sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.empty_pb2 import Empty
from grpc_health.v1 import health_pb2  # type: ignore[import-untyped]

from _peers import containerd_peer
from impl.cli._table import format_plugins
from impl.server import INTROSPECTION_SERVICE, status_of
from impl.ttrpc import Client, Code, EventsClient, TTRPCError
from shimtypes.pb import events_service_pb2 as epb
from shimtypes.pb.events_pb2 import Envelope, ForwardRequest
from shimtypes.pb.introspection_pb2 import Plugin as PluginInfo
from shimtypes.pb.introspection_pb2 import PluginsRequest, PluginsResponse, ServerResponse
from shimtypes.pb.task_events_pb2 import TaskExit

from ._helpers import HostProcess, Sockets, events_subscribe, introspection_plugins, run_cli, start_host

T = "io.shimtypes.test.v1"


@pytest.fixture(scope="module")
def host(plugin_path: Path) -> Iterator[tuple[HostProcess, Sockets]]:
    """One host with the test distributions, shared by the read-only tests."""
    with tempfile.TemporaryDirectory(prefix="sth-") as d:
        s = Sockets(Path(d))
        h = start_host(
            s,
            plugin_path,
            f"""
            [plugins."{T}.echo"]
            greeting = "hi"
            marker_dir = "{d}"
            """,
        )
        try:
            yield h, s
        finally:
            h.kill()


def grpc_plugins(sock: Path, filters: list[str] | None = None) -> list[PluginInfo]:
    with grpc.insecure_channel(f"unix:{sock}") as ch:
        resp = introspection_plugins(ch)(PluginsRequest(filters=filters or []), timeout=10)
    return list(resp.plugins)


def by_uri(infos: list[PluginInfo]) -> dict[str, PluginInfo]:
    return {f"{i.type}.{i.id}": i for i in infos}


def test_health_serving_over_grpc(host: tuple[HostProcess, Sockets]) -> None:
    _, s = host
    with grpc.insecure_channel(f"unix:{s.grpc}") as ch:
        check = ch.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        for service in ("", INTROSPECTION_SERVICE):
            resp = check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING, service
        with pytest.raises(grpc.RpcError) as info:
            check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_introspection_over_grpc_lists_statuses(host: tuple[HostProcess, Sockets]) -> None:
    _, s = host
    infos = by_uri(grpc_plugins(s.grpc))
    # Built-ins, then the test distribution's plugins through its entry points.
    for uri in (
        "io.containerd.event.v1.exchange",
        "io.containerd.grpc.v1.events",
        "io.containerd.grpc.v1.health",
        "io.containerd.grpc.v1.introspection",
        f"{T}.echo",
        f"{T}.failing",
        f"{T}.skipping",
        "io.shimtypes.other.v1.needs-echo",
    ):
        assert uri in infos, uri
    assert status_of(infos[f"{T}.echo"]) == "ok"
    assert status_of(infos[f"{T}.failing"]) == "error"
    assert "boom: the disk is on fire" in infos[f"{T}.failing"].init_err.message
    assert status_of(infos[f"{T}.skipping"]) == "skip"
    echo = infos[f"{T}.echo"]
    assert echo.exports["greeting"] == "hi"  # the [plugins."..."] section was decoded
    assert list(echo.capabilities) == ["echo"]
    assert {(p.os, p.architecture, p.variant) for p in echo.platforms} == {
        ("linux", "arm64", "v8"),
        ("linux", "amd64", ""),
    }
    assert list(infos["io.shimtypes.other.v1.needs-echo"].requires) == [T]


def test_init_order_puts_dependencies_first(host: tuple[HostProcess, Sockets]) -> None:
    _, s = host
    order = [f"{i.type}.{i.id}" for i in grpc_plugins(s.grpc)]
    assert order.index("io.containerd.event.v1.exchange") < order.index("io.containerd.grpc.v1.events")
    assert order.index(f"{T}.echo") < order.index("io.shimtypes.other.v1.needs-echo")


def test_introspection_filters(host: tuple[HostProcess, Sockets]) -> None:
    _, s = host
    infos = grpc_plugins(s.grpc, [f"type=={T},id!=echo"])
    assert sorted(i.id for i in infos) == ["failing", "skipping"]
    with pytest.raises(grpc.RpcError) as info:
        grpc_plugins(s.grpc, ["colour==red"])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_introspection_over_ttrpc_matches_grpc(host: tuple[HostProcess, Sockets]) -> None:
    _, s = host

    async def call() -> tuple[bytes, bytes]:
        client = await Client.connect(str(s.ttrpc))
        try:
            plugins = await client.call(INTROSPECTION_SERVICE, "Plugins", b"", timeout=10)
            server = await client.call(INTROSPECTION_SERVICE, "Server", Empty().SerializeToString(), timeout=10)
            return plugins, server
        finally:
            await client.close()

    raw, server_raw = asyncio.run(call())
    over_ttrpc = list(PluginsResponse.FromString(raw).plugins)
    assert over_ttrpc == grpc_plugins(s.grpc)
    info = ServerResponse.FromString(server_raw)
    assert len(info.uuid) == 36 and str(uuid.UUID(info.uuid)) == info.uuid


def test_plugin_ttrpc_service_is_served(host: tuple[HostProcess, Sockets]) -> None:
    _, s = host

    async def call() -> bytes:
        client = await Client.connect(str(s.ttrpc))
        try:
            return await client.call("shimtypes.test.Echo", "Say", b"there", timeout=10)
        finally:
            await client.close()

    assert asyncio.run(call()) == b"hi there"


def test_broken_entry_points_reported_without_hiding_others(host: tuple[HostProcess, Sockets]) -> None:
    h, s = host
    # The broken distribution sorts first; the good one still loaded (see above).
    assert f"{T}.echo" in by_uri(grpc_plugins(s.grpc))
    # Its failures are on stderr, naming distribution and entry point; read
    # them without stopping the shared host.
    assert h.proc.stderr is not None
    os.set_blocking(h.proc.stderr.fileno(), False)
    text = h.proc.stderr.read() or ""
    h.stderr_text += text
    assert "'kaput'" in text and "aaa-broken-plugins 9.9" in text
    assert "this plugin module is broken on purpose" in text
    assert "'wrong-shape'" in text and "want a Registration" in text
    assert "failed to load plugin io.shimtypes.test.v1.failing" in text


def test_cli_ls_matches_ctr_byte_for_byte(host: tuple[HostProcess, Sockets], plugin_path: Path) -> None:
    _, s = host
    ours = run_cli(["plugins", "ls", "--address", str(s.grpc)], plugin_path)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == format_plugins(grpc_plugins(s.grpc))
    assert ours.stdout.splitlines()[0].split() == ["TYPE", "ID", "PLATFORMS", "STATUS"]
    assert "linux/amd64,linux/arm64/v8" in ours.stdout
    ctr = str(containerd_peer("1.6").ctr)  # pinned: the format the host follows is 1.6's
    for flags in ([], ["-d"]):
        theirs = subprocess.run(
            [ctr, "--address", str(s.grpc), "plugins", "ls", *flags], capture_output=True, text=True, timeout=30
        )
        assert theirs.returncode == 0, theirs.stderr
        mine = run_cli(["plugins", "ls", *flags, "--address", str(s.grpc)], plugin_path)
        assert mine.stdout == theirs.stdout
    via_ttrpc = run_cli(["plugins", "ls", "-d", "--address", str(s.ttrpc)], plugin_path)
    assert via_ttrpc.stdout == mine.stdout


def test_shim_forward_reaches_grpc_subscriber(host: tuple[HostProcess, Sockets]) -> None:
    """A Python shim's Events/Forward on the host's ttrpc socket, seen by ``Subscribe``."""
    _, s = host
    with grpc.insecure_channel(f"unix:{s.grpc}") as ch:
        subscribe = events_subscribe(ch)
        stream = subscribe(epb.SubscribeRequest(filters=['topic=="/tasks/exit"']), timeout=15)
        stream.initial_metadata()  # sent once the subscription exists

        exit_event = TaskExit(container_id="c1", id="c1", pid=42, exit_status=7)
        env = Envelope(namespace="default", topic="/tasks/exit")
        env.timestamp.GetCurrentTime()
        env.event.Pack(exit_event)

        async def forward() -> None:
            client = await Client.connect(str(s.ttrpc))
            try:
                events = EventsClient(client)
                other = Envelope(namespace="default", topic="/tasks/start")
                other.timestamp.GetCurrentTime()
                await events.forward(ForwardRequest(envelope=other), timeout=10)  # filtered out
                await events.forward(ForwardRequest(envelope=env), timeout=10)
                with pytest.raises(TTRPCError) as info:
                    await events.forward(ForwardRequest(envelope=Envelope(topic="no-slash")), timeout=10)
                assert info.value.code == Code.INVALID_ARGUMENT
            finally:
                await client.close()

        asyncio.run(forward())
        got = next(iter(stream))
        stream.cancel()
    assert got.topic == "/tasks/exit" and got.namespace == "default"
    decoded = TaskExit()
    assert got.event.Unpack(decoded)
    assert decoded == exit_event


def test_sigterm_waits_for_inflight_call_and_removes_sockets(sockets: Sockets, good_plugin_path: Path) -> None:
    h = start_host(sockets, good_plugin_path, f'[plugins."{T}.echo"]\nmarker_dir = "{sockets.dir}"\n')
    # Slow opens and closes this FIFO when it is entered: the read end sees
    # EOF exactly then (Linux reports no hang-up before a first writer came).
    marker = sockets.dir / "slow-entered"
    os.mkfifo(marker)

    async def entered() -> None:
        fd = os.open(marker, os.O_RDONLY | os.O_NONBLOCK)
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_reader(fd, ready.set_result, None)
        try:
            await asyncio.wait_for(ready, 10)
            assert os.read(fd, 1) == b""
        finally:
            loop.remove_reader(fd)
            os.close(fd)

    async def scenario() -> bytes:
        client = await Client.connect(str(sockets.ttrpc))
        try:
            waiter = asyncio.ensure_future(entered())
            call = asyncio.ensure_future(client.call("shimtypes.test.Echo", "Slow", b"0.5", timeout=15))
            await waiter
            assert not call.done()
            h.proc.send_signal(signal.SIGTERM)
            return await call
        finally:
            await client.close()

    try:
        assert asyncio.run(scenario()) == b"finished"
        assert h.terminate(signal_it=False) == 0, h.stderr_text
    finally:
        h.kill()
    assert not sockets.grpc.exists()
    assert not sockets.ttrpc.exists()


def test_disabled_plugin_is_absent_and_dependents_stay(sockets: Sockets, good_plugin_path: Path) -> None:
    h = start_host(
        sockets,
        good_plugin_path,
        f'disabled_plugins = ["{T}.echo", "io.containerd.grpc.v1.health"]\n',
    )
    try:
        infos = by_uri(grpc_plugins(sockets.grpc))
    finally:
        assert h.terminate() == 0
    assert f"{T}.echo" not in infos and "io.containerd.grpc.v1.health" not in infos
    # As in containerd, a dependent of a disabled plugin still loads and fails its lookup.
    needs = infos["io.shimtypes.other.v1.needs-echo"]
    assert status_of(needs) == "error" and "not found" in needs.init_err.message
    rows = [line.split() for line in h.stdout_lines]
    assert [T, "echo"] not in [r[:2] for r in rows]
    assert ["io.shimtypes.other.v1", "needs-echo", "-", "error"] in rows


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (f'required_plugins = ["{T}.failing"]\n', f"load required plugin {T}.failing"),
        (f'required_plugins = ["{T}.skipping"]\n', f"load required plugin {T}.skipping"),
        (
            f'disabled_plugins = ["{T}.echo"]\nrequired_plugins = ["{T}.echo"]\n',
            f"required plugin [{T}.echo] not included",
        ),
    ],
)
def test_required_plugin_failure_stops_startup(
    sockets: Sockets, good_plugin_path: Path, extra: str, message: str
) -> None:
    cfg = sockets.dir / "config.toml"
    cfg.write_text(sockets.config(extra))
    r = run_cli(["serve", "--config", str(cfg)], good_plugin_path)
    assert r.returncode == 1
    assert message in r.stderr.splitlines()[-1]
    assert "ready" not in r.stdout
    assert not sockets.grpc.exists() and not sockets.ttrpc.exists()


def test_required_plugin_that_loads_is_fine(sockets: Sockets, good_plugin_path: Path) -> None:
    h = start_host(sockets, good_plugin_path, f'required_plugins = ["{T}.echo", "io.containerd.grpc.v1.health"]\n')
    assert h.terminate() == 0


def test_second_host_on_same_socket_refused(host: tuple[HostProcess, Sockets], plugin_path: Path) -> None:
    _, s = host
    cfg = s.dir / "second.toml"
    cfg.write_text(f'version = 2\nroot = "{s.root}"\nstate = "{s.state}"\n[grpc]\naddress = "{s.grpc}"\n')
    r = run_cli(["serve", "--config", str(cfg)], None)
    assert r.returncode == 1
    assert "address already in use" in r.stderr
    assert s.grpc.exists()  # the running host's socket is untouched
    assert grpc_plugins(s.grpc)


def test_stale_socket_is_replaced(sockets: Sockets) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sockets.grpc))
    stale.close()  # bound, never listening: what a crash leaves behind
    h = start_host(sockets, None)
    try:
        assert grpc_plugins(sockets.grpc)
    finally:
        assert h.terminate() == 0


def test_grpc_publish_needs_a_namespace_and_reaches_subscribers(host: tuple[HostProcess, Sockets]) -> None:
    _, s = host
    with grpc.insecure_channel(f"unix:{s.grpc}") as ch:
        subscribe = events_subscribe(ch)
        publish = ch.unary_unary(
            "/containerd.services.events.v1.Events/Publish",
            request_serializer=epb.PublishRequest.SerializeToString,
            response_deserializer=Empty.FromString,
        )
        stream = subscribe(epb.SubscribeRequest(filters=["namespace==testns"]), timeout=15)
        stream.initial_metadata()
        req = epb.PublishRequest(topic="/things/happened")
        req.event.Pack(TaskExit(id="x"))
        with pytest.raises(grpc.RpcError) as info:
            publish(req, timeout=10)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        publish(req, timeout=10, metadata=(("containerd-namespace", "testns"),))
        got = next(iter(stream))
        stream.cancel()
    assert (got.topic, got.namespace) == ("/things/happened", "testns")
    assert got.timestamp.seconds > 0


def test_plugin_publishes_to_the_exchange(host: tuple[HostProcess, Sockets]) -> None:
    """A plugin that looked the exchange up as a Publisher reaches gRPC subscribers."""
    _, s = host
    with grpc.insecure_channel(f"unix:{s.grpc}") as ch:
        subscribe = events_subscribe(ch)
        stream = subscribe(epb.SubscribeRequest(filters=['topic=="/tasks/exit"']), timeout=15)
        stream.initial_metadata()

        async def announce() -> bytes:
            client = await Client.connect(str(s.ttrpc))
            try:
                return await client.call("shimtypes.test.Announcer", "Announce", b"from-plugin", timeout=10)
            finally:
                await client.close()

        assert asyncio.run(announce()) == b""
        got = next(iter(stream))
        stream.cancel()
    assert (got.topic, got.namespace) == ("/tasks/exit", "default")
    assert got.event.type_url == "containerd.events.TaskExit"  # containerd's typeurl: no prefix
    assert TaskExit.FromString(got.event.value) == TaskExit(container_id="from-plugin", exit_status=9)
