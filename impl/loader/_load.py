"""The loop the server and the shim share: init each plugin in graph order."""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Awaitable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from impl.plugin import InitContext, Plugin, PluginSet, Registration, SkipPlugin
from shimtypes import GRPCService, TCPService, TTRPCService

from ._config import decode_config
from ._errors import LoadError

__all__ = [
    "GRPC_ADDRESS_PROPERTY",
    "LoadPolicy",
    "LoadResult",
    "ROOT_PROPERTY",
    "STATE_PROPERTY",
    "TTRPC_ADDRESS_PROPERTY",
    "load",
]

# containerd 2.x's property keys; root and state are already joined with the URI.
ROOT_PROPERTY = "io.containerd.plugin.root"
STATE_PROPERTY = "io.containerd.plugin.state"
GRPC_ADDRESS_PROPERTY = "io.containerd.plugin.grpc.address"
TTRPC_ADDRESS_PROPERTY = "io.containerd.plugin.ttrpc.address"

_log = logging.getLogger("impl.loader")


class LoadPolicy(enum.Enum):
    """When a failed init stops the load."""

    SHIM = "shim"
    """Any failure that is not a skip (containerd's shim loop)."""
    SERVER = "server"
    """Only a required plugin that failed, was skipped or never loaded."""


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Every plugin run, and the instances to serve, in init order.

    An instance is collected by what it has, not what it inherits: it may
    satisfy several protocols and appear in several tuples.
    """

    plugins: PluginSet
    grpc: tuple[GRPCService, ...]
    ttrpc: tuple[TTRPCService, ...]
    tcp: tuple[TCPService, ...]


async def load(
    ordered: Sequence[Registration[Any]],
    *,
    policy: LoadPolicy,
    root: str,
    state: str,
    address: str = "",
    ttrpc_address: str = "",
    configs: Mapping[str, Mapping[str, object]] | None = None,
    required: Collection[str] = (),
    properties: Mapping[str, str] | None = None,
    logger: logging.Logger | None = None,
) -> LoadResult:
    """Init ``ordered`` (a ``graph()`` result) one by one.

    Each plugin's config section (``configs[uri]``) is decoded first; a bad
    one raises ``ConfigError`` whatever the policy. Every result, failed or
    skipped included, is added to the set before its error is looked at.
    ``required`` (URIs) is checked under both policies.
    """
    log = logger if logger is not None else _log
    plugins = PluginSet()
    grpc: list[GRPCService] = []
    ttrpc: list[TTRPCService] = []
    tcp: list[TCPService] = []
    missing = dict.fromkeys(required)
    base_props = dict(properties) if properties else {}

    for reg in ordered:
        uri = reg.uri
        log.info('loading plugin "%s"... type=%s', uri, reg.type, extra=_fields(reg))
        section = configs.get(uri) if configs is not None else None
        config = decode_config(uri, reg.config, section)
        plugin_root = os.path.join(root, uri)
        plugin_state = os.path.join(state, uri)
        props = dict(base_props)
        props[ROOT_PROPERTY] = plugin_root
        props[STATE_PROPERTY] = plugin_state
        props[GRPC_ADDRESS_PROPERTY] = address
        props[TTRPC_ADDRESS_PROPERTY] = ttrpc_address
        ic: InitContext[Any] = InitContext(
            registration=reg,
            root=plugin_root,
            state=plugin_state,
            config=config,
            plugins=plugins,
            address=address,
            ttrpc_address=ttrpc_address,
            properties=props,
        )
        instance: object = None
        error: Exception | None = None
        try:
            instance = await _init(reg, ic)
        except Exception as e:  # recorded, then judged by the policy below
            instance, error = None, e
        plugins.add(Plugin(reg, config, ic.meta, instance, error))

        if error is not None:
            if isinstance(error, SkipPlugin):
                log.info(
                    'skip loading plugin "%s"... error="%s" type=%s',
                    uri, error, reg.type, extra=_fields(reg, error),
                )
            else:
                log.warning(
                    'failed to load plugin %s error="%s" type=%s',
                    uri, error, reg.type, extra=_fields(reg, error),
                )
                if policy is LoadPolicy.SHIM:
                    raise LoadError(f"failed to load plugin {uri}: {error}") from error
            if uri in missing:
                raise LoadError(f"load required plugin {uri}: {error}") from error
            continue

        missing.pop(uri, None)
        if isinstance(instance, GRPCService):
            grpc.append(instance)
        if isinstance(instance, TTRPCService):
            ttrpc.append(instance)
        if isinstance(instance, TCPService):
            tcp.append(instance)

    if missing:
        raise LoadError(f"required plugin [{' '.join(missing)}] not included")
    return LoadResult(plugins, tuple(grpc), tuple(ttrpc), tuple(tcp))


async def _init(reg: Registration[Any], ic: InitContext[Any]) -> object:
    result: object = reg.init(ic)
    if isinstance(result, Awaitable):
        return await result
    return result


def _fields(reg: Registration[Any], error: Exception | None = None) -> dict[str, object]:
    # For structured handlers; names chosen not to clash with LogRecord's.
    fields: dict[str, object] = {"plugin_type": reg.type, "plugin_uri": reg.uri}
    if error is not None:
        fields["plugin_error"] = error
    return fields
