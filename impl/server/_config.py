"""The host's TOML configuration (version 2): schema, defaults, strict decoding.

Decoding is strict because a typo in a daemon's config otherwise shows up much
later as "my setting did nothing"; every error names the file, the table and
the key in one line so that it can be fixed without reading a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field

from impl.loader import ConfigError, decode_config
from impl.loader._errors import toml_quote

__all__ = [
    "Config",
    "ConfigError",
    "GRPCConfig",
    "TTRPCConfig",
    "default_config",
    "dump_config",
    "load_config",
    "parse_config",
    "validate_uri",
]

CONFIG_VERSION = 2
DEFAULT_MAX_MESSAGE_SIZE = 16 << 20


@dataclass(frozen=True, slots=True)
class GRPCConfig:
    """``[grpc]``: the unix socket every GRPCService is served on, and TCP."""

    address: str = ""
    uid: int = -1
    gid: int = -1
    max_recv_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_send_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    tcp_address: str = ""
    tcp_tls_cert: str = ""
    tcp_tls_key: str = ""
    tcp_tls_ca: str = ""


@dataclass(frozen=True, slots=True)
class TTRPCConfig:
    """``[ttrpc]``: the socket TTRPCServices (and shims' events) are served on."""

    address: str = ""


@dataclass(frozen=True, slots=True)
class Config:
    """A decoded config. ``plugins`` keeps raw tables; the loader types them."""

    version: int = CONFIG_VERSION
    root: str = ""
    state: str = ""
    disabled_plugins: tuple[str, ...] = ()
    required_plugins: tuple[str, ...] = ()
    grpc: GRPCConfig = field(default_factory=GRPCConfig)
    ttrpc: TTRPCConfig = field(default_factory=TTRPCConfig)
    plugins: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    source: str = field(default="<defaults>", metadata={"config": False})
    """Where it came from, for error messages; not a TOML key."""


def _usable(parent: str) -> bool:
    return os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK)


def _fallback() -> str:
    return os.path.join(tempfile.gettempdir(), f"shimtypes-{os.geteuid()}")


def _runtime_dir() -> str:
    """Where sockets go: /run as root, else $XDG_RUNTIME_DIR, else a temp dir."""
    if os.geteuid() == 0:
        return "/run/shimtypes" if _usable("/run") else _fallback()
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg and _usable(xdg):
        return os.path.join(xdg, "shimtypes")
    return _fallback()


def _data_dir() -> str:
    """Where plugins keep data: /var/lib as root, else $XDG_DATA_HOME, else beside the sockets."""
    if os.geteuid() == 0:
        return "/var/lib/shimtypes" if _usable("/var/lib") else os.path.join(_runtime_dir(), "root")
    xdg = os.environ.get("XDG_DATA_HOME", "")
    if not xdg:
        home = os.path.expanduser("~")
        xdg = os.path.join(home, ".local", "share") if home != "~" and _usable(home) else ""
    if xdg and (_usable(xdg) or _usable(os.path.dirname(xdg))):
        return os.path.join(xdg, "shimtypes")
    return os.path.join(_runtime_dir(), "root")


def default_config() -> Config:
    """The embedded defaults, resolved for the current user and environment."""
    run = _runtime_dir()
    sock = os.path.join(run, "shimtypes.sock")
    return Config(
        root=_data_dir(),
        state=run,
        grpc=GRPCConfig(address=sock),
        ttrpc=TTRPCConfig(address=sock + ".ttrpc"),
    )


def validate_uri(uri: str) -> bool:
    """Config v2 names plugins by URI: at least 4 non-empty dot-separated parts."""
    parts = uri.split(".")
    return len(parts) >= 4 and all(parts)


_URI_HINT = "want <type>.<id> with at least 4 dot-separated parts"
_TABLES = {"grpc": GRPCConfig, "ttrpc": TTRPCConfig}


