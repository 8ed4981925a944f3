"""A containerd-style plugin host: config, loading, gRPC/TCP/ttrpc serving.

``shimtypes serve`` is this package behind a CLI. gRPC needs the ``grpc``
extra; without it, ``impl.server`` still imports and a host whose
``[grpc] address`` is empty serves ttrpc only.
"""

from ._config import (
    Config as Config,
    ConfigError as ConfigError,
    GRPCConfig as GRPCConfig,
    TTRPCConfig as TTRPCConfig,
    default_config as default_config,
    dump_config as dump_config,
    load_config as load_config,
    parse_config as parse_config,
    validate_uri as validate_uri,
)
from ._discovery import (
    ENTRY_POINT_GROUP as ENTRY_POINT_GROUP,
    DiscoveryError as DiscoveryError,
    discover as discover,
)
from ._events_service import EventsService as EventsService
from ._exchange import (
    DEFAULT_NAMESPACE as DEFAULT_NAMESPACE,
    EventFilterError as EventFilterError,
    Exchange as Exchange,
    ExchangeClosed as ExchangeClosed,
    InvalidEvent as InvalidEvent,
    SubscriberOverflow as SubscriberOverflow,
    Subscription as Subscription,
)
from ._filters import FilterError as FilterError
from ._health import Health as Health
from ._host import (
    Host as Host,
    HostError as HostError,
    builtin_registrations as builtin_registrations,
    new_registry as new_registry,
)
from ._introspection import (
    INTROSPECTION_SERVICE as INTROSPECTION_SERVICE,
    Introspection as Introspection,
    describe as describe,
    select as select,
    status_of as status_of,
)
from ._render import render_dot as render_dot, render_mermaid as render_mermaid
from ._table import (
    format_plugins as format_plugins,
    format_plugins_detailed as format_plugins_detailed,
    tabwrite as tabwrite,
)

__all__ = [
    "Config",
    "ConfigError",
    "DEFAULT_NAMESPACE",
    "DiscoveryError",
    "ENTRY_POINT_GROUP",
    "EventFilterError",
    "EventsService",
    "Exchange",
    "ExchangeClosed",
    "FilterError",
    "GRPCConfig",
    "Health",
    "Host",
    "HostError",
    "INTROSPECTION_SERVICE",
    "Introspection",
    "InvalidEvent",
    "SubscriberOverflow",
    "Subscription",
    "TTRPCConfig",
    "builtin_registrations",
    "default_config",
    "describe",
    "discover",
    "dump_config",
    "format_plugins",
    "format_plugins_detailed",
    "load_config",
    "new_registry",
    "parse_config",
    "render_dot",
    "render_mermaid",
    "select",
    "status_of",
    "tabwrite",
    "validate_uri",
]
