"""The zygote: a pre-imported fork server that starts serving shims without an interpreter start.

Real processes throughout: the test shim program run as a zygote on a
private socket directory, real listeners handed over SCM_RIGHTS, the forked
shim checked through /proc and over ttrpc.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from impl.shim import bind_socket, remove_socket, socket_address, socket_path
from impl.shim.zygote import (
    ENV_ENABLE,
    ENV_IDLE,
    ENV_SOCKET,
    GO_AHEAD,
    ZYGOTE_DIR,
    Zygote,
    ZygoteClient,
    ZygoteUnavailable,
    read_request,
    zygote_path,
)
from impl.shim.zygote._server import _exit_on_signal

from .conftest import (
    SHIMPROG,
    Bundle,
    connect,
    fd_targets,
    proc_state,
    terminate,
    wait_pid_exit,
    wait_until,
    zygote_pid,
)

PYRUNC = os.path.join(os.path.dirname(sys.executable), "containerd-shim-pyrunc-v1")


@pytest.fixture
def zdir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="shimtest-zygote-")  # mode 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def start_zygote(b: Bundle, path: str, idle: float = 60.0) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, str(SHIMPROG)],
        env={**b.env, ENV_SOCKET: path, ENV_IDLE: str(idle)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_until(lambda: os.path.exists(path) or proc.poll() is not None, 30, "the zygote socket")
    assert proc.poll() is None, f"zygote exited with {proc.returncode}"
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)


def serve_args(b: Bundle) -> list[str]:
    return ["-namespace", b.namespace, "-id", b.id, "-address", b.address]


def status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def request_shim(path: str, args: list[str], cwd: str, listener_fd: int, *, env: dict[str, str] | None = None) -> int:
    """Ask the zygote for a shim and let it serve at once: its pid."""
    shim = ZygoteClient(path).request(args, cwd, listener_fd, env=env)
    shim.release()
    return shim.pid


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def zygote_own_fds(pid: int, path: str) -> set[str]:
    """The idle zygote's sockets and its lock file: what no shim it forks may hold."""
    own = {t for t in fd_targets(pid) if t.startswith("socket:") or t == path + ".lock"}
    assert path + ".lock" in own and any(t.startswith("socket:") for t in own), own
    return own


def test_forks_a_detached_serving_shim_then_exits_when_idle(bundle: Bundle, zdir: str) -> None:
    path = os.path.join(zdir, "z")
    zygote = start_zygote(bundle, path, idle=3.0)
    try:
        address = socket_address(bundle.address, bundle.namespace, bundle.id)
        listener = bind_socket(address)
        try:
            pid = request_shim(path, serve_args(bundle), str(bundle.path), listener.fileno())
        finally:
            listener.close()
        try:
            assert connect(address, bundle.id).shim_pid == pid  # it serves on the handed-over listener
            assert pid not in (zygote.pid, os.getpid())
            assert int(status(pid)["PPid"]) == zygote.pid, "forked (and reaped) by the zygote"
            assert os.getsid(pid) == pid, "a session of its own, as after start's posix_spawn(setsid)"
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                assert f.read().split(b"\0")[-7:-1] == [a.encode() for a in serve_args(bundle)]
            for fd in (0, 1, 2):
                assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"
            assert not (zygote_own_fds(zygote.pid, path) & fd_targets(pid)), "the zygote's socket and lock stay with it"
            assert os.readlink(f"/proc/{pid}/cwd") == str(bundle.path)
        finally:
            terminate(pid)
        assert not os.path.exists(socket_path(address)), "the shim removes its socket on exit"
        wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10, "the zygote to reap its shim")
        # Idle: the zygote unlinks its socket and exits; then nobody answers.
        assert zygote.wait(timeout=30) == 0
        assert not os.path.exists(path)
        with pytest.raises(ZygoteUnavailable):
            request_shim(path, serve_args(bundle), str(bundle.path), 0)
    finally:
        stop(zygote)


