"""A fork server ("zygote") for serving shims: a new shim costs a fork, not an interpreter.

Re-executing the shim for every container means a fresh interpreter that
imports asyncio, protobuf, ttrpc and the loader while containerd
waits for its first call. A zygote is a pre-imported, idle process per
(uid, program, environment); ``start`` hands it the bound listener over
SCM_RIGHTS with the serve flags and the bundle (``ZygoteClient.request``), and
it forks a detached serving shim (own session, stdio on /dev/null; reaped by
the zygote, by init once the zygote is gone), so each container still has its
own shim process. The shim reports its pid to ``start`` itself and serves only
after ``start``'s go-ahead (``ForkedShim.release``): whatever dies or gives up
in between, a listener never gets two shims. A zygote that does not answer in
``REPLY_TIMEOUT`` is killed and replaced, and ``start`` forks the shim itself.

It lives in ``/run/shimtypes/zygote`` (mode 0700, owned by the user), one per
key guarded by an flock, and exits after ``SHIMTYPES_ZYGOTE_IDLE`` seconds
without requests (default 30), or as soon as a module file it imported
changed on disk (checked per request); the key also covers the program's
files. A runtime turns it on with ``ShimOptions(serving="zygote")``; the
runner then runs the ``Zygote`` when started with ``SHIMTYPES_ZYGOTE_SOCKET``.
``SHIMTYPES_ZYGOTE=0`` turns zygotes off (``start`` forks the shim itself),
``exec`` turns forking off (every serving shim re-executed).

Fault tests only: ``SHIMTYPES_ZYGOTE_TEST_PAUSE_AFTER_FORK=1`` in a zygote's
environment makes it stop itself (SIGSTOP) right after each fork, the window
no outside signal can hit, so a test can SIGKILL it exactly there.

The client half runs in ``start``: this package imports nothing heavy.
"""

from ._client import (
    ENV_ENABLE as ENV_ENABLE,
    ENV_IDLE as ENV_IDLE,
    ENV_SOCKET as ENV_SOCKET,
    GO_AHEAD as GO_AHEAD,
    HANDSHAKE_TIMEOUT as HANDSHAKE_TIMEOUT,
    ForkedShim as ForkedShim,
    PER_SHIM as PER_SHIM,
    REPLY_TIMEOUT as REPLY_TIMEOUT,
    ZYGOTE_DIR as ZYGOTE_DIR,
    ZygoteClient as ZygoteClient,
    ZygoteUnavailable as ZygoteUnavailable,
    enabled as enabled,
    zygote_path as zygote_path,
)

# The server half is imported on first use: ``start`` needs only the client.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._cmdline import set_cmdline as set_cmdline
    from ._server import DEFAULT_IDLE as DEFAULT_IDLE, Zygote as Zygote, read_request as read_request

_LAZY = {"set_cmdline": "._cmdline", "DEFAULT_IDLE": "._server", "Zygote": "._server", "read_request": "._server"}

__all__ = [
    "DEFAULT_IDLE",
    "ENV_ENABLE",
    "ENV_IDLE",
    "ENV_SOCKET",
    "GO_AHEAD",
    "HANDSHAKE_TIMEOUT",
    "ForkedShim",
    "PER_SHIM",
    "REPLY_TIMEOUT",
    "ZYGOTE_DIR",
    "Zygote",
    "ZygoteClient",
    "ZygoteUnavailable",
    "enabled",
    "read_request",
    "set_cmdline",
    "zygote_path",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'impl.shim.zygote' has no attribute {name!r}")
    value: object = getattr(__import__(module[1:], globals(), level=1, fromlist=(name,)), name)
    globals()[name] = value
    return value
