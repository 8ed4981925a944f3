"""``enter_child`` in real forks: fds, signal dispositions, blocked signals, PDEATHSIG."""

from __future__ import annotations

import ctypes
import json
import os
import signal
from collections.abc import Callable
from typing import Any

from impl.shim import enter_child

_PR_GET_PDEATHSIG = 2


def _in_child(before: Callable[[], None], fds: Callable[[int], list[int]]) -> dict[str, Any]:
    """Fork; the child runs ``before``, then ``enter_child(fds(report_w))``, and reports on fd 3."""
    report_r, report_w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child always _exits
        code = 1
        try:
            before()
            ok = enter_child(fds(report_w), parent)
            death = ctypes.c_int(0)
            ctypes.CDLL(None).prctl(_PR_GET_PDEATHSIG, ctypes.byref(death))
            state = {
                "ok": ok,
                "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
                "inheritable": [os.get_inheritable(fd) for fd in range(4)],
                "default": {s.name: signal.getsignal(s) == signal.SIG_DFL for s in (signal.SIGTERM, signal.SIGPIPE, signal.SIGINT)},
                "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, ())),
                "pdeathsig": death.value,
            }
            os.write(3, json.dumps(state).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(report_w)
    data = b""
    while chunk := os.read(report_r, 65536):
        data += chunk
    os.close(report_r)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    report: dict[str, Any] = json.loads(data)
    return report


def test_enter_child_resets_what_the_shim_set_up() -> None:
    stray = os.open(os.devnull, os.O_RDONLY)  # inheritable, as a careless shim's fds might be
    null = os.open(os.devnull, os.O_RDWR)
    try:

        def shim_like() -> None:
            signal.signal(signal.SIGTERM, lambda s, f: None)
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGCHLD})

        state = _in_child(shim_like, lambda report: [null, null, null, report])
    finally:
        os.close(stray)
        os.close(null)
    assert state["ok"] is True
    assert [fd for fd in state["fds"] if fd != 4] == [0, 1, 2, 3]  # 4: listdir's own
    assert state["inheritable"] == [True, True, True, False]
    assert state["default"] == {"SIGTERM": True, "SIGPIPE": True, "SIGINT": True}  # handled, ignored, Python's
    assert state["blocked"] == []
    assert state["pdeathsig"] == signal.SIGKILL


def test_enter_child_reports_a_parent_already_gone() -> None:
    state = _in_child(lambda: None, lambda report: [report, report, report, report])
    assert state["ok"] is True  # the parent is this test: still here
    # A parent that is gone: ``parent`` names a pid that is not ours.
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover
        try:
            ok = enter_child([report_w, report_w, report_w], parent=1)
            os.write(1, b"1" if ok else b"0")  # report_w is fd 1 now
        finally:
            os._exit(0)
    os.close(report_w)
    assert os.read(report_r, 1) == b"0"
    os.close(report_r)
    os.waitpid(pid, 0)
