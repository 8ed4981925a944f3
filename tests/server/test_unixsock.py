"""impl.unixsock and impl.envelope: the small shared modules, against real sockets and references."""

from __future__ import annotations

import os
import re
import socket
import stat
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl import unixsock
from impl.envelope import IDENTIFIER_MAX, envelope_problem, identifier_problem
from shimtypes.pb.events_pb2 import Envelope

from ._helpers import OtherUser, shared_dir

# containerd's identifiers.Validate, as its regexp and length limit say.
_CONTAINERD_IDENTIFIER = re.compile(r"[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*")


@settings(max_examples=400, deadline=None)
@given(st.text(st.sampled_from("aZ09._-/ \n\0é"), max_size=80) | st.text(max_size=80))
def test_identifier_problem_agrees_with_containerds_rule(s: str) -> None:
    valid = len(s) <= IDENTIFIER_MAX and _CONTAINERD_IDENTIFIER.fullmatch(s) is not None
    assert (identifier_problem(s) is None) == valid, s


def test_envelope_problem_names_each_fault() -> None:
    good = Envelope(namespace="k8s.io", topic="/tasks/exit")
    good.timestamp.GetCurrentTime()
    assert envelope_problem(good) is None
    assert "has no event" in (envelope_problem(good, require_event=True) or "")
    good.event.type_url = "containerd.events.TaskExit"
    assert envelope_problem(good, require_event=True) is None
    no_ns = Envelope(topic="/t", timestamp=good.timestamp)
    assert "no namespace" in (envelope_problem(no_ns) or "")
    stale = Envelope(namespace="n", topic="/t")
    assert "zero timestamp" in (envelope_problem(stale) or "")


@settings(max_examples=200, deadline=None)
@given(st.integers(-(2**31), 2**31 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_parse_peercred_reads_struct_ucred(pid: int, uid: int, gid: int) -> None:
    assert unixsock.parse_peercred(struct.pack("iII", pid, uid, gid)) == (pid, uid, gid)


def test_peer_credentials_of_a_real_connection(tmp_path: Path) -> None:
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert unixsock.peer_credentials(a) == (os.getpid(), os.geteuid(), os.getegid())
    with pytest.raises(ValueError):
        unixsock.parse_peercred(b"\0" * 11)


@pytest.fixture
def zero_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_private_dirs_get_exactly_their_mode_whatever_the_umask(tmp_path: Path, zero_umask: None) -> None:
    leaf = tmp_path / "a" / "b" / "c"
    unixsock.ensure_private_dir(str(leaf), 0o711)
    for d in (tmp_path / "a", tmp_path / "a" / "b", leaf):
        assert stat.S_IMODE(os.lstat(d).st_mode) == 0o711, d
    unixsock.ensure_private_dir(str(leaf), 0o711)  # exists: checked, left alone


def test_check_private_dir_refuses_what_others_could_change(tmp_path: Path, users: tuple[OtherUser, OtherUser]) -> None:
    _, other = users
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    unixsock.check_private_dir(str(mine))
    link = tmp_path / "link"
    link.symlink_to(mine)
    with pytest.raises(unixsock.UnsafeDirectoryError, match="is a symlink"):
        unixsock.check_private_dir(str(link))
    os.chmod(mine, 0o770)
    with pytest.raises(unixsock.UnsafeDirectoryError, match="0770 is group or world writable"):
        unixsock.check_private_dir(str(mine))
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, other.uid, other.gid)
    with pytest.raises(unixsock.UnsafeDirectoryError, match=f"owned by uid {other.uid}"):
        unixsock.check_private_dir(str(theirs))
    unixsock.check_private_dir(str(theirs), uid=other.uid)
    # Root's directory is not good enough for another user: the check runs as that user.
    roots = shared_dir("sthr-")
    probe = (
        "import os, sys\n"
        f"os.setgroups([]); os.setgid({other.gid}); os.setuid({other.uid})\n"
        "from impl import unixsock\n"
        "try:\n"
        f"    unixsock.check_private_dir({str(roots)!r})\n"
        "except unixsock.UnsafeDirectoryError as e:\n"
        "    print(e.strerror)\n"
    )
    try:
        r = subprocess.run([sys.executable, "-c", "import impl.unixsock\n" + probe], capture_output=True, text=True, timeout=30)
    finally:
        os.rmdir(roots)
    assert f"owned by uid 0, not by this user (uid {other.uid})" in r.stdout, (r.stdout, r.stderr)


def test_bind_unix_never_exposes_a_wider_mode(tmp_path: Path, zero_umask: None) -> None:
    path = str(tmp_path / "s.sock")
    sock = unixsock.bind_unix(path)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert os.umask(0) == 0  # restored
    finally:
        sock.close()
    os.unlink(path)
    sock = unixsock.bind_unix(path, mode=0o660)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        assert unixsock.can_connect(path)
    finally:
        sock.close()


def test_prepare_socket_clears_stale_refuses_live_and_foreign(tmp_path: Path) -> None:
    path = str(tmp_path / "run" / "h.sock")
    unixsock.prepare_socket(path)  # makes the directory
    assert stat.S_IMODE(os.lstat(tmp_path / "run").st_mode) == 0o711
    live = unixsock.bind_unix(path)
    with pytest.raises(unixsock.AddressInUseError):
        unixsock.prepare_socket(path)
    live.close()  # the file stays: a crash leftover
    unixsock.prepare_socket(path)
    assert not os.path.exists(path)
    Path(path).write_text("not a socket")
    with pytest.raises(FileExistsError, match="not a socket"):
        unixsock.prepare_socket(path)
    unixsock.remove_socket(path)  # only sockets are removed
    assert os.path.exists(path)


def test_abstract_names() -> None:
    name = f"@shimtypes-test-{uuid.uuid4().hex}"
    assert unixsock.sockaddr(name) == "\0" + name[1:]
    sock = unixsock.bind_unix(name)
    try:
        assert unixsock.can_connect(name)
        unixsock.prepare_socket(name)  # nothing on disk to prepare
        unixsock.remove_socket(name)
    finally:
        sock.close()
    assert not unixsock.can_connect(name)


def test_unixsock_and_envelope_stay_cheap() -> None:
    code = (
        "import sys, impl.unixsock, impl.envelope\n"
        "bad = [m for m in ('socket', 'asyncio', 'struct', 're', 'google.protobuf') if m in sys.modules]\n"
        "print(bad)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert r.stdout.strip() == "[]"