def parse_config(text: str, source: str, *, base: Config | None = None) -> Config:
    """Decode TOML text over ``base`` (the defaults); raise ConfigError.

    The host's own tables go through the same decoder as every plugin's
    section (``impl.loader.decode_config``), worded in TOML's terms.
    """
    base = default_config() if base is None else base
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", "", f"invalid TOML: {exc}", source=source) from None
    top = {k: v for k, v in data.items() if not (k in (*_TABLES, "plugins") and isinstance(v, dict))}
    plain = dataclasses.replace(base, grpc=GRPCConfig(), ttrpc=TTRPCConfig(), plugins={})
    decoded = typing.cast(Config, decode_config("", plain, top, source=source, table="", toml_words=True))
    if decoded.version != CONFIG_VERSION:
        raise ConfigError(
            "", "version", f"unsupported config version {decoded.version} (want {CONFIG_VERSION})", source=source
        )
    for key in ("disabled_plugins", "required_plugins"):
        for uri in typing.cast("tuple[str, ...]", getattr(decoded, key)):
            if not validate_uri(uri):
                raise ConfigError(
                    "", key, f"invalid plugin URI {_quote(uri)} ({_URI_HINT}, e.g. io.containerd.grpc.v1.cri)",
                    source=source,
                )
    tables: dict[str, object] = {}
    for name, default in (("grpc", base.grpc), ("ttrpc", base.ttrpc)):
        section = data.get(name)
        tables[name] = (
            decode_config("", default, section, source=source, table=name, toml_words=True)
            if isinstance(section, dict)
            else default
        )
    grpc = typing.cast(GRPCConfig, tables["grpc"])
    ttrpc = typing.cast(TTRPCConfig, tables["ttrpc"])
    grpc_data = data.get("grpc", {})
    ttrpc_data = data.get("ttrpc", {})
    if "address" in grpc_data and "address" not in ttrpc_data and grpc.address:
        # containerd derives the ttrpc socket from the gRPC one.
        ttrpc = TTRPCConfig(address=grpc.address + ".ttrpc")
    plugins: dict[str, Mapping[str, object]] = {}
    raw_plugins = data.get("plugins", {})
    for uri, table in (raw_plugins.items() if isinstance(raw_plugins, dict) else ()):
        if not validate_uri(uri):
            raise ConfigError(uri, "", f"invalid plugin URI {_quote(uri)} ({_URI_HINT})", source=source)
        if not isinstance(table, dict):
            raise ConfigError("", uri, f"expected table, got {_toml_kind(table)}", source=source, table="plugins")
        plugins[uri] = types.MappingProxyType(dict(table))
    if (grpc.tcp_tls_cert == "") != (grpc.tcp_tls_key == ""):
        raise ConfigError("", "", 'keys "tcp_tls_cert" and "tcp_tls_key" must be set together', source=source, table="grpc")
    if grpc.tcp_tls_ca and not grpc.tcp_tls_cert:
        raise ConfigError("", "", 'key "tcp_tls_ca" needs "tcp_tls_cert" and "tcp_tls_key"', source=source, table="grpc")
    return dataclasses.replace(
        decoded,
        grpc=grpc,
        ttrpc=ttrpc,
        plugins=types.MappingProxyType(plugins),
        source=source,
    )


def _toml_kind(value: object) -> str:
    for t, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string")):
        if isinstance(value, t):
            return name
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def load_config(path: str | None) -> Config:
    """Read ``path`` over the embedded defaults; ``None`` means defaults only."""
    if path is None:
        return default_config()
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise ConfigError("", "", f"cannot read: {exc.strerror or exc}", source=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("", "", f"invalid TOML: not UTF-8 at byte {exc.start}", source=path) from None
    return parse_config(text, path)


_quote = toml_quote


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        inner = ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items() if x is not None)
        return "{" + inner + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _table_lines(prefix: str, data: Mapping[str, object]) -> list[str]:
    lines = [f"[{prefix}]"]
    nested: list[tuple[str, Mapping[str, object]]] = []
    for k, v in data.items():
        if v is None:  # TOML has no null: leave the key to its default
            continue
        if isinstance(v, Mapping):
            nested.append((k, v))
        else:
            lines.append(f"  {_key(k)} = {_value(v)}")
    for k, v in nested:
        lines.append("")
        lines.extend(_table_lines(f"{prefix}.{_key(k)}", v))
    return lines


def _key(k: str) -> str:
    if k and all(c.isalnum() or c in "-_" for c in k):
        return k
    return _quote(k)


def dump_config(config: Config, plugin_defaults: Mapping[str, Mapping[str, object]] | None = None) -> str:
    """Write ``config`` as TOML that ``parse_config`` reads back to the same value."""
    lines = [
        f"version = {config.version}",
        f"root = {_value(config.root)}",
        f"state = {_value(config.state)}",
        f"disabled_plugins = {_value(config.disabled_plugins)}",
        f"required_plugins = {_value(config.required_plugins)}",
        "",
    ]
    lines.extend(_table_lines("grpc", {f.name: getattr(config.grpc, f.name) for f in dataclasses.fields(config.grpc)}))
    lines.append("")
    lines.extend(_table_lines("ttrpc", {"address": config.ttrpc.address}))
    merged: dict[str, Mapping[str, object]] = dict(plugin_defaults or {})
    merged.update(config.plugins)
    for uri, table in merged.items():
        lines.append("")
        lines.extend(_table_lines(f"plugins.{_quote(uri)}", table))
    return "\n".join(lines) + "\n"
