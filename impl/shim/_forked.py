"""``enter_child``: a child forked from the serving shim, made fit to run a container's code.

For runtimes that run a process's code in a fork of the shim itself (no
exec), as pywasm runs WebAssembly: the fork inherits the shim's fds, its
asyncio signal handling and its blocked signals, none of which the
container's code should see.
"""

from __future__ import annotations

import os
import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["enter_child"]

_PR_SET_PDEATHSIG = 1


def enter_child(fds: Sequence[int], parent: int) -> bool:
    """In a child just forked by process ``parent``: fds, signals and lifetime of a container process.

    ``fds[i]`` becomes fd ``i`` (0, 1 and 2 being stdio) and every other fd
    is closed; signals Python or asyncio handled or ignored get their
    default action back (handlers installed by C code, such as a JIT's
    fault handlers, are left alone), none blocked; the child is killed
    (SIGKILL) when the thread that forked it exits, so call ``fork`` from
    the shim's main thread. False if ``parent`` is gone already.
    """
    signal.set_wakeup_fd(-1)  # the parent's, about to be closed
    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP) and signal.getsignal(sig) not in (signal.SIG_DFL, None):
            signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    import fcntl

    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, len(fds)) for fd in fds]
    for target, fd in enumerate(moved):
        os.dup2(fd, target, inheritable=target < 3)
    os.closerange(len(fds), 0x7FFFFFFF)  # close_range(2): one syscall
    import ctypes

    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    return os.getppid() == parent
