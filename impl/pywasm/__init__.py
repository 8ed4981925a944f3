"""``containerd-shim-pywasm-v1``: WebAssembly (WASI preview 1) modules as containers.

``ctr run --runtime io.containerd.pywasm.v1 --rootfs DIR id /app.wasm args...``
runs ``/app.wasm`` of the rootfs with wasmtime. On ``impl.shim`` alone:
``init`` returns the SDK's ``TaskShim`` around ``WasmOps`` (``_ops``),
which forks one child per container or exec (``_child``) for a module
resolved from the spec (``_resolve``) and compiled once per machine
(``_engine``). Serving shims come from a zygote that imported wasmtime;
``delete`` is the SDK's ``cleanup_bundle`` (modules die with their shim).
"""
from __future__ import annotations

import sys

# No ``typing`` at run time: ``start`` and ``delete`` import this module and
# little else. mypy treats this name as always true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

    from impl.shim import ProcessTaskService, TaskShim
    from shimtypes import Publisher, ShimContext

    from ._ops import WasmOps

__all__ = ["RUNTIME_ID", "init", "main", "wasm_ops"]

RUNTIME_ID = "io.containerd.pywasm.v1"


def init(context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> TaskShim:
    """The ``shimtypes.Init`` of this runtime: a ``TaskShim`` running ``WasmOps``."""
    from impl.shim import TaskShim, cleanup_bundle

    return TaskShim(context, publisher, shutdown, wasm_ops, cleanup=cleanup_bundle)


def wasm_ops(context: ShimContext, service: ProcessTaskService) -> WasmOps:
    """The ``ProcessOps`` factory (serving process only: it imports wasmtime)."""
    from ._ops import WasmOps

    return WasmOps(context, service)


def main() -> NoReturn:
    """The console script: serve, start or delete an ``io.containerd.pywasm.v1`` shim."""
    sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]  # no TLS here; see impl.pyrunc.main
    from impl.shim import ShimOptions, cleanup_bundle, run

    run(RUNTIME_ID, init, options=ShimOptions(serving="zygote", preload=("impl.pywasm._ops",), cleanup=cleanup_bundle))


if TYPE_CHECKING:
    from shimtypes import Init

    _init_check: Init = init
