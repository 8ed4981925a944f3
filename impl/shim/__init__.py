"""impl.shim: run a containerd shim v2 runtime written in Python.

``run(runtime_id, init)`` is the shim's main: it parses containerd's flags
and runs ``start``, ``delete`` or the serving process. ``start_serving_shim``
is the usual body of ``Shim.start_shim``. Importing this package is cheap (no
asyncio, grpc or protobuf): ``start`` and ``delete`` are on containerd's
critical path; the serving process imports the rest when it needs it.
"""

# Everything is imported on first use: ``start`` and ``delete`` import only
# what they run (not even ``typing``, ~14 ms). mypy treats this name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._address import (
        SOCKET_DIR as SOCKET_DIR,
        SOCKET_PATH_LIMIT as SOCKET_PATH_LIMIT,
        read_address as read_address,
        remove_socket as remove_socket,
        socket_address as socket_address,
        socket_path as socket_path,
        write_address as write_address,
    )
    from ._flags import FlagError as FlagError, ShimFlags as ShimFlags, parse_flags as parse_flags
    from ._log import LogrusFormatter as LogrusFormatter
    from ._publisher import RemotePublisher as RemotePublisher
    from ._runner import run as run, shim_context as shim_context
    from ._serve import TaskPlugin as TaskPlugin
    from ._start import start_serving_shim as start_serving_shim

_LAZY = {
    "SOCKET_DIR": "._address",
    "SOCKET_PATH_LIMIT": "._address",
    "read_address": "._address",
    "remove_socket": "._address",
    "socket_address": "._address",
    "socket_path": "._address",
    "write_address": "._address",
    "FlagError": "._flags",
    "ShimFlags": "._flags",
    "parse_flags": "._flags",
    "run": "._runner",
    "shim_context": "._runner",
    "start_serving_shim": "._start",
    # Serving-side names (they need asyncio and protobuf).
    "LogrusFormatter": "._log",
    "RemotePublisher": "._publisher",
    "TaskPlugin": "._serve",
}

__all__ = [
    "SOCKET_DIR",
    "SOCKET_PATH_LIMIT",
    "FlagError",
    "LogrusFormatter",
    "RemotePublisher",
    "TaskPlugin",
    "ShimFlags",
    "parse_flags",
    "read_address",
    "remove_socket",
    "run",
    "shim_context",
    "socket_address",
    "socket_path",
    "start_serving_shim",
    "write_address",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'impl.shim' has no attribute {name!r}")
    value: object = getattr(__import__(module[1:], globals(), level=1, fromlist=(name,)), name)
    globals()[name] = value
    return value
