"""impl.server: the lifecycle hooks a plugin may offer, the one ConfigError, the host's config."""
# requires: impl.server, impl.loader

from collections.abc import Sequence
from typing import assert_type

from impl.loader import ConfigError
from impl.server import Config, GRPCConfig, Host, ServingHook, StoppingHook, parse_config


class Announces:
    async def serving(self, services: Sequence[str], /) -> None: ...
    async def shutting_down(self) -> None: ...


class SyncServing:
    def serving(self, services: Sequence[str], /) -> None: ...


class WrongArgument:
    async def serving(self, services: int, /) -> None: ...


def expects_serving(hook: ServingHook) -> None: ...
def expects_stopping(hook: StoppingHook) -> None: ...


def hooks() -> None:
    expects_serving(Announces())
    expects_stopping(Announces())
    expects_serving(SyncServing())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    expects_serving(WrongArgument())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def config_error(e: ConfigError) -> None:
    assert_type(e.source, str)
    assert_type(e.table, str)
    assert_type(e.key, str)
    assert_type(e.problem, str)
    ConfigError("io.containerd.grpc.v1.x", "key", "problem", source="/etc/c.toml")
    ConfigError("", "uid", "expected integer, got string", source="/c.toml", table="grpc")
    ConfigError("uri", "key", "problem", "/c.toml")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


def config(text: str) -> Host:
    cfg = parse_config(text, "/c.toml")
    assert_type(cfg, Config)
    assert_type(cfg.grpc, GRPCConfig)
    assert_type(cfg.disabled_plugins, tuple[str, ...])
    cfg.grpc.uid = 1  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
    from impl.server import new_registry

    registry, _ = new_registry()
    return Host(cfg, registry)
