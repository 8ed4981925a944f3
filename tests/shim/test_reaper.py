"""The SIGCHLD reaper, against real child processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from hypothesis import given, settings, strategies as st

from impl.shim import Exit, Reaper, exit_status

SH = "/bin/sh"


def test_exit_status_convention() -> None:
    proc = subprocess.run([SH, "-c", "exit 5"], check=False)
    assert proc.returncode == 5
    # Build real wait statuses from real children.
    pid = os.fork()
    if pid == 0:
        os._exit(42)
    _, status = os.waitpid(pid, 0)
    assert exit_status(status) == 42
    pid = os.fork()
    if pid == 0:
        os.kill(os.getpid(), signal.SIGKILL)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert exit_status(status) == 128 + signal.SIGKILL


def test_run_reports_code_signal_and_output() -> None:
    async def main() -> tuple[tuple[int, bytes], tuple[int, bytes], tuple[int, bytes]]:
        reaper = Reaper.install()
        try:
            a = await reaper.run([SH, "-c", "echo out; exit 3"], capture=True)
            b = await reaper.run([SH, "-c", "kill -TERM $$"])
            c = await reaper.run([SH, "-c", "head -c 200000 /dev/zero"], capture=True)
            return a, b, c
        finally:
            reaper.close()

    a, b, c = asyncio.run(main())
    assert a == (3, b"out\n")
    assert b == (128 + signal.SIGTERM, b"")
    assert c == (0, b"\0" * 200000)


def test_install_is_idempotent_per_loop() -> None:
    async def main() -> None:
        first = Reaper.install()
        try:
            assert Reaper.install() is first
            assert Reaper.install(asyncio.get_running_loop()) is first
        finally:
            first.close()
        second = Reaper.install()
        try:
            assert second is not first
        finally:
            second.close()

    asyncio.run(main())


def test_unregistered_children_go_to_every_subscriber() -> None:
    async def main() -> tuple[int, list[Exit], list[Exit]]:
        reaper = Reaper.install()
        try:
            q1 = reaper.subscribe()
            q2 = reaper.subscribe()
            before = time.time()
            pid = os.posix_spawn(SH, [SH, "-c", "exit 9"], dict(os.environ))
            e1 = await asyncio.wait_for(q1.get(), 10)
            e2 = await asyncio.wait_for(q2.get(), 10)
            assert before <= e1.timestamp <= time.time()
            reaper.unsubscribe(q2)
            pid2 = os.posix_spawn(SH, [SH, "-c", "exit 1"], dict(os.environ))
            e3 = await asyncio.wait_for(q1.get(), 10)
            assert e3 == Exit(pid2, 1, e3.timestamp)
            assert q2.empty()
            return pid, [e1], [e2]
        finally:
            reaper.close()

    pid, got1, got2 = asyncio.run(main())
    assert [(e.pid, e.status) for e in got1] == [(pid, 9)]
    assert got1 == got2


def test_child_exited_before_install_is_still_reaped() -> None:
    pid = os.posix_spawn(SH, [SH, "-c", "exit 4"], dict(os.environ))
    # Wait (bounded) until it is a zombie, i.e. it exited before any handler existed.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.01)

    async def main() -> Exit:
        reaper = Reaper.install()
        try:
            queue = reaper.subscribe()
            return await asyncio.wait_for(queue.get(), 10)
        finally:
            reaper.close()

    ev = asyncio.run(main())
    assert (ev.pid, ev.status) == (pid, 4)


def test_close_fails_pending_waiters() -> None:
    async def main() -> None:
        reaper = Reaper.install()
        proc = subprocess.Popen([SH, "-c", "read x"], stdin=subprocess.PIPE)
        fut = reaper.wait(proc.pid)
        reaper.close()
        try:
            await fut
        except ChildProcessError as err:
            assert str(proc.pid) in str(err)
        else:
            raise AssertionError("waiter survived close()")
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait()

    asyncio.run(main())


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=255), min_size=1, max_size=12))
def test_concurrent_children_each_get_their_own_status(codes: list[int]) -> None:
    """SIGCHLDs coalesce; the waitpid loop must still attribute every exit."""

    async def main() -> list[tuple[int, bytes]]:
        reaper = Reaper.install()
        try:
            runs = [reaper.run([SH, "-c", f"exit {c}"]) for c in codes]
            return list(await asyncio.gather(*runs))
        finally:
            reaper.close()

    assert [status for status, _ in asyncio.run(main())] == codes


ORPHAN_SCRIPT = textwrap.dedent(
    """
    import asyncio, ctypes, json, os, sys
    from impl.shim import Reaper
    PR_SET_CHILD_SUBREAPER = 36
    assert ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0

    async def main():
        reaper = Reaper.install()
        queue = reaper.subscribe()
        # The shell prints its background child's pid and exits at once: the
        # child is orphaned and re-parented to us, like a container's init. It
        # exits only once we write to its pipe, i.e. after the shell is gone.
        r, w = os.pipe()
        status, out = await reaper.run(
            ["/bin/sh", "-c", "exec 3<&0; (read x <&3; exit 7) & echo $!"], stdin=r, capture=True)
        os.close(r)
        orphan = int(out)
        os.write(w, b"go\\n")
        os.close(w)
        ev = await asyncio.wait_for(queue.get(), 10)
        print(json.dumps({"runc_like": status, "orphan": orphan, "exit": list(ev)}))

    asyncio.run(main())
    """
)


def test_orphans_reparented_to_a_subreaper_reach_subscribers() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", ORPHAN_SCRIPT],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["runc_like"] == 0
    assert got["exit"][0] == got["orphan"]
    assert got["exit"][1] == 7
