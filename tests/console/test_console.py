"""The console: a real pty pair and real processes, runc's SCM_RIGHTS handover, and real runc."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from impl.shim import Console, ConsoleError, ConsoleSocket, TerminalIO

BIG = 300_000  # several pty and FIFO buffers' worth, written just before exit


def _reader(path: Path) -> asyncio.Future[bytes]:
    """Open a FIFO's read end now (as containerd does before Create) and read it until EOF."""
    return asyncio.ensure_future(_drain(os.open(path, os.O_RDONLY | os.O_NONBLOCK)))


async def _drain(fd: int) -> bytes:
    loop = asyncio.get_running_loop()
    chunks: list[bytes] = []
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if data:
            chunks.append(data)
        elif not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return b"".join(chunks)


def _fifos(tmp: Path) -> tuple[Path, Path]:
    stdin, stdout = tmp / "stdin", tmp / "stdout"
    os.mkfifo(stdin)
    os.mkfifo(stdout)
    return stdin, stdout


def _spawn_on(slave: int, *argv: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)  # the child's copies are now the only slave fds
    return child


async def _run_pty(
    tmp: Path, argv: list[str], stdin_data: bytes, close_stdin: bool, close_io: bool = False
) -> tuple[bytes, int]:
    """Run ``argv`` on a console; the client writes ``stdin_data``, then
    closes its stdin writer (``close_stdin``) or keeps it open, and with
    ``close_io`` sends CloseIO with no loop turn since the write."""
    stdin, stdout = _fifos(tmp)
    master, slave = os.openpty()
    reader = _reader(stdout)
    console = Console(master, stdin=str(stdin), stdout=str(stdout))
    try:
        console.resize(100, 40)
        writer = os.open(stdin, os.O_WRONLY)
        os.write(writer, stdin_data)
        child = _spawn_on(slave, *argv)
        if close_io:
            console.close_stdin()
        if close_stdin:
            os.close(writer)
        await asyncio.wait_for(console.wait_output(), 30)
        status = await asyncio.to_thread(child.wait)
        if not close_stdin:
            os.close(writer)
    finally:
        console.close()
    return await asyncio.wait_for(reader, 30), status


SCRIPT = f"""
import os, sys
line = sys.stdin.readline()
rows, cols = os.get_terminal_size(0).lines, os.get_terminal_size(0).columns
sys.stdout.write(f"got:{{line.strip()}} size:{{rows}}x{{cols}}\\n")
sys.stdout.write("x" * {BIG} + "END")
sys.stdout.flush()
os._exit(3)
"""


def test_output_input_resize_and_nothing_lost_at_exit(tmp_path: Path) -> None:
    out, status = asyncio.run(_run_pty(tmp_path, [sys.executable, "-c", SCRIPT], b"hello\n", close_stdin=False))
    assert status == 3
    assert b"got:hello size:40x100\r\n" in out
    assert out.endswith(b"x" * BIG + b"END")


def test_stdin_eof_reaches_the_tty_as_eof(tmp_path: Path) -> None:
    script = "import sys; data = sys.stdin.read(); print('read', len(data), 'bytes'); print('done')"
    out, status = asyncio.run(
        _run_pty(tmp_path, [sys.executable, "-c", script], b"abc\ndef\n", close_stdin=True))
    assert status == 0
    assert b"read 8 bytes\r\ndone\r\n" in out


def test_close_stdin_sends_eof(tmp_path: Path) -> None:
    # CloseIO: cat sees EOF although the client keeps its stdin FIFO writer open.
    _, status = asyncio.run(_run_pty(tmp_path, ["cat"], b"", close_stdin=False, close_io=True))
    assert status == 0


def test_close_stdin_first_copies_what_the_client_wrote_before_it(tmp_path: Path) -> None:
    """CloseIO before the loop ran the input pump on bytes already in the
    stdin FIFO: the tty gets them, then its EOF."""
    script = "import sys; data = sys.stdin.read(); print('read', len(data), 'bytes')"
    out, status = asyncio.run(
        _run_pty(tmp_path, [sys.executable, "-c", script], b"abc\ndef\n", close_stdin=False, close_io=True))
    assert status == 0
    assert b"read 8 bytes\r\n" in out


