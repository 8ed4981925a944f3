"""A containerd-style plugin host: config, loading, gRPC/TCP/ttrpc serving.

``shimtypes serve`` is this package behind a CLI. The host (config,
discovery, serving) lives apart from its built-in plugins (events, health,
introspection, version), which it finds by structure like any plugin. gRPC
needs the ``grpc`` extra; without it, ``impl.server`` still imports and a
host whose ``[grpc] address`` is empty serves ttrpc only.
"""

from ._builtins import builtin_registrations as builtin_registrations
from ._builtins._events import EventsService as EventsService
from ._builtins._exchange import (
    DEFAULT_NAMESPACE as DEFAULT_NAMESPACE,
    EventFilterError as EventFilterError,
    Exchange as Exchange,
    ExchangeClosed as ExchangeClosed,
    InvalidEvent as InvalidEvent,
    SubscriberOverflow as SubscriberOverflow,
    Subscription as Subscription,
)
from ._builtins._filters import FilterError as FilterError
from ._builtins._health import Health as Health
from ._builtins._introspection import (
    INTROSPECTION_SERVICE as INTROSPECTION_SERVICE,
    Introspection as Introspection,
    describe as describe,
    format_platform as format_platform,
    select as select,
    status_of as status_of,
)
from ._builtins._version import VERSION_SERVICE as VERSION_SERVICE, VersionService as VersionService
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
from ._hooks import ServingHook as ServingHook, StoppingHook as StoppingHook
from ._host import (
    DirectoryError as DirectoryError,
    Host as Host,
    HostError as HostError,
    check_directories as check_directories,
    directories as directories,
    new_registry as new_registry,
)

__all__ = [
    "Config",
    "ConfigError",
    "DEFAULT_NAMESPACE",
    "DirectoryError",
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
    "ServingHook",
    "StoppingHook",
    "SubscriberOverflow",
    "Subscription",
    "TTRPCConfig",
    "VERSION_SERVICE",
    "VersionService",
    "builtin_registrations",
    "check_directories",
    "default_config",
    "describe",
    "directories",
    "discover",
    "dump_config",
    "format_platform",
    "load_config",
    "new_registry",
    "parse_config",
    "select",
    "status_of",
    "validate_uri",
]

from impl._reexport import fix_module as _fix_module  # noqa: E402

_fix_module(__name__, __all__)
