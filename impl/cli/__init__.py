"""``shimtypes``: run the plugin host and look at its plugins.

Exit codes: 0 success, 1 a runtime failure (a required plugin, a socket in
use, no host to talk to), 2 a usage or config error (one line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, NoReturn

if TYPE_CHECKING:  # the commands import lazily: ``--help`` stays fast
    from impl.plugin import Registry
    from impl.server import Config, Host
    from shimtypes.pb.introspection_pb2 import Plugin as PluginInfo

__all__ = ["main"]

PROG = "shimtypes"
_log = logging.getLogger("shimtypes")


class _Fail(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = record.levelname.lower()
        return f"{PROG}: {level}: {record.getMessage()}"


class _Progress(logging.Handler):
    """One rewritten status line while plugins load; only on a terminal."""

    def __init__(self, stream: IO[str], total: int) -> None:
        super().__init__(logging.INFO)
        self.stream = stream
        self.total = total
        self.count = 0
        self.active = False

    def emit(self, record: logging.LogRecord) -> None:
        uri = getattr(record, "plugin_uri", None)
        if uri is None or not record.getMessage().startswith("loading plugin"):
            return
        self.count += 1
        self.stream.write(f"\r\x1b[Kloading plugins [{self.count}/{self.total}] {uri}")
        self.stream.flush()
        self.active = True

    def clear(self) -> None:
        if self.active:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.active = False


def _setup_logging(level: str) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StderrFormatter())
    handler.setLevel(logging.getLevelNamesMapping()[level.upper()])
    root.addHandler(handler)
    # Handlers filter; the progress handler wants INFO even when stderr does not.
    root.setLevel(min(logging.INFO, handler.level))


def _config(path: str | None) -> Config:
    """The config, its directories checked before any plugin module is imported."""
    from impl.server import DirectoryError, check_directories, load_config

    config = load_config(path)  # a ConfigError is exit 2 (main)
    try:
        check_directories(config)
    except DirectoryError as exc:
        raise _Fail(str(exc), 2) from None
    return config


def _registry() -> Registry:
    from impl.server import new_registry

    registry, errors = new_registry()
    for err in errors:
        _log.error("%s", err)
    return registry


async def _load(host: Host, *, serve: bool) -> None:
    from impl.loader import ConfigError
    from impl.plugin import PluginError
    from impl.server import DirectoryError, HostError

    progress: _Progress | None = None
    loader_log = host.log.getChild("loader")
    try:
        if sys.stderr.isatty():  # graph() may raise (a cycle): inside the try
            progress = _Progress(sys.stderr, len(host.graph()))
            loader_log.addHandler(progress)
        if serve:
            await host.start()
        else:
            await host.load()
    except ConfigError:
        raise  # exit 2 (main)
    except DirectoryError as exc:  # refusing is a setup error, like a bad config
        raise _Fail(str(exc), 2) from None
    except (PluginError, HostError) as exc:  # LoadError, a dependency cycle, ...
        raise _Fail(str(exc), 1) from None
    finally:
        if progress is not None:
            progress.clear()
            loader_log.removeHandler(progress)


def _print(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# -- commands -----------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from impl.server import Host, describe

    from ._table import format_plugins

    config = _config(args.config)
    host = Host(config, _registry())

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, host.request_stop)
        try:
            await _load(host, serve=True)
            _print(format_plugins(describe(host.plugins)))
            where = ", ".join(f"{k} {v}" for k, v in host.addresses.items()) or "nothing"
            _print(f"{PROG}: ready: serving {where} (pid {os.getpid()})\n")
            await host.wait()
            _log.info("shutting down")
        finally:
            await host.stop(grace=args.grace)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    asyncio.run(run())
    return 0


def cmd_plugins_ls(args: argparse.Namespace) -> int:
    from ._table import format_plugins, format_plugins_detailed

    if args.config is not None:
        infos = _offline(args)
    else:
        infos = _online(args)
    if args.quiet:
        _print("".join(f"{i.id}\n" for i in infos))
    elif args.detailed:
        _print(format_plugins_detailed(infos))
    else:
        _print(format_plugins(infos))
    return 0


def _offline(args: argparse.Namespace) -> list[PluginInfo]:
    from impl.server import FilterError, Host, describe, select

    host = Host(_config(args.config), _registry())

    async def run() -> list[PluginInfo]:
        try:
            await _load(host, serve=False)
            return select(describe(host.plugins), args.filters)
        finally:
            await host.stop(grace=0)

    try:
        return asyncio.run(run())
    except FilterError as exc:
        raise _Fail(str(exc), 2) from None


def _online(args: argparse.Namespace) -> list[PluginInfo]:
    from shimtypes.pb.introspection_pb2 import PluginsRequest, PluginsResponse

    from impl.server import INTROSPECTION_SERVICE, default_config

    address = args.address or default_config().grpc.address
    request = PluginsRequest(filters=args.filters)
    if address.endswith(".ttrpc"):
        from impl.ttrpc import Client, TTRPCError
        from impl.ttrpc.services import IntrospectionClient

        async def call() -> PluginsResponse:
            client = await Client.connect(address)
            try:
                return await IntrospectionClient(client).plugins(request, timeout=args.timeout)
            finally:
                await client.close()

        try:
            reply = asyncio.run(call())
        except TTRPCError as exc:
            raise _Fail(f"{address}: {exc}", 1) from None
        except OSError as exc:
            raise _Fail(_unreachable(address, exc.strerror or str(exc)), 1) from None
        return list(reply.plugins)
    try:
        import grpc
    except ImportError:
        raise _Fail(
            "talking to a host over gRPC needs grpcio: pip install 'shimtypes[grpc]' "
            "(or pass the .ttrpc socket as --address)",
            1,
        ) from None
    target = address if address.startswith(("unix:", "dns:", "ipv4:", "ipv6:")) else "unix:" + os.path.abspath(address)
    with grpc.insecure_channel(target) as channel:
        method = channel.unary_unary(
            f"/{INTROSPECTION_SERVICE}/Plugins",
            request_serializer=PluginsRequest.SerializeToString,
            response_deserializer=PluginsResponse.FromString,
        )
        try:
            response: PluginsResponse = method(request, timeout=args.timeout)
        except grpc.RpcError as exc:
            code = getattr(exc, "code", lambda: None)()
            detail = getattr(exc, "details", lambda: str(exc))()
            if code == grpc.StatusCode.UNAVAILABLE:
                raise _Fail(_unreachable(address, str(detail)), 1) from None
            raise _Fail(f"{address}: {detail}", 1) from None
    return list(response.plugins)


def _unreachable(address: str, why: str) -> str:
    return (
        f"no host at {address}: {why} (is `shimtypes serve` running? "
        "`shimtypes plugins ls --config FILE` lists offline)"
    )


def cmd_plugins_graph(args: argparse.Namespace) -> int:
    from impl.server import load_config

    from ._graph import render_dot, render_mermaid

    config = load_config(args.config)  # only drawn: no directory is used
    registry = _registry()
    disabled = set(config.disabled_plugins)
    regs = list(registry)
    render = render_dot if args.format == "dot" else render_mermaid
    _print(render(regs, lambda r: r.uri in disabled))
    return 0


def cmd_config_default(args: argparse.Namespace) -> int:
    import msgspec

    from impl.server import default_config, dump_config

    defaults: dict[str, Mapping[str, object]] = {}
    for reg in _registry():
        if reg.config is not None:
            defaults[reg.uri] = msgspec.to_builtins(reg.config)
    _print(dump_config(default_config(), defaults))
    return 0


# -- argument parsing ---------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="A containerd-style plugin host for Python plugins.")
    p.add_argument(
        "--log-level",
        default="warning",
        choices=("debug", "info", "warning", "error"),
        help="stderr log level (default: warning)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("serve", help="load the plugins and serve them (defaults when no --config)")
    s.add_argument("--config", "-c", metavar="FILE", help="TOML config (version = 2) over the embedded defaults")
    s.add_argument("--grace", type=float, default=10.0, metavar="SECONDS", help="how long in-flight calls may take on SIGTERM")
    s.set_defaults(func=cmd_serve)

    pl = sub.add_parser("plugins", aliases=["plugin"], help="list or draw plugins")
    psub = pl.add_subparsers(dest="plugins_command", metavar="COMMAND", required=True)
    ls = psub.add_parser("ls", aliases=["list"], help="TYPE ID PLATFORMS STATUS, as ctr prints them")
    ls.add_argument("-d", "--detailed", action="store_true", help="requires, exports, capabilities, errors")
    ls.add_argument("-q", "--quiet", action="store_true", help="ids only")
    where = ls.add_mutually_exclusive_group()
    where.add_argument("--address", "-a", metavar="ADDR", help="a running host's gRPC (or .ttrpc) socket")
    where.add_argument("--config", "-c", metavar="FILE", help="load the plugins offline from this config")
    ls.add_argument("--timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    ls.add_argument("filters", nargs="*", metavar="FILTER", help="e.g. type==io.containerd.grpc.v1 id==health")
    ls.set_defaults(func=cmd_plugins_ls)
    gr = psub.add_parser("graph", help="the dependency graph as Graphviz dot or Mermaid")
    gr.add_argument("--format", choices=("dot", "mermaid"), default="dot")
    gr.add_argument("--config", "-c", metavar="FILE", help="take disabled_plugins from this config")
    gr.set_defaults(func=cmd_plugins_graph)

    c = sub.add_parser("config", help="configuration")
    csub = c.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    d = csub.add_parser("default", help="print the embedded default config")
    d.set_defaults(func=cmd_config_default)
    return p


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = build_parser().parse_args(argv)  # --help exits here, before any import
    _setup_logging(args.log_level)
    from impl.loader import ConfigError

    try:
        code = args.func(args)
    except _Fail as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        code = exc.code
    except ConfigError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        code = 2
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 1
        sys.stderr.close()
    sys.exit(code)

