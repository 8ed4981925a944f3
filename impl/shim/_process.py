"""The serving process's own start: detaching from ``start``, early signals, a lean asyncio.

Shared by every way a serving shim comes to life (re-executed, forked from
``start``, forked by a zygote), so none of those modules needs another's.
No ``typing`` and no ``signal`` (enum) at import: ``start`` imports this.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

__all__ = [
    "LISTENER_FD",
    "EarlySignals",
    "detach_serving_child",
    "exit_with",
    "import_asyncio_without_ssl",
    "program_command",
]

LISTENER_FD = 3
"""Where the serving process finds its listening socket (Go's ExtraFiles[0])."""


def detach_serving_child(listener_fd: int) -> None:
    """In a just-forked serving shim: listener on ``LISTENER_FD``, stdio on /dev/null, own session.

    stdio must leave containerd's ``start`` pipe, which it reads until EOF.
    """
    if listener_fd != LISTENER_FD:
        os.dup2(listener_fd, LISTENER_FD)
        os.close(listener_fd)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    os.setsid()


def exit_with(body: Callable[[], int]) -> NoReturn:
    """Run a forked child's ``body`` and ``_exit`` with its code: a fork never returns."""
    code = 1
    try:
        code = body()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = 1
    finally:
        try:
            if "logging" in sys.modules:
                sys.modules["logging"].shutdown()
        finally:
            os._exit(code)


def program_command() -> list[str]:
    """The command line that re-runs this Python program, without its arguments.

    Interpreter, its options (``-X ...``, ``-m mod`` or a script path) and the
    program, taken from ``sys.orig_argv`` minus the trailing ``sys.argv[1:]``.
    """
    orig = list(sys.orig_argv)
    keep = len(orig) - (len(sys.argv) - 1)
    return [sys.executable, *orig[1:keep]]


class EarlySignals:
    """SIGTERM/SIGINT that arrived before the serving loop took the signals over.

    Imports take tens of milliseconds; a stop request arriving then is
    honoured once serving is set up, so the socket is still cleaned up.
    ``install`` records instead of dying and unblocks the two signals (a
    serving child is created with them blocked, so none is lost before).
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        """Signal numbers, in arrival order."""

    @classmethod
    def install(cls) -> EarlySignals:
        import signal

        early = cls()

        def note(signum: int, frame: object) -> None:
            early.received.append(signum)

        signal.signal(signal.SIGTERM, note)
        signal.signal(signal.SIGINT, note)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        return early


def import_asyncio_without_ssl() -> None:
    """Import asyncio with ``ssl`` hidden: its TLS transports are never used by a shim.

    OpenSSL would be a large share of the serving process's RSS.
    asyncio treats a missing ``ssl`` as "no TLS"; the module is unhidden
    afterwards, so a plugin that really needs ``import ssl`` still gets it.
    """
    if "asyncio" in sys.modules or "ssl" in sys.modules:
        return
    sys.modules["ssl"] = None  # type: ignore[assignment]
    try:
        __import__("asyncio")
    finally:
        del sys.modules["ssl"]
