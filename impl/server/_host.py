"""The host: containerd's ``server.New`` and ``Serve`` for Python plugins.

Order matters and follows containerd: graph (disabled filtered by URI),
load every plugin (server policy: only required ones are fatal), and only
then bind the sockets and register the collected services, so a client
never sees a half-initialised host.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import stat
from collections.abc import Awaitable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from impl.loader import LoadPolicy, LoadResult, decode_config, load
from impl.plugin import PluginSet, Registration, Registry

from ._config import Config
from ._discovery import DiscoveryError, discover
from ._events_service import events_registrations
from ._exchange import Exchange
from ._health import Health, health_registration
from ._introspection import introspection_registration

if TYPE_CHECKING:
    from grpc import aio

    from impl.ttrpc import Server as TTRPCServerImpl

__all__ = ["Host", "HostError", "builtin_registrations", "new_registry"]

_log = logging.getLogger("shimtypes")


class HostError(Exception):
    """The host cannot start: a socket, a missing extra, a required plugin."""


def builtin_registrations() -> tuple[Registration[Any], ...]:
    """The plugins every host has, in registration order."""
    return (*events_registrations(), health_registration(), introspection_registration())


def new_registry(
    *, discover_plugins: bool = True, extra: Iterable[Registration[Any]] = ()
) -> tuple[Registry, list[DiscoveryError]]:
    """Built-ins, then entry-point plugins, then ``extra``."""
    registry = Registry()
    for reg in builtin_registrations():
        registry.register(reg)
    errors = discover(registry) if discover_plugins else []
    for reg in extra:
        registry.register(reg)
    return registry, errors


def _prepare_socket(path: str) -> None:
    """Make the directory; remove a stale socket, refuse a live one."""
    parent = os.path.dirname(path) or "."
    try:
        os.makedirs(parent, mode=0o711, exist_ok=True)
    except OSError as exc:
        raise HostError(f"{path}: cannot create its directory: {exc.strerror or exc}") from None
    owner = os.stat(parent).st_uid
    if owner not in (os.geteuid(), 0):
        # e.g. someone else created the /tmp fallback directory first
        raise HostError(f"{parent}: owned by uid {owner}, not by this user; refusing to serve there")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise HostError(f"{path}: exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError as exc:
        if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise HostError(f"{path}: cannot check for a running server: {exc}") from None
        os.unlink(path)  # nobody listens: a leftover from a crash
        return
    finally:
        probe.close()
    raise HostError(f"{path}: address already in use (another host is serving there)")


def _own_socket(path: str, uid: int, gid: int) -> None:
    os.chmod(path, 0o660)
    if uid != -1 or gid != -1:
        os.chown(path, uid, gid)


def _remove_socket(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        st = os.lstat(path)
        if stat.S_ISSOCK(st.st_mode):
            os.unlink(path)


T = TypeVar("T")


def _unique(instances: Iterable[T]) -> list[T]:
    """Each instance once: a plugin may return another plugin's instance."""
    seen: set[int] = set()
    out: list[T] = []
    for i in instances:
        if id(i) not in seen:
            seen.add(id(i))
            out.append(i)
    return out


