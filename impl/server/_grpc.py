"""gRPC glue (grpcio is an optional extra, so only the host imports this).

Handlers are written by hand with grpcio's generic handler API: the repo's
protos are generated without grpc stubs, and the service surface is small.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

try:
    import grpc
    from grpc import aio
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "gRPC serving needs grpcio: pip install 'shimtypes[grpc]' "
        '(or set [grpc] address = "" to serve ttrpc only)'
    ) from exc

from google.protobuf.empty_pb2 import Empty

from shimtypes.pb import events_service_pb2 as epb
from shimtypes.pb.events_pb2 import Envelope
from shimtypes.pb.introspection_pb2 import PluginsRequest, PluginsResponse, ServerResponse

from ._exchange import Exchange, ExchangeClosed, EventFilterError, InvalidEvent, SubscriberOverflow
from ._filters import FilterError
from ._introspection import INTROSPECTION_SERVICE

if TYPE_CHECKING:
    from ._introspection import Introspection

__all__ = ["RecordingServer", "events_handler", "introspection_handler"]

EVENTS_GRPC_SERVICE = "containerd.services.events.v1.Events"
NAMESPACE_HEADER = "containerd-namespace"

Context = aio.ServicerContext[Any, Any]


def introspection_handler(svc: Introspection) -> grpc.GenericRpcHandler:
    async def plugins(request: PluginsRequest, context: Context) -> PluginsResponse:
        try:
            return svc.plugins(request)
        except FilterError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # abort raises; this keeps the type checker honest

    async def server(request: Empty, context: Context) -> ServerResponse:
        return svc.server()

    return grpc.method_handlers_generic_handler(
        INTROSPECTION_SERVICE,
        {
            "Plugins": grpc.unary_unary_rpc_method_handler(
                plugins,
                request_deserializer=PluginsRequest.FromString,
                response_serializer=PluginsResponse.SerializeToString,
            ),
            "Server": grpc.unary_unary_rpc_method_handler(
                server,
                request_deserializer=Empty.FromString,
                response_serializer=ServerResponse.SerializeToString,
            ),
        },
    )


def _namespace(context: Context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == NAMESPACE_HEADER and isinstance(value, str):
            return value
    return ""


def events_handler(exchange: Exchange) -> grpc.GenericRpcHandler:
    async def publish(request: epb.PublishRequest, context: Context) -> Empty:
        ns = _namespace(context)
        if not ns:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "namespace is required")
        env = Envelope(namespace=ns, topic=request.topic)
        env.timestamp.GetCurrentTime()
        env.event.CopyFrom(request.event)
        await _dispatch(exchange, env, context)
        return Empty()

    async def forward(request: epb.ForwardRequest, context: Context) -> Empty:
        env = Envelope.FromString(request.envelope.SerializeToString())
        await _dispatch(exchange, env, context)
        return Empty()

    async def subscribe(request: epb.SubscribeRequest, context: Context) -> AsyncIterator[epb.Envelope]:
        try:
            sub = exchange.subscribe(*request.filters)
        except EventFilterError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise
        except ExchangeClosed as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise
        try:
            # Headers go out only once the subscription exists: a client that
            # awaits initial_metadata() knows it will see later events.
            await context.send_initial_metadata(())
            while True:
                try:
                    env = await sub.next_envelope()
                except ExchangeClosed:
                    return
                except SubscriberOverflow as exc:
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
                    raise
                yield epb.Envelope.FromString(env.SerializeToString())
        finally:
            sub.close()

    return grpc.method_handlers_generic_handler(
        EVENTS_GRPC_SERVICE,
        {
            "Publish": grpc.unary_unary_rpc_method_handler(
                publish,
                request_deserializer=epb.PublishRequest.FromString,
                response_serializer=Empty.SerializeToString,
            ),
            "Forward": grpc.unary_unary_rpc_method_handler(
                forward,
                request_deserializer=epb.ForwardRequest.FromString,
                response_serializer=Empty.SerializeToString,
            ),
            "Subscribe": grpc.unary_stream_rpc_method_handler(
                subscribe,
                request_deserializer=epb.SubscribeRequest.FromString,
                response_serializer=epb.Envelope.SerializeToString,
            ),
        },
    )


async def _dispatch(exchange: Exchange, env: Envelope, context: Context) -> None:
    try:
        exchange.dispatch(env)
    except InvalidEvent as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    except ExchangeClosed as exc:
        await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))


class RecordingServer:
    """Passes registrations through and remembers the service names (for health)."""

    def __init__(self, server: aio.Server) -> None:
        self._server = server
        self.services: list[str] = []

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Iterable[Any], /) -> None:
        handlers = tuple(generic_rpc_handlers)
        for h in handlers:
            name = getattr(h, "service_name", None)
            if callable(name):
                n = name()
                if isinstance(n, str) and n not in self.services:
                    self.services.append(n)
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service_name: str, method_handlers: Mapping[str, Any], /) -> None:
        if service_name not in self.services:
            self.services.append(service_name)
        self._server.add_registered_method_handlers(service_name, method_handlers)


def new_server(max_recv: int, max_send: int) -> aio.Server:
    return aio.server(
        options=(
            ("grpc.max_receive_message_length", max_recv),
            ("grpc.max_send_message_length", max_send),
            ("grpc.so_reuseport", 0),
        )
    )


def tls_credentials(cert: str, key: str, ca: str) -> grpc.ServerCredentials:
    """TLS from PEM files; a CA turns on required client certificates.

    An unreadable file raises OSError whose message names the config key.
    """
    cert_pem = _read_pem("tcp_tls_cert", cert)
    key_pem = _read_pem("tcp_tls_key", key)
    ca_pem = _read_pem("tcp_tls_ca", ca) if ca else None
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)], root_certificates=ca_pem, require_client_auth=ca_pem is not None
    )


def _read_pem(key: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise OSError(exc.errno, f"{key} {path}: cannot read: {exc.strerror or exc}") from None