def test_one_zygote_per_socket_and_bad_requests_are_refused(bundle: Bundle, zdir: str) -> None:
    path = os.path.join(zdir, "z")
    zygote = start_zygote(bundle, path)
    try:
        second = subprocess.run(
            [sys.executable, str(SHIMPROG)],
            env={**bundle.env, ENV_SOCKET: path},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 0 and os.path.exists(path), "the second one leaves at once"
        # Not a listening socket: the zygote refuses, forks nothing, keeps serving.
        with open(os.devnull, "rb") as f, pytest.raises(ZygoteUnavailable, match="listener fd"):
            request_shim(path, serve_args(bundle), str(bundle.path), f.fileno())
        assert zygote.poll() is None
    finally:
        stop(zygote)
    assert zygote.returncode == 0 and not os.path.exists(path), "SIGTERM: clean exit, socket removed"


def test_request_to_a_missing_or_foreign_directory_is_unavailable(bundle: Bundle, zdir: str) -> None:
    with pytest.raises(ZygoteUnavailable):
        request_shim(os.path.join(zdir, "nobody-here"), serve_args(bundle), str(bundle.path), 0)
    os.chmod(zdir, 0o755)  # others could have planted a socket: not trusted
    with pytest.raises(ZygoteUnavailable, match="not private"):
        request_shim(os.path.join(zdir, "z"), serve_args(bundle), str(bundle.path), 0)


def test_zygote_path_is_keyed_by_program_and_environment() -> None:
    env = {"PATH": "/usr/bin", "TTRPC_ADDRESS": "/a.ttrpc"}
    base = zygote_path(["/py", "/shim"], env)
    assert os.path.dirname(base) == ZYGOTE_DIR
    assert zygote_path(["/py", "/shim"], {**env, "PWD": "/bundle", "_": "/shim"}) == base
    assert zygote_path(["/py", "/shim"], {**env, "TTRPC_ADDRESS": "/b.ttrpc"}) != base
    assert zygote_path(["/py", "/other"], env) != base
    assert zygote_path(["/py", "/shim", "x"], env) != zygote_path(["/py", "/shimx"], env)


def _pyrunc_start(b: Bundle, env: dict[str, str]) -> int:
    """``start`` the real pyrunc shim in ``b``; the serving shim's pid (via Connect)."""
    proc = subprocess.run(
        [sys.executable, PYRUNC, *b.flags(), "start"],
        cwd=b.path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout
    return connect(proc.stdout.decode(), b.id).shim_pid


def test_pyrunc_start_uses_a_zygote_after_the_first_shim(bundle: Bundle) -> None:
    # A fresh key (the environment is part of it): this test's own zygote.
    env = {**bundle.env, ENV_IDLE: "20", "SHIMTEST_KEY": bundle.id}
    path = zygote_path([sys.executable, PYRUNC], env)
    other = Bundle(Path(tempfile.mkdtemp(prefix="shimtest-bundle-")), bundle.namespace, bundle.id + "-2", bundle.address)
    shims: list[int] = []
    try:
        first = _pyrunc_start(bundle, env)
        shims.append(first)
        wait_until(lambda: os.path.exists(path), 30, "the zygote the first start launched")
        zygote = zygote_pid(path)
        assert int(status(first)["PPid"]) != zygote, "no zygote yet: re-executed"
        second = _pyrunc_start(other, env)
        shims.append(second)
        assert int(status(second)["PPid"]) == zygote, "forked by the zygote"
        assert os.getsid(second) == second
        with open(f"/proc/{second}/cmdline", "rb") as f:
            assert other.id.encode() in f.read().split(b"\0")
    finally:
        for pid in shims:
            terminate(pid)
        shutil.rmtree(other.path, ignore_errors=True)
        _stop_zygote(path)


@pytest.mark.parametrize("mode", ["0", "exec"])
def test_pyrunc_start_without_zygote_when_disabled(bundle: Bundle, mode: str) -> None:
    """``0``: the shim is forked from ``start``; ``exec``: re-executed. Either way it looks the same."""
    env = {**bundle.env, ENV_ENABLE: mode, "SHIMTEST_KEY": bundle.id}
    pid = _pyrunc_start(bundle, env)
    try:
        assert os.getsid(pid) == pid
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")[:-1]
        serve = ["-namespace", bundle.namespace, "-id", bundle.id, "-address", bundle.address]
        assert argv[-8:] == [a.encode() for a in (*serve, "-publish-binary", "/usr/bin/containerd")]
        assert b"start" not in argv
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"
        assert not os.path.exists(zygote_path([sys.executable, PYRUNC], env))
        with open(f"/proc/{pid}/maps") as f:
            assert "libssl" not in f.read(), "asyncio imported with ssl hidden: no OpenSSL in a serving shim"
    finally:
        terminate(pid)


def _stop_zygote(path: str) -> None:
    """SIGTERM the zygote listening on ``path``."""
    pid = zygote_pid(path)
    if pid:
        os.kill(pid, signal.SIGTERM)
        assert wait_pid_exit(pid, 15)


def test_zygote_path_changes_with_the_program_code(zdir: str) -> None:
    script = os.path.join(zdir, "shim")
    with open(script, "w") as f:
        f.write("v1")
    before = zygote_path(["/py", script], {})
    os.utime(script, ns=(0, 1))
    assert zygote_path(["/py", script], {}) != before, "an upgraded program gets a new zygote"


def test_zygote_retires_when_its_code_changes_on_disk(bundle: Bundle, zdir: str) -> None:
    program = os.path.join(zdir, "shimprog.py")
    shutil.copy(SHIMPROG, program)
    path = os.path.join(zdir, "z")
    zygote = subprocess.Popen(
        [sys.executable, program],
        env={**bundle.env, ENV_SOCKET: path},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: os.path.exists(path) or zygote.poll() is not None, 30, "the zygote socket")
        os.utime(program, ns=(0, 1))  # "upgraded"
        listener = bind_socket(socket_address(bundle.address, bundle.namespace, bundle.id))
        try:
            with pytest.raises(ZygoteUnavailable, match="code changed"):
                request_shim(path, serve_args(bundle), str(bundle.path), listener.fileno())
        finally:
            listener.close()
        assert zygote.wait(timeout=15) == 0
        assert not os.path.exists(path) and not os.path.exists(path + ".lock")
    finally:
        stop(zygote)
        remove_socket(socket_address(bundle.address, bundle.namespace, bundle.id))


def test_stop_request_right_after_the_fork_still_reaches_start_with_the_pid(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SIGTERM in the zygote right after the fork: the shim reports its own pid, so ``start`` has it."""
    real_fork = os.fork
    forked: list[int] = []

    def fork_then_stop() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
            # The zygote is told to stop at once. Sent to this thread: the zygote has only one, but
            # the test process has others (grpcio's), and a process-wide kill while this thread blocks
            # SIGTERM is taken by one of them and handled here only some time later.
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        return pid

    monkeypatch.setattr(os, "fork", fork_then_stop)
    client, conn = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    zsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "l"))
    listener.listen()
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    zygote = Zygote(str(tmp_path / "z"), lambda args: 7)
    zygote._sock = zsock
    try:
        with pytest.raises(SystemExit):
            zygote._fork(conn, listener.fileno(), str(tmp_path), {}, [])
        conn.close()
        client.settimeout(10)
        assert [int(client.recv(256))] == forked
        client.send(GO_AHEAD)
        assert os.waitpid(forked[0], 0)[1] == 7 << 8, "released: it ran the shim body"
    finally:
        signal.signal(signal.SIGTERM, previous)
        for s in (client, conn, zsock, listener):
            s.close()


def test_shim_never_serves_when_start_is_gone_before_the_pid(tmp_path: Path) -> None:
    """``start`` gone before the shim could report: it exits without running the shim body."""
    client, conn = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    zsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "l"))
    listener.listen()
    client.close()

    def serve_until_killed(args: list[str]) -> int:
        signal.pause()
        return 0

    zygote = Zygote(str(tmp_path / "z"), serve_until_killed)
    zygote._sock = zsock
    try:
        pid = zygote._fork(conn, listener.fileno(), str(tmp_path), {}, [])
        conn.close()
        deadline = time.monotonic() + 10
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:  # no event for a child's death here
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail("the forked shim waited on past its lost start")
            time.sleep(0.01)
        assert os.WIFEXITED(done[1]) and os.WEXITSTATUS(done[1]) == 0, "left on its own, the body never ran"
    finally:
        for s in (client, conn, zsock, listener):
            s.close()


def test_abandoned_shim_exits_without_serving_and_the_listener_stays_free(bundle: Bundle, zdir: str) -> None:
    """A real zygote: ``start`` got the pid but failed before the go-ahead: the shim leaves, nothing serves."""
    path = os.path.join(zdir, "z")
    zygote = start_zygote(bundle, path)
    address = socket_address(bundle.address, bundle.namespace, bundle.id)
    try:
        listener = bind_socket(address)
        try:
            shim = ZygoteClient(path).request(serve_args(bundle), str(bundle.path), listener.fileno())
            assert int(status(shim.pid)["PPid"]) == zygote.pid
            shim.abandon()
            assert wait_pid_exit(shim.pid, 15), "the unreleased shim left"
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.connect(socket_path(address))  # queued on the listener start still holds ...
            with socket.socket(fileno=os.dup(listener.fileno())) as own:
                own.setblocking(False)
                conn, _ = own.accept()  # ... and taken here (start's fallback would be), not by a shim
                conn.close()
            probe.close()
        finally:
            listener.close()
        # Exited (pidfd): a zombie until the zygote reaps it, then gone, maybe between two reads.
        assert proc_state(shim.pid) in ("Z", "gone")
        assert zygote.poll() is None, "the zygote keeps serving"
    finally:
        stop(zygote)
        remove_socket(address)


def test_request_carries_cwd_args_listener_and_the_per_shim_environment(zdir: str) -> None:
    """The wire between ``start`` and the zygote, over a real socket, parsed by the zygote's own code."""
    path = os.path.join(zdir, "z")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(path)
    server.listen()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    env = {"PWD": "/run/containerd-cwd", "_": "/usr/bin/containerd", "PATH": "/keyed/not/sent"}
    with ThreadPoolExecutor(1) as pool:
        client = ZygoteClient(path)
        reply = pool.submit(client.request, ["-id", "a b", ""], "/bundle dir", listener.fileno(), env=env)
        conn, _ = server.accept()
        request = read_request(conn)
        fds, cwd, got_env, args = request.fds, request.cwd, request.env, request.args
        try:
            assert request.pid == os.getpid() and request.umask == current_umask()
            assert dict((r, (s, h)) for r, s, h in request.rlimits)[resource.RLIMIT_NOFILE] == resource.getrlimit(
                resource.RLIMIT_NOFILE
            )
            assert (cwd, args) == ("/bundle dir", ["-id", "a b", ""])
            assert got_env == {"PWD": "/run/containerd-cwd", "_": "/usr/bin/containerd"}, "PATH is keyed, not sent"
            assert len(fds) == 1 and os.fstat(fds[0]).st_ino == os.fstat(listener.fileno()).st_ino
            conn.send(b"4242")
        finally:
            for fd in fds:
                os.close(fd)
            conn.close()
        shim = reply.result(timeout=10)
        assert shim.pid == 4242
        shim.abandon()
    server.close()
    listener.close()


def test_forked_shim_runs_with_the_cwd_and_environment_start_had(tmp_path: Path) -> None:
    """``PWD``, ``OLDPWD`` and ``_`` are what ``start`` had (set or unset), not the zygote's nor the bundle."""
    out = tmp_path / "seen"
    cwd = tmp_path / "bundle"
    cwd.mkdir()

    def become(args: list[str]) -> int:
        seen = {name: os.environ.get(name) for name in ("PWD", "OLDPWD", "_")}
        out.write_text(repr((os.getcwd(), seen, args)))
        return 0

    client, conn = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    zsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    zygote = Zygote(str(tmp_path / "z"), become)
    zygote._sock = zsock
    try:
        zygote._fork(conn, listener.fileno(), str(cwd), {"PWD": "/containerd"}, ["-id", "x"])
        conn.close()
        pid = int(client.recv(256))
        client.send(GO_AHEAD)
        assert os.waitpid(pid, 0)[1] == 0
    finally:
        for s in (client, conn, zsock, listener):
            s.close()
    assert out.read_text() == repr((str(cwd), {"PWD": "/containerd", "OLDPWD": None, "_": None}, ["-id", "x"]))


def test_draining_stops_when_accept_keeps_failing(zdir: str) -> None:
    """Out of fds (EMFILE) at exit: the zygote's last drain gives up instead of spinning forever."""
    import resource

    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(os.path.join(zdir, "z"))
    server.listen()
    server.setblocking(False)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    client.connect(os.path.join(zdir, "z"))  # queued: accept has something to fail on
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    filler: list[int] = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(server.fileno(), client.fileno()) + 16, hard))
        with pytest.raises(OSError):
            while True:
                filler.append(os.dup(0))
        with pytest.raises(OSError):  # the real condition the zygote meets
            server.accept()
        assert Zygote(os.path.join(zdir, "z"), lambda args: 0)._accept(server) is False
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        client.close()
        server.close()


def _run_zygote(b: Bundle, path: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, str(SHIMPROG)],
        env={**b.env, ENV_SOCKET: path, ENV_IDLE: "0.5"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("plant", ["group-readable", "symlink", "another owner"])
def test_zygote_checks_its_own_directory_before_creating_anything(bundle: Bundle, zdir: str, plant: str) -> None:
    """Started by hand (no client checked for it): the zygote itself refuses, and creates no file."""
    real = os.path.join(zdir, "real")
    os.mkdir(real, 0o700)
    directory = real
    if plant == "group-readable":
        os.chmod(real, 0o750)
    elif plant == "symlink":
        directory = os.path.join(zdir, "link")
        os.symlink(real, directory)
    else:
        os.chown(real, 65534, 65534)
    proc = _run_zygote(bundle, os.path.join(directory, "z"))
    assert proc.returncode != 0
    assert directory.encode() in proc.stderr and b"UnsafeDirectoryError" in proc.stderr, proc.stderr[-600:]
    assert os.listdir(real) == [], "nothing created"


def test_zygote_lock_is_not_opened_through_a_symlink(bundle: Bundle, zdir: str) -> None:
    target = os.path.join(tempfile.mkdtemp(prefix="shimtest-target-"), "written")
    try:
        os.symlink(target, os.path.join(zdir, "z.lock"))
        proc = _run_zygote(bundle, os.path.join(zdir, "z"))
        assert proc.returncode != 0 and b"z.lock" in proc.stderr, proc.stderr[-600:]
        assert not os.path.exists(target)
        assert not os.path.exists(os.path.join(zdir, "z"))
    finally:
        shutil.rmtree(os.path.dirname(target))


@pytest.mark.parametrize("umask", [0, 0o077])
def test_spawn_creates_the_directories_with_their_modes_whatever_the_umask(
    bundle: Bundle, zdir: str, umask: int
) -> None:
    """``/run/shimtypes`` 0711 and the zygote directory 0700, exactly, under umask 0 and 077."""
    path = os.path.join(zdir, "shimtypes", "zygote", "z")
    code = (
        "import os, sys\n"
        f"os.umask({umask})\n"
        "from impl.shim.zygote import ZygoteClient\n"
        "ZygoteClient(sys.argv[1]).spawn(sys.argv[2:], dict(os.environ))\n"
    )
    env = {**bundle.env, ENV_IDLE: "60"}
    subprocess.run([sys.executable, "-c", code, path, sys.executable, str(SHIMPROG)], env=env, check=True, timeout=30)
    try:
        assert os.stat(os.path.join(zdir, "shimtypes")).st_mode & 0o7777 == 0o711
        assert os.stat(os.path.dirname(path)).st_mode & 0o7777 == 0o700
        wait_until(lambda: os.path.exists(path), 30, "the spawned zygote's socket")
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert os.stat(path + ".lock").st_mode & 0o777 == 0o600
    finally:
        _stop_zygote(path)
