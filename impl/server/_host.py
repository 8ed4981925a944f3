"""The host: containerd's ``server.New`` and ``Serve`` for Python plugins.

Order matters and follows containerd: graph (disabled filtered by URI),
load every plugin (server policy: only required ones are fatal), and only
then bind the sockets and register the collected services, so a client
never sees a half-initialised host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from impl import unixsock
from impl.loader import LoadPolicy, LoadResult, decode_config, load
from impl.plugin import PluginSet, Registration, Registry

from ._builtins import builtin_registrations
from ._config import Config
from ._discovery import DiscoveryError, discover
from ._hooks import ServingHook, StoppingHook

if TYPE_CHECKING:
    from grpc import aio

    from impl.ttrpc import Server as TTRPCServerImpl

__all__ = ["DirectoryError", "Host", "HostError", "check_directories", "directories", "new_registry"]

_log = logging.getLogger("shimtypes")


class HostError(Exception):
    """The host cannot start: a socket, a missing extra, a required plugin."""


class DirectoryError(HostError):
    """A configured directory another user could tamper with: refused (exit 2)."""


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


def directories(config: Config) -> dict[str, str]:
    """Each directory a host on ``config`` uses, by config key (root, state, the
    sockets'), parents before what is inside them."""
    out = {"root": config.root, "state": config.state}
    for key, address in (("grpc", config.grpc.address), ("ttrpc", config.ttrpc.address)):
        if address and not address.startswith("@"):
            out[key] = os.path.dirname(os.path.abspath(address))
    found = {k: os.path.abspath(v) for k, v in out.items() if v}
    return dict(sorted(found.items(), key=lambda kv: kv[1]))


def check_directories(config: Config) -> None:
    """DirectoryError for an existing directory of ``config`` that another user
    could tamper with (a symlink, owned by someone else, group or world writable).

    Cheap and side-effect free: ``shimtypes serve`` runs it before it even
    imports third-party plugins, and ``Host.load`` again before any init.
    """
    for key, d in directories(config).items():
        if os.path.lexists(d):
            try:
                unixsock.check_private_dir(d)
            except unixsock.UnsafeDirectoryError as exc:
                raise DirectoryError(f"config {config.source}: {key} {exc.strerror}") from None


def _prepare_socket(path: str) -> None:
    """A private directory, no stale socket, no live server (else HostError)."""
    try:
        unixsock.prepare_socket(path)
    except unixsock.UnsafeDirectoryError as exc:
        raise DirectoryError(str(exc.strerror)) from None
    except (unixsock.AddressInUseError, FileExistsError) as exc:
        raise HostError(str(exc.strerror)) from None
    except OSError as exc:
        raise HostError(f"{path}: cannot create its directory: {exc.strerror or exc}") from None


def _own_socket(path: str, uid: int, gid: int) -> None:
    """containerd's socket mode (0660) and the configured owner."""
    os.chmod(path, 0o660)
    if uid != -1 or gid != -1:
        os.chown(path, uid, gid)


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
        """Init every enabled plugin; raises LoadError/ConfigError (impl.loader).

        Before any plugin runs and before anything is created, every
        directory the host will use (root, state, the sockets') that exists
        already is checked to be private to this user; root and state are
        then created with explicit modes and checked again.
        """
        cfg = self.config
        for uri in cfg.plugins:
            if uri not in self.registry:
                self.log.warning('config %s: [plugins."%s"] names no registered plugin; ignored', cfg.source, uri)
        ordered = self.graph()
        self.check_configs(ordered)
        self.check_directories()
        for key, d in sorted((("root", cfg.root), ("state", cfg.state)), key=lambda kv: os.path.abspath(kv[1])):
            if d:
                try:
                    unixsock.ensure_private_dir(d, 0o711)
                except unixsock.UnsafeDirectoryError as exc:
                    raise DirectoryError(f"config {cfg.source}: {key} {exc.strerror}") from None
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

    def check_directories(self) -> None:
        """``check_directories(self.config)``."""
        check_directories(self.config)

    def check_configs(self, ordered: Iterable[Registration[Any]]) -> None:
        """Decode every plugin section before any init runs.

        The loader decodes each section just before its plugin's init; doing
        it up front turns a typo into one error with nothing half-started.
        """
        for reg in ordered:
            section = self.config.plugins.get(reg.uri)
            if section is not None:
                decode_config(reg.uri, reg.config, section, source=self.config.source)

    # -- serving ------------------------------------------------------------

    async def start(self) -> None:
        """Load, then bind and serve everything collected. Cleans up on failure."""
        result = self.result or await self.load()
        try:
            await self._serve_grpc(result)
            await self._serve_tcp(result)
            await self._serve_ttrpc(result)
            for instance in self._instances():
                if isinstance(instance, ServingHook):
                    await instance.serving(tuple(self.grpc_services))
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

    def _instances(self) -> list[object]:
        """Every loaded instance once, in init order."""
        if self.result is None:
            return []
        return _unique(p.instance for p in self.result.plugins if p.error is None)

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
        # grpcio binds the socket itself, in add_insecure_port: the umask keeps
        # it 0600 from the start, so nobody can connect before its mode and
        # owner are set.
        old_umask = os.umask(0o177)
        try:
            port = server.add_insecure_port("unix:" + path)
        finally:
            os.umask(old_umask)
        if port == 0:
            raise HostError(f"{path}: cannot listen for gRPC")
        self._grpc = server
        self._sockets.append(path)
        _own_socket(path, cfg.uid, cfg.gid)
        await server.start()

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
                if not cfg.tcp_tls_ca:
                    self.log.warning(
                        "[grpc] tcp_address %s: TLS without tcp_tls_ca: any client is accepted "
                        "(no client certificate is asked for)",
                        cfg.tcp_address,
                    )
            else:
                port = server.add_insecure_port(cfg.tcp_address)
                self.log.warning(
                    "[grpc] tcp_address %s: plain TCP without TLS: any local user (and anyone who can "
                    "reach the port) can connect and call every TCP service",
                    cfg.tcp_address,
                )
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
        try:
            sock = socket.socket(fileno=unixsock.bind_unix(path).detach())
        except OSError as exc:
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
        # Health turns NOT_SERVING; the exchange ends its subscriptions, which
        # never finish by themselves and would hold the graceful stop for the
        # whole grace (queued events are still delivered; a call arriving
        # later is refused just as the stopping servers would refuse it).
        for instance in self._instances():
            if isinstance(instance, StoppingHook):
                try:
                    await instance.shutting_down()
                except Exception as exc:
                    self.log.warning("stopping: %s.shutting_down failed: %s", type(instance).__qualname__, exc)
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
        for r in await asyncio.gather(*waits, return_exceptions=True):
            if isinstance(r, BaseException):
                self.log.warning("stopping: in-flight calls cut short: %r", r)
                if self._ttrpc is not None:
                    self._ttrpc.close()
        if self._ttrpc_task is not None:
            with contextlib.suppress(BaseException):
                await self._ttrpc_task
        for path in self._sockets:
            unixsock.remove_socket(path)
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
