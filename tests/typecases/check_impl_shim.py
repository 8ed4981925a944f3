"""impl.shim: the runner takes any shimtypes.Init; a TaskShim (pyrunc's) is a Shim and a TaskService."""
# requires: impl.shim, impl.pyrunc

from collections.abc import Callable
from typing import NoReturn, assert_type

from impl.pyrunc import init as pyrunc_init
from impl.shim import ShimOptions, TaskShim, run, start_serving_shim
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


def pyrunc_is_both(shim: TaskShim) -> None:
    expects_shim(shim)
    expects_task(shim)


def main() -> NoReturn:
    run("io.containerd.example.v1", my_init)


def main_with_argv() -> NoReturn:
    run("io.containerd.example.v1", MyShim, argv=["-id", "c1", "start"])


def main_with_options() -> NoReturn:
    run("io.containerd.example.v1", my_init, options=ShimOptions(serving="zygote", preload=("json",)))


def main_bad_serving() -> NoReturn:
    run("io.containerd.example.v1", my_init, options=ShimOptions(serving="spawn"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def main_bad_cleanup() -> NoReturn:
    run("io.containerd.example.v1", my_init, options=ShimOptions(cleanup=lambda bundle: 0))  # type: ignore[arg-type,misc]  # pyright: ignore[reportArgumentType]


def main_bad_init() -> NoReturn:
    run("io.containerd.example.v1", not_an_init)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def main_shim_instance(shim: MyShim) -> NoReturn:
    run("io.containerd.example.v1", shim)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def start(opts: StartOpts) -> None:
    assert_type(start_serving_shim(opts), str)
    start_serving_shim("c1")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
