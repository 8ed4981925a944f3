"""impl.shim: the runner takes any shimtypes.Init; pyrunc is a Shim and a TaskService."""
# requires: impl.shim, impl.shim.pyrunc

from collections.abc import Callable
from typing import NoReturn, assert_type

from impl.shim import run, start_serving_shim
from impl.shim.pyrunc import PyRunc
from impl.shim.pyrunc import init as pyrunc_init
from shimtypes import DeleteResponse, Init, Publisher, Shim, ShimContext, StartOpts, TaskService


def expects_init(init: Init) -> None: ...
def expects_shim(shim: Shim) -> None: ...
def expects_task(service: TaskService) -> None: ...


class MyShim:
    def __init__(self, context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> None: ...

    def cleanup(self) -> DeleteResponse:
        return DeleteResponse()

    def start_shim(self, opts: StartOpts) -> str:
        return start_serving_shim(opts)


def my_init(context: ShimContext, publisher: Publisher, shutdown: Callable[[], None]) -> MyShim:
    return MyShim(context, publisher, shutdown)


def not_an_init(context: ShimContext) -> MyShim:
    raise NotImplementedError


expects_init(pyrunc_init)
expects_init(my_init)


def pyrunc_is_both(shim: PyRunc) -> None:
    expects_shim(shim)
    expects_task(shim)


def main() -> NoReturn:
    run("io.containerd.example.v1", my_init)


def main_with_argv() -> NoReturn:
    run("io.containerd.example.v1", MyShim, argv=["-id", "c1", "start"])


def main_bad_init() -> NoReturn:
    run("io.containerd.example.v1", not_an_init)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def main_shim_instance(shim: MyShim) -> NoReturn:
    run("io.containerd.example.v1", shim)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def start(opts: StartOpts) -> None:
    assert_type(start_serving_shim(opts), str)
    start_serving_shim("c1")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
