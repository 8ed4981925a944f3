"""``containerd-shim-pyrunc-v1``: the reference runtime, a shim that drives ``runc``.

Built on ``impl.shim`` alone: ``init`` returns the SDK's ``TaskShim`` around
``RuncOps`` (the runc command line for create, start, exec, kill, delete and
ps), and ``main`` runs it with serving shims forked by a zygote that
preloads the runc operations, and a ``delete`` action (``cleanup``) that
needs neither ``init`` nor protobuf.
"""

from __future__ import annotations

import sys

# No ``typing`` at run time (about as dear as the interpreter's own start):
# ``start`` and ``delete`` import this module and little else. mypy treats
# this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

    from impl.shim import ProcessTaskService, TaskShim
    from shimtypes import Publisher, ShimContext

    from ._ops import RuncOps

__all__ = ["RUNTIME_ID", "before_serve", "init", "main", "runc_ops"]

RUNTIME_ID = "io.containerd.pyrunc.v1"


def init(context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> TaskShim:
    """The ``shimtypes.Init`` of this runtime: a ``TaskShim`` running ``RuncOps``."""
    from impl.shim import TaskShim

    from ._cleanup import cleanup

    return TaskShim(context, publisher, shutdown, runc_ops, cleanup=cleanup)


def runc_ops(context: ShimContext, service: ProcessTaskService) -> RuncOps:
    """The ``ProcessOps`` factory: imported in the serving process only."""
    from ._ops import RuncOps

    return RuncOps(context, service)


def before_serve(bundle: str) -> None:
    """The serving shim joins the ``ShimCgroup`` of the runtime options ``start`` was given."""
    from impl.shim import join_cgroup, read_options_file

    from ._options import RuncOptions

    options = RuncOptions.from_any(read_options_file(bundle))
    if options.shim_cgroup:
        join_cgroup(options.shim_cgroup)


def main() -> NoReturn:
    """The console script: serve, start or delete an ``io.containerd.pyrunc.v1`` shim."""
    # The shim never speaks TLS, but asyncio imports ``ssl`` when it can:
    # blocking it keeps libssl/libcrypto (their RSS and load time) out of every
    # serving shim. For good: pyrunc loads no plugin that could want it later.
    sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]
    from impl.shim import ShimOptions, run

    from ._cleanup import cleanup

    run(
        RUNTIME_ID,
        init,
        options=ShimOptions(
            serving="zygote", preload=("impl.pyrunc._ops",), cleanup=cleanup, before_serve=before_serve
        ),
    )


if TYPE_CHECKING:
    from shimtypes import Init

    _init_check: Init = init
