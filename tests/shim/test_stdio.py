"""Process stdio (``impl.shim.open_stdio``): containerd's FIFOs as a real child's fds.

Real FIFOs and real child processes: the client side is opened as ctr
opens it, the child writes straight into the FIFOs, stdin goes through the
pump and ends on ``close_stdin`` (CloseIO).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from impl.shim import ProcessIO, Stdio, open_stdio

from .conftest import read_until_eof


def _stdio_fds() -> set[tuple[int, str]]:
    """This process's fds that ``open_stdio`` could have opened: /dev/null, FIFOs' paths, pipes.

    Not every fd: the test process has other threads (grpcio's, from earlier
    tests) that may open a socket or an eventfd between two listings.
    """
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # closed since the listing (the listing's own fd among them)
            continue
        if target == os.devnull or target.startswith(("/", "pipe:")):
            found.add((int(fd), target))
    return found


def _spawn(argv: list[str], io: ProcessIO) -> subprocess.Popen[bytes]:
    stdin, stdout, stderr = io.fds
    return subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr)


def test_stdin_pump_copies_fifo_to_container_and_closes_at_eof() -> None:
    async def main() -> bytes:
        with tempfile.TemporaryDirectory(prefix="shim-fifo-") as tmp:
            fifo = os.path.join(tmp, "stdin")
            os.mkfifo(fifo)
            loop = asyncio.get_running_loop()
            # Opened before any writer exists: must not be taken as EOF.
            stdio = open_stdio(loop, fifo, "", "")
            container_stdin = os.dup(stdio.fds[0])
            stdio.close_child_ends()
            await asyncio.sleep(0)  # let the loop poll the writer-less FIFO once
            payload = os.urandom(300_000)  # larger than a pipe: exercises backpressure
            writer = await loop.run_in_executor(None, lambda: os.open(fifo, os.O_WRONLY))

            def write_all() -> None:
                view = memoryview(payload)
                while view:
                    view = view[os.write(writer, view) :]
                os.close(writer)

            def read_all() -> bytes:
                chunks = []
                while chunk := os.read(container_stdin, 65536):
                    chunks.append(chunk)
                os.close(container_stdin)
                return b"".join(chunks)

            w = loop.run_in_executor(None, write_all)
            got = await asyncio.wait_for(loop.run_in_executor(None, read_all), 30)
            await w
            assert got == payload
            assert stdio.pump is not None
            stdio.pump.close()  # idempotent after EOF closed it
            return got

    assert len(asyncio.run(main())) == 300_000




def test_output_written_just_before_exit_reaches_the_client_then_eof(tmp_path: Path) -> None:
    """The child writes into the FIFOs itself: all of it arrives, and EOF comes with its exit."""
    out, err = str(tmp_path / "out"), str(tmp_path / "err")
    os.mkfifo(out)
    os.mkfifo(err)
    # As ctr does: the client's read ends exist before Create.
    out_r = os.open(out, os.O_RDONLY | os.O_NONBLOCK)
    err_r = os.open(err, os.O_RDONLY | os.O_NONBLOCK)

    async def main() -> int:
        stdio = open_stdio(asyncio.get_running_loop(), "", out, err)
        assert isinstance(stdio, ProcessIO)
        # 1 MiB, far more than a FIFO holds, the last line written right before exit.
        script = "head -c 1048576 /dev/zero; echo last words; echo on stderr >&2; exit 3"
        child = _spawn(["/bin/sh", "-c", script], stdio)
        stdio.close_child_ends()
        loop = asyncio.get_running_loop()
        got_out = loop.run_in_executor(None, read_until_eof, out_r)
        got_err = loop.run_in_executor(None, read_until_eof, err_r)
        status = await loop.run_in_executor(None, child.wait)
        await stdio.wait_output()
        data, data_err = await asyncio.wait_for(asyncio.gather(got_out, got_err), 30)
        assert data == b"\0" * 1048576 + b"last words\n"
        assert data_err == b"on stderr\n"
        stdio.close()
        return status

    assert asyncio.run(main()) == 3


@contextlib.asynccontextmanager
async def _cat_behind_a_client(tmp_path: Path) -> AsyncIterator[tuple[Stdio, subprocess.Popen[bytes], int, int]]:
    """``cat`` on stdio FIFOs opened as ctr opens them: yields its Stdio, the
    child, the client's stdin writer (kept open until the block ends) and
    the stdout FIFO's reader (blocking)."""
    fin, out = str(tmp_path / "in"), str(tmp_path / "out")
    os.mkfifo(fin)
    os.mkfifo(out)
    out_r = os.open(out, os.O_RDONLY | os.O_NONBLOCK)
    loop = asyncio.get_running_loop()
    stdio = open_stdio(loop, fin, out, "")
    child = _spawn(["cat"], stdio)
    stdio.close_child_ends()
    writer = await loop.run_in_executor(None, lambda: os.open(fin, os.O_WRONLY))
    os.set_blocking(out_r, True)
    try:
        yield stdio, child, writer, out_r
    finally:
        os.close(writer)
    stdio.close()


