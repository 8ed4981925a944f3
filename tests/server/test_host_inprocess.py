"""``Host`` in-process: nothing served before every init ran; nothing lost on stop."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import grpc

from impl.plugin import InitContext, Registration
from impl.server import Exchange, Host, default_config, new_registry, parse_config
from shimtypes import EVENT_PLUGIN, GRPCServer, TTRPCServer
from shimtypes.pb import events_service_pb2 as epb
from shimtypes.pb.task_events_pb2 import TaskExit

from ._helpers import Sockets

T = "io.shimtypes.inproc.v1"


class Service:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def register(self, server: GRPCServer, /) -> None:
        self.log.append("register grpc")

    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        self.log.append("register ttrpc")


def test_sockets_and_services_come_after_the_last_init(sockets: Sockets) -> None:
    log: list[str] = []

    def early(ic: InitContext[Any]) -> object:
        log.append("init early")
        return Service(log)

    async def last(ic: InitContext[Any]) -> object:  # awaited before anything is served
        seen = (os.path.exists(ic.address), os.path.exists(ic.ttrpc_address))
        log.append(f"init last, sockets exist: {seen}")
        return None

    text = sockets.config()
    config = parse_config(text, "<test>", base=default_config())
    registry, errors = new_registry(
        discover_plugins=False,
        extra=[Registration(T, "early", early), Registration(T, "last", last)],
    )
    assert errors == []

    async def scenario() -> None:
        host = Host(config, registry)
        await host.start()
        try:
            assert sockets.grpc.exists() and sockets.ttrpc.exists()
            assert host.addresses == {"grpc": str(sockets.grpc), "ttrpc": str(sockets.ttrpc)}
        finally:
            await host.stop(grace=1)
        assert not sockets.grpc.exists() and not sockets.ttrpc.exists()

    asyncio.run(scenario())
    assert log == [
        "init early",
        "init last, sockets exist: (False, False)",
        "register grpc",
        "register ttrpc",
    ]


def test_stop_delivers_queued_events_then_ends_subscriptions(sockets: Sockets) -> None:
    """A subscriber gets every event published before the stop, then a clean end."""
    config = parse_config(sockets.config(), "<test>", base=default_config())
    registry, _ = new_registry(discover_plugins=False)

    async def scenario() -> tuple[list[str], grpc.StatusCode]:
        host = Host(config, registry)
        await host.start()
        try:
            found = host.plugins.get(EVENT_PLUGIN, "exchange")
            assert found is not None and isinstance(found.instance, Exchange)
            exchange = found.instance
            async with grpc.aio.insecure_channel(f"unix:{sockets.grpc}") as ch:
                call = ch.unary_stream(
                    "/containerd.services.events.v1.Events/Subscribe",
                    request_serializer=epb.SubscribeRequest.SerializeToString,
                    response_deserializer=epb.Envelope.FromString,
                )(epb.SubscribeRequest())
                await call.initial_metadata()  # the subscription exists
                for i in range(3):
                    await exchange.publish(f"/n/{i}", TaskExit(container_id=str(i)))
                # A subscription held open would last the whole grace and then
                # be cancelled; ended by the stop, it finishes OK.
                stopping = asyncio.ensure_future(host.stop(grace=30))
                topics = [env.topic async for env in call]
                code = await call.code()
                await stopping
            return topics, code
        finally:
            await host.stop(grace=0)

    topics, code = asyncio.run(scenario())
    assert topics == ["/n/0", "/n/1", "/n/2"]
    assert code == grpc.StatusCode.OK