def test_bad_stdout_uri_is_named(tmp_path: Path) -> None:
    async def scenario() -> None:
        master, slave = os.openpty()
        os.close(slave)
        try:
            with pytest.raises(ConsoleError, match="'binary:///x'"):
                Console(master, stdin="", stdout="binary:///x")
            with pytest.raises(ConsoleError, match=str(tmp_path / "missing")):
                Console(master, stdin=str(tmp_path / "missing"), stdout="")
        finally:
            os.close(master)

    asyncio.run(scenario())


def test_socket_receives_the_master_as_runc_sends_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        sock = ConsoleSocket(str(tmp_path))
        master, slave = os.openpty()
        try:
            async def send() -> None:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                    await asyncio.get_running_loop().sock_connect(c, sock.path)
                    socket.send_fds(c, [b"/dev/ptmx"], [master])

            received, _ = await asyncio.gather(sock.receive_master(), send())
            try:
                assert os.fstat(received).st_rdev == os.fstat(master).st_rdev
                assert os.fstat(received).st_ino == os.fstat(master).st_ino
                os.write(slave, b"ping\n")
                got = b""
                while not got.endswith(b"\n"):  # the pty may hand it over in pieces
                    got += os.read(received, 100)
                assert got == b"ping\r\n"
            finally:
                os.close(received)
        finally:
            os.close(master)
            os.close(slave)
            sock.close()
        assert not os.path.exists(sock.path) and not os.path.exists(os.path.dirname(sock.path))

    asyncio.run(scenario())


def test_socket_without_fd_is_an_error(tmp_path: Path) -> None:
    async def scenario() -> None:
        sock = ConsoleSocket(str(tmp_path))
        try:
            async def send() -> None:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                    await asyncio.get_running_loop().sock_connect(c, sock.path)
                    c.sendall(b"/dev/ptmx")

            with pytest.raises(ConsoleError, match="expected one fd, got 0"):
                await asyncio.gather(sock.receive_master(), send())
        finally:
            sock.close()

    asyncio.run(scenario())


def _bundle(tmp: Path, args: list[str]) -> Path:
    bundle = tmp / "bundle"
    (bundle / "rootfs/bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", bundle / "rootfs/bin/busybox")
    for name in ("sh", "stty", "echo", "cat", "head", "tr"):
        (bundle / "rootfs/bin" / name).symlink_to("busybox")
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = args
    spec["process"]["terminal"] = True
    spec["root"]["readonly"] = False
    spec["linux"]["cgroupsPath"] = f"/shimtypes-console-{secrets.token_hex(4)}"
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runc") or not os.path.exists("/bin/busybox"),
                    reason="needs root, runc and busybox-static")
def test_real_runc_console(tmp_path: Path) -> None:
    script = f"stty size; read line; echo got:$line; head -c {BIG} /dev/zero | tr '\\0' y; echo END"
    bundle = _bundle(tmp_path, ["sh", "-c", script])
    root = tmp_path / "runc-root"
    cid = f"shimtypes-console-{secrets.token_hex(4)}"
    runc = ["runc", "--root", str(root)]

    async def scenario() -> bytes:
        stdin, stdout = _fifos(tmp_path)
        reader = _reader(stdout)
        io = TerminalIO(stdin=str(stdin), stdout=str(stdout))
        io.resize(123, 45)  # ResizePty may come before the console exists
        try:
            created = asyncio.to_thread(
                subprocess.run,
                [*runc, "create", "--bundle", str(bundle), "--console-socket", io.socket_path, cid],
                stdin=io.fds[0], capture_output=True, text=True)
            _, result = await asyncio.gather(io.attach(), created)
            io.close_child_ends()
            assert result.returncode == 0, result.stderr
            assert io.socket is None
            writer = os.open(stdin, os.O_WRONLY)
            os.write(writer, b"typed\n")
            os.close(writer)
            subprocess.run([*runc, "start", cid], check=True)
            assert io.console is not None
            await asyncio.wait_for(io.console.wait_output(), 60)
            await io.wait_output()
        finally:
            io.close()
        return await asyncio.wait_for(reader, 30)

    try:
        out = asyncio.run(scenario())
    finally:
        subprocess.run([*runc, "delete", "--force", cid], capture_output=True)
    assert b"45 123\r\n" in out
    assert b"got:typed\r\n" in out
    assert out.endswith(b"y" * BIG + b"END\r\n")
    assert not (root / cid).exists()