class Host:
    """One host process: load, serve, stop. Use ``start``/``wait``/``stop``."""

    def __init__(
        self,
        config: Config,
        registry: Registry,
        *,
        logger: logging.Logger | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.log: logging.Logger = logger or _log
        self.result: LoadResult | None = None
        self.grpc_services: list[str] = []
        self.tcp_port: int = 0
        self._grpc: aio.Server | None = None
        self._tcp: aio.Server | None = None
        self._ttrpc: TTRPCServerImpl | None = None
        self._ttrpc_task: asyncio.Task[None] | None = None
        self._sockets: list[str] = []
        self._stopped = asyncio.Event()
        self._stopping = False

    # -- loading ------------------------------------------------------------

    def disabled(self, reg: Registration[Any]) -> bool:
        return reg.uri in self.config.disabled_plugins

    def graph(self) -> list[Registration[Any]]:
        return self.registry.graph(self.disabled)

    @property
    def plugins(self) -> PluginSet:
        if self.result is None:
            raise RuntimeError("host not loaded")
        return self.result.plugins

    async def load(self) -> LoadResult:
        """Init every enabled plugin; raises LoadError/ConfigError (impl.loader)."""
        cfg = self.config
        for uri in cfg.plugins:
            if uri not in self.registry:
                self.log.warning('config %s: [plugins."%s"] names no registered plugin; ignored', cfg.source, uri)
        ordered = self.graph()
        self.check_configs(ordered)
        for key, d in (("root", cfg.root), ("state", cfg.state)):
            if d:
                try:
                    os.makedirs(d, mode=0o711, exist_ok=True)
                except OSError as exc:
                    raise HostError(f"config {cfg.source}: {key} {d}: cannot create: {exc.strerror or exc}") from None
        self.result = await load(
            ordered,
            policy=LoadPolicy.SERVER,
            root=cfg.root,
            state=cfg.state,
            address=cfg.grpc.address,
            ttrpc_address=cfg.ttrpc.address,
            configs=cfg.plugins,
            required=cfg.required_plugins,
            logger=self.log.getChild("loader"),
        )
        return self.result

    def check_configs(self, ordered: Iterable[Registration[Any]]) -> None:
        """Decode every plugin section before any init runs.

        The loader decodes each section just before its plugin's init; doing
        it up front turns a typo into one error with nothing half-started.
        """
        for reg in ordered:
            section = self.config.plugins.get(reg.uri)
            if section is not None:
                decode_config(reg.uri, reg.config, section)

    # -- serving ------------------------------------------------------------

    async def start(self) -> None:
        """Load, then bind and serve everything collected. Cleans up on failure."""
        result = self.result or await self.load()
        try:
            await self._serve_grpc(result)
            await self._serve_tcp(result)
            await self._serve_ttrpc(result)
            health = self._health()
            if health is not None:
                await health.serving(self.grpc_services)
        except BaseException:
            await self.stop(grace=0)
            raise

    @contextlib.contextmanager
    def _registering(self, instance: object, kind: str) -> Iterator[None]:
        """Name the plugin whose ``register*`` method failed."""
        try:
            yield
        except Exception as exc:
            uris = [p.uri for p in self.plugins if p.instance is instance]
            who = ", ".join(uris) or type(instance).__qualname__
            raise HostError(f"plugin {who}: registering its {kind} service failed: {exc}") from exc

    def _health(self) -> Health | None:
        if self.result is None:
            return None
        for p in self.result.plugins:
            if isinstance(p.instance, Health):
                return p.instance
        return None

    async def _serve_grpc(self, result: LoadResult) -> None:
        cfg = self.config.grpc
        if not cfg.address:
            if result.grpc:
                self.log.warning("[grpc] address is empty: %d gRPC services not served", len(result.grpc))
            return
        try:
            from . import _grpc
        except ImportError as exc:
            raise HostError(str(exc)) from None
        path = os.path.abspath(cfg.address)
        _prepare_socket(path)
        server = _grpc.new_server(cfg.max_recv_message_size, cfg.max_send_message_size)
        recorder = _grpc.RecordingServer(server)
        for svc in _unique(result.grpc):
            with self._registering(svc, "gRPC"):
                svc.register(recorder)
        self.grpc_services = list(recorder.services)
        if server.add_insecure_port("unix:" + path) == 0:
            raise HostError(f"{path}: cannot listen for gRPC")
        self._grpc = server
        self._sockets.append(path)
        await server.start()
        _own_socket(path, cfg.uid, cfg.gid)

    async def _serve_tcp(self, result: LoadResult) -> None:
        cfg = self.config.grpc
        if not cfg.tcp_address:
            return
        try:
            from . import _grpc
        except ImportError as exc:
            raise HostError(str(exc)) from None
        server = _grpc.new_server(cfg.max_recv_message_size, cfg.max_send_message_size)
        recorder = _grpc.RecordingServer(server)
        for svc in _unique(result.tcp):
            with self._registering(svc, "TCP"):
                svc.register_tcp(recorder)
        try:
            if cfg.tcp_tls_cert:
                try:
                    creds = _grpc.tls_credentials(cfg.tcp_tls_cert, cfg.tcp_tls_key, cfg.tcp_tls_ca)
                except OSError as exc:
                    raise HostError(f"config {self.config.source}: [grpc] {exc.strerror}") from None
                port = server.add_secure_port(cfg.tcp_address, creds)
            else:
                port = server.add_insecure_port(cfg.tcp_address)
        except (OSError, RuntimeError) as exc:
            raise HostError(f"[grpc] tcp_address {cfg.tcp_address}: {exc}") from None
        if port == 0:
            raise HostError(f"[grpc] tcp_address {cfg.tcp_address}: cannot listen")
        self.tcp_port = port
        self._tcp = server
        await server.start()

    async def _serve_ttrpc(self, result: LoadResult) -> None:
        cfg = self.config
        if not cfg.ttrpc.address:
            return
        from impl.ttrpc import Server, require_same_user

        server = Server(peer_check=require_same_user())
        for svc in _unique(result.ttrpc):
            with self._registering(svc, "ttrpc"):
                svc.register_ttrpc(server)
        path = os.path.abspath(cfg.ttrpc.address)
        _prepare_socket(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise HostError(f"{path}: cannot listen for ttrpc: {exc.strerror}") from None
        self._sockets.append(path)
        _own_socket(path, cfg.grpc.uid, cfg.grpc.gid)
        self._ttrpc = server
        self._ttrpc_task = asyncio.create_task(server.serve(sock), name="ttrpc-serve")
        self._ttrpc_task.add_done_callback(self._ttrpc_done)

    def _ttrpc_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None and not self._stopping:
            self.log.error("ttrpc server failed: %s", task.exception())
            self.request_stop()

    @property
    def addresses(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self._grpc is not None:
            out["grpc"] = os.path.abspath(self.config.grpc.address)
        if self._tcp is not None:
            host = self.config.grpc.tcp_address.rpartition(":")[0]
            out["tcp"] = f"{host}:{self.tcp_port}"
        if self._ttrpc is not None:
            out["ttrpc"] = os.path.abspath(self.config.ttrpc.address)
        return out

    # -- stopping -----------------------------------------------------------

    def request_stop(self) -> None:
        """Wake ``wait``; the caller then runs ``stop`` (safe from signal handlers)."""
        self._stopped.set()

    async def wait(self) -> None:
        await self._stopped.wait()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, let in-flight calls finish (up to ``grace``), clean up."""
        if self._stopping:
            return
        self._stopping = True
        health = self._health()
        if health is not None:
            with contextlib.suppress(Exception):
                await health.shutting_down()
        waits: list[Awaitable[Any]] = []
        if self._grpc is not None:
            waits.append(self._grpc.stop(grace))
        if self._tcp is not None:
            waits.append(self._tcp.stop(grace))
        if self._ttrpc is not None:
            if grace > 0:
                waits.append(asyncio.wait_for(self._ttrpc.shutdown(), grace))
            else:
                self._ttrpc.close()
        # Subscriptions never finish by themselves and would hold the graceful
        # stop for the whole grace: end them first (queued events are still
        # delivered). A call arriving after this is refused by the closed
        # exchange just as the stopping servers would refuse it.
        if self.result is not None:
            for p in self.result.plugins:
                if isinstance(p.instance, Exchange):
                    await p.instance.close()
        for r in await asyncio.gather(*waits, return_exceptions=True):
            if isinstance(r, BaseException):
                self.log.warning("stopping: in-flight calls cut short: %r", r)
                if self._ttrpc is not None:
                    self._ttrpc.close()
        if self._ttrpc_task is not None:
            with contextlib.suppress(BaseException):
                await self._ttrpc_task
        for path in self._sockets:
            _remove_socket(path)
        self._sockets.clear()
        await self._close_plugins()
        self._stopped.set()

    async def _close_plugins(self) -> None:
        """Like containerd: close instances that can be closed, last loaded first."""
        if self.result is None:
            return
        for p in reversed(self.result.plugins.get_all()):
            close = getattr(p.instance, "close", None)
            if p.error is not None or not callable(close):
                continue
            try:
                r = close()
                if isinstance(r, Awaitable):
                    await r
            except Exception as exc:
                self.log.warning("closing plugin %s: %s", p.uri, exc)