def test_close_stdin_gives_the_child_eof_while_the_client_keeps_its_writer(tmp_path: Path) -> None:
    """CloseIO: ``cat`` ends although the client never closed its end of the stdin FIFO."""

    async def main() -> int:
        loop = asyncio.get_running_loop()
        async with _cat_behind_a_client(tmp_path) as (stdio, child, writer, out_r):
            os.write(writer, b"typed by the client\n")
            # The echo proves the pump delivered it; then CloseIO.
            echoed = await loop.run_in_executor(None, lambda: os.read(out_r, 100))
            assert echoed == b"typed by the client\n"
            stdio.close_stdin()
            stdio.close_stdin()  # idempotent
            status = await asyncio.wait_for(loop.run_in_executor(None, child.wait), 30)
            assert await asyncio.wait_for(loop.run_in_executor(None, read_until_eof, out_r), 30) == b""
        return status

    assert asyncio.run(main()) == 0


def test_close_stdin_first_copies_what_the_client_wrote_before_it(tmp_path: Path) -> None:
    """CloseIO arriving before the loop ran the pump on bytes already in the
    FIFO (containerd's TestContainerAttach writes, then closes): they reach
    the child, then EOF."""
    payload = os.urandom(48 * 1024)  # fits in the FIFO: the write does not wait for the pump

    async def main() -> tuple[bytes, int]:
        loop = asyncio.get_running_loop()
        async with _cat_behind_a_client(tmp_path) as (stdio, child, writer, out_r):
            assert os.write(writer, payload) == len(payload)
            stdio.close_stdin()  # no loop turn since the write
            got = await asyncio.wait_for(loop.run_in_executor(None, read_until_eof, out_r), 30)
            status = await asyncio.wait_for(loop.run_in_executor(None, child.wait), 30)
        return got, status

    got, status = asyncio.run(main())
    assert (len(got), got == payload, status) == (len(payload), True, 0)


def test_file_uri_appends_to_a_log_file_and_empty_is_dev_null(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "deep" / "c.log"
    log.parent.mkdir(parents=True)
    log.write_bytes(b"earlier\n")

    async def main() -> None:
        stdio = open_stdio(asyncio.get_running_loop(), "", f"file://{log}", "")
        assert os.readlink(f"/proc/self/fd/{stdio.fds[0]}") == os.devnull
        assert os.readlink(f"/proc/self/fd/{stdio.fds[2]}") == os.devnull
        child = _spawn(["/bin/sh", "-c", "echo appended"], stdio)
        stdio.close_child_ends()
        assert await asyncio.get_running_loop().run_in_executor(None, child.wait) == 0
        stdio.close()

    asyncio.run(main())
    assert log.read_bytes() == b"earlier\nappended\n"


@pytest.mark.parametrize("uri", ["binary:///usr/bin/logger?x=1", "fifo://nowhere"])
def test_unsupported_uri_is_refused_naming_it(uri: str) -> None:
    async def main() -> None:
        before = _stdio_fds()
        with pytest.raises(OSError, match="unsupported stdio URI"):
            open_stdio(asyncio.get_running_loop(), "", uri, "")
        assert _stdio_fds() <= before, "nothing opened is left open"

    asyncio.run(main())


def test_missing_fifo_fails_and_leaks_nothing() -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="shim-fifo-") as tmp:
            before = _stdio_fds()
            with pytest.raises(FileNotFoundError):
                open_stdio(asyncio.get_running_loop(), os.path.join(tmp, "no-stdin"), "", "")
            with pytest.raises(FileNotFoundError):
                open_stdio(asyncio.get_running_loop(), "", "", os.path.join(tmp, "no-stderr"))
            assert _stdio_fds() <= before

    asyncio.run(main())


def test_stdio_is_a_process_io() -> None:
    stdio = Stdio((os.open(os.devnull, os.O_RDONLY), os.open(os.devnull, os.O_WRONLY), os.open(os.devnull, os.O_WRONLY)), None)
    assert isinstance(stdio, ProcessIO)
    stdio.close()
    stdio.close()