def test_terminal_io_bounds_the_drain_when_a_stray_process_keeps_the_pty(tmp_path: Path) -> None:
    async def scenario() -> None:
        stdin, stdout = _fifos(tmp_path)
        reader = _reader(stdout)
        io = TerminalIO(stdin=str(stdin), stdout=str(stdout), drain_timeout=0.2)
        master, slave = os.openpty()
        try:
            async def runc_sends() -> None:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                    await asyncio.get_running_loop().sock_connect(c, io.socket_path)
                    socket.send_fds(c, [b"/dev/ptmx"], [master])

            io.close_stdin()  # CloseIO before the console arrived: applied on attach
            await asyncio.gather(io.attach(), runc_sends())
            os.close(master)
            os.write(slave, b"partial")  # the slave stays open: output never ends by itself
            # Returns after drain_timeout instead of waiting for a slave that never closes.
            await asyncio.wait_for(io.wait_output(), 10)
        finally:
            os.close(slave)
            io.close()
        assert await asyncio.wait_for(reader, 30) == b"partial"

    asyncio.run(scenario())


def test_terminal_io_ends_the_output_fifo_once_drained(tmp_path: Path) -> None:
    """After the process exits and ``wait_output`` returns, the client reads EOF before ``close``.

    CRI's exec waits for that EOF before it deletes the exec process: held open, the exec never ends.
    """

    async def scenario() -> None:
        stdin, stdout = _fifos(tmp_path)
        reader = _reader(stdout)
        io = TerminalIO(stdin=str(stdin), stdout=str(stdout))
        master, slave = os.openpty()
        try:
            async def runc_sends() -> None:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                    await asyncio.get_running_loop().sock_connect(c, io.socket_path)
                    socket.send_fds(c, [b"/dev/ptmx"], [master])

            await asyncio.gather(io.attach(), runc_sends())
            os.close(master)
            child = _spawn_on(slave, "/bin/sh", "-c", "printf done")
            await asyncio.wait_for(io.wait_output(), 30)
            assert await asyncio.to_thread(child.wait) == 0
            assert await asyncio.wait_for(reader, 10) == b"done"  # EOF while io is still open
        finally:
            io.close()

    asyncio.run(scenario())


def test_terminal_io_closed_while_attaching(tmp_path: Path) -> None:
    """runc failed before sending the master: ``close`` then cancelling ``attach`` raises nothing else."""

    async def scenario() -> None:
        stdin, stdout = _fifos(tmp_path)
        io = TerminalIO(stdin=str(stdin), stdout=str(stdout))
        path = io.socket_path
        attach = asyncio.ensure_future(io.attach())
        await asyncio.sleep(0)  # attach is now waiting for runc's connection
        io.close()
        attach.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attach
        assert not os.path.exists(path)

    asyncio.run(scenario())


def test_unread_counts_what_the_client_has_not_read(tmp_path: Path) -> None:
    async def scenario() -> None:
        stdin, stdout = _fifos(tmp_path)
        reader = os.open(stdout, os.O_RDONLY | os.O_NONBLOCK)  # the client, not reading yet
        master, slave = os.openpty()
        console = Console(master, stdin="", stdout=str(stdout))
        try:
            child = _spawn_on(slave, "/bin/sh", "-c", "printf 0123456789")
            await asyncio.wait_for(console.wait_output(), 30)
            assert await asyncio.to_thread(child.wait) == 0
            assert console.unread() == 10
            assert os.read(reader, 4) == b"0123"
            assert console.unread() == 6
            assert os.read(reader, 100) == b"456789"
            assert console.unread() == 0
        finally:
            console.close()
            os.close(reader)
        assert console.unread() == 0

    asyncio.run(scenario())
