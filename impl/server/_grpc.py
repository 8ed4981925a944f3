"""The host's gRPC servers (grpcio is an optional extra: imported only to serve).

Plugins bring their own handlers (the built-ins register theirs with the
generated helpers in ``_bindings``); this module only builds servers and records names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

try:
    import grpc
    from grpc import aio
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "gRPC serving needs grpcio: pip install 'shimtypes[grpc]' "
        '(or set [grpc] address = "" to serve ttrpc only)'
    ) from exc

__all__ = ["RecordingServer", "new_server", "tls_credentials"]


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
