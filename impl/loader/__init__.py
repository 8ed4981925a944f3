"""The plugin loading loop shared by the host server and the shim."""

from ._config import decode_config as decode_config
from ._errors import ConfigError as ConfigError, LoadError as LoadError
from ._load import (
    GRPC_ADDRESS_PROPERTY as GRPC_ADDRESS_PROPERTY,
    LoadPolicy as LoadPolicy,
    LoadResult as LoadResult,
    ROOT_PROPERTY as ROOT_PROPERTY,
    STATE_PROPERTY as STATE_PROPERTY,
    TTRPC_ADDRESS_PROPERTY as TTRPC_ADDRESS_PROPERTY,
    load as load,
)

__all__ = [
    "ConfigError",
    "GRPC_ADDRESS_PROPERTY",
    "LoadError",
    "LoadPolicy",
    "LoadResult",
    "ROOT_PROPERTY",
    "STATE_PROPERTY",
    "TTRPC_ADDRESS_PROPERTY",
    "decode_config",
    "load",
]

from impl._reexport import fix_module as _fix_module  # noqa: E402

_fix_module(__name__, __all__)
