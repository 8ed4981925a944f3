"""The zygote's and the shim's protections against other local users, each exercised as a
real other user (a throwaway account made here) and each failing when its check is removed
(scripts/mutate-security removes each in turn).

The file modes (0700 directories, 0600 sockets) already keep other users out; these tests
widen a mode, or link a socket somewhere reachable, to reach the check behind it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from impl.shim import bind_socket, remove_socket, socket_address, socket_path
from impl.shim.zygote import ENV_IDLE, ENV_SOCKET, ZygoteClient, ZygoteUnavailable
from impl.ttrpc import ClientConnection
from shimtypes.pb.task_pb2 import ConnectRequest

from .conftest import SHIMPROG, Bundle, connect, terminate, wait_until

TASK_SERVICE = "containerd.task.v2.Task"


@dataclass(frozen=True)
class OtherUser:
    name: str
    uid: int
    gid: int


@pytest.fixture(scope="module")
def intruder() -> Iterator[OtherUser]:
    """A throwaway system user, removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a user")  # a failure in CI, as every skip there
    name = f"stz{os.getpid() % 100000:05d}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        entry = pwd.getpwnam(name)
        yield OtherUser(name, entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory like /tmp (1777): for links and the intruder's own sockets."""
    path = Path(tempfile.mkdtemp(prefix="shimtest-shared-"))
    os.chmod(path, 0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def as_user(user: OtherUser, script: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (plain Python: os, socket, sys) as ``user``, dropped before any of it runs.

    The modules are imported first: the interpreter's files may be readable by root only.
    """
    prologue = drop_to(user)
    return subprocess.run(
        [sys.executable, "-I", "-c", prologue + script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )


def drop_to(user: OtherUser) -> str:
    return f"import os, socket, sys\nos.setgroups([])\nos.setgid({user.gid})\nos.setuid({user.uid})\n"


@pytest.fixture
def zygote(bundle: Bundle) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real zygote (the test shim program) on a private directory of its own."""
    zdir = tempfile.mkdtemp(prefix="shimtest-zygote-")
    path = os.path.join(zdir, "z")
    proc = subprocess.Popen(
        [sys.executable, str(SHIMPROG)],
        env={**bundle.env, ENV_SOCKET: path, ENV_IDLE: "60"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: os.path.exists(path) or proc.poll() is not None, 30, "the zygote socket")
        assert proc.poll() is None
        yield path, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        shutil.rmtree(zdir, ignore_errors=True)


def children(pid: int) -> list[int]:
    return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


# A client of the zygote's wire format, written out (no impl import): what another user could send.
_RAW_REQUEST = """
import socket, sys
path, listen_path, env_item = sys.argv[1], sys.argv[2], sys.argv[3]
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(listen_path)
listener.listen()
env = [env_item] if env_item else []
fields = ["/", "22", "", str(len(env)), *env, "-namespace", "x", "-id", "intruder", "-address", "/x"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect(path)
s.sendmsg(["\\0".join(fields).encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, listener.fileno().to_bytes(4, sys.byteorder))])
print("REPLY", s.recv(256).decode() or "EOF")
"""


def test_zygote_refuses_a_request_from_another_user(
    zygote: tuple[str, subprocess.Popen[bytes]], intruder: OtherUser, shared: Path
) -> None:
    """The modes widened (directory 0711, socket 0666): the zygote's own uid check still refuses."""
    path, proc = zygote
    os.chmod(os.path.dirname(path), 0o711)
    os.chmod(path, 0o666)
    r = as_user(intruder, _RAW_REQUEST, path, str(shared / "l"), "")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"REPLY error: request from uid {intruder.uid}"), r.stdout
    assert children(proc.pid) == [], "nothing forked for the intruder"


def test_zygote_environment_is_limited_to_the_per_shim_variables(
    zygote: tuple[str, subprocess.Popen[bytes]], shared: Path
) -> None:
    """A request may set PWD, OLDPWD and _ only: never LD_PRELOAD or PATH for a root shim."""
    path, proc = zygote
    listener = str(shared / "l")
    code = _RAW_REQUEST
    r = subprocess.run(
        [sys.executable, "-I", "-c", code, path, listener, "LD_PRELOAD=/tmp/evil.so"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("REPLY error: malformed request: environment"), r.stdout
    assert children(proc.pid) == []


_IMPOSTOR = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])
s.listen()
print("listening", flush=True)
conn, _ = s.accept()
conn.settimeout(10)
try:
    msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(16))
except OSError:
    msg, anc = b"", []
print("GOT", len(msg), len(anc), flush=True)
if msg:
    conn.send(b"1")
    conn.recv(16)
"""


def test_client_refuses_a_zygote_run_by_another_user(bundle: Bundle, intruder: OtherUser, shared: Path) -> None:
    """An impostor of another uid answering on the zygote path (linked into our private
    directory) gets neither the request nor the listener."""
    own = tempfile.mkdtemp(prefix="shimtest-zygote-")  # 0700, ours
    path = os.path.join(own, "z")
    bait = str(shared / "impostor")
    impostor = subprocess.Popen(
        [sys.executable, "-I", "-c", drop_to(intruder) + _IMPOSTOR, bait],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    address = socket_address(bundle.address, bundle.namespace, bundle.id)
    try:
        assert impostor.stdout is not None and impostor.stdout.readline() == "listening\n"
        os.link(bait, path)  # the impostor's socket under the zygote's name
        listener = bind_socket(address)
        try:
            with pytest.raises(ZygoteUnavailable, match="another user"):
                ZygoteClient(path).request(["-id", bundle.id], str(bundle.path), listener.fileno())
        finally:
            listener.close()
        out, err = impostor.communicate(timeout=15)
        assert out == "GOT 0 0\n", (out, err)
    finally:
        if impostor.poll() is None:
            impostor.kill()
            impostor.wait()
        remove_socket(address)
        shutil.rmtree(own, ignore_errors=True)


_RAW_TTRPC = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
print("connected", flush=True)
try:
    s.sendall(bytes.fromhex(sys.argv[2]))
    data = s.recv(65536)
except (BrokenPipeError, ConnectionResetError):
    data = b""
print("EOF" if data == b"" else "DATA " + data.hex())
"""


def test_shim_ttrpc_closes_another_users_connection_without_a_frame(
    bundle: Bundle, intruder: OtherUser, shared: Path
) -> None:
    """The shim's socket made reachable (linked into a shared directory, mode 0666): the
    serving shim's peer check still shuts the other user out before any answer."""
    address = bundle.start()
    pid = connect(address, bundle.id).shim_pid
    try:
        link = shared / "shim.sock"
        os.link(socket_path(address), link)
        os.chmod(link, 0o666)
        _, request = ClientConnection().send_request(TASK_SERVICE, "Connect", ConnectRequest(id=bundle.id).SerializeToString())
        r = as_user(intruder, _RAW_TTRPC, str(link), request.hex())
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["connected", "EOF"], r.stdout
        assert connect(address, bundle.id).shim_pid == pid, "its own user is still served"
    finally:
        terminate(pid)
