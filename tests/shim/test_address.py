"""containerd's shim socket convention, binding and the address file."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from impl.shim import SOCKET_PATH_LIMIT, read_address, socket_address, write_address
from impl.shim import AddressInUseError, bind_socket, can_connect, remove_socket

GO_SRC = Path(__file__).resolve().parent.parent / "go"


# containerd 1.6.20's own ``shim.SocketAddress`` printed this for ("/run/containerd/containerd.sock",
# "default", "t2") (tests/go/src/shimaddr; test_address_matches_containerd checks it live).
CONTAINERD_T2 = "unix:///run/containerd/s/7d3eef4fc7c4c3dc708912ec4c3b31331295b492c44c2258d8d0d68205dbe947"


def test_containerd_example() -> None:
    assert socket_address("/run/containerd/containerd.sock", "default", "t2") == CONTAINERD_T2


@pytest.fixture(scope="module")
def go_socket_address() -> Iterator[Callable[[str, str, str], str]]:
    """containerd's ``shim.SocketAddress``, built from Debian's containerd 1.6.20 sources."""
    if shutil.which("go") is None:
        pytest.skip("go is not installed (needs golang-go and golang-github-containerd-containerd-dev)")
    work = Path(tempfile.mkdtemp(prefix="shimtest-goaddr-"))
    try:
        env = dict(
            os.environ,
            GO111MODULE="off",
            GOPATH=f"{GO_SRC}:/usr/share/gocode",
            GOCACHE=str(work / "cache"),
        )
        subprocess.run(
            ["go", "build", "-o", str(work / "shimaddr"), "shimaddr"],
            env=env, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        proc = subprocess.Popen(
            [str(work / "shimaddr")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8"
        )
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        def ask(address: str, namespace: str, id: str) -> str:
            stdin.write(json.dumps([address, namespace, id]) + "\n")
            stdin.flush()
            return stdout.readline().rstrip("\n")

        try:
            yield ask
        finally:
            stdin.close()
            proc.wait(timeout=10)
    finally:
        shutil.rmtree(work, ignore_errors=True)


_PATHISH = st.text(alphabet=st.sampled_from("ab/.-_x\u00e9"), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_PATHISH, st.text(max_size=40)), st.from_regex(r"\A[a-z0-9]+([._-][a-z0-9]+)*\Z"), _PATHISH)
def test_address_matches_containerd(
    go_socket_address: Callable[[str, str, str], str], address: str, namespace: str, id: str
) -> None:
    """Byte for byte what containerd computes, unclean paths (``//``, ``..``, trailing ``/``) included."""
    expected = go_socket_address(address, namespace, id)
    # containerd refuses namespaces that are not identifiers before hashing anything.
    assume(not expected.startswith("error: "))
    assert socket_address(address, namespace, id) == expected
    assert len(expected.encode()) - len("unix://") <= SOCKET_PATH_LIMIT


def test_containerd_literal_is_live(go_socket_address: Callable[[str, str, str], str]) -> None:
    assert go_socket_address("/run/containerd/containerd.sock", "default", "t2") == CONTAINERD_T2


def test_bind_mode_0600_and_stale_socket_replaced() -> None:
    d = tempfile.mkdtemp(prefix="shimtest-addr-")
    address = f"unix://{d}/sub/s"
    sock = bind_socket(address)
    try:
        st_ = os.stat(f"{d}/sub/s")
        assert stat.S_ISSOCK(st_.st_mode) and stat.S_IMODE(st_.st_mode) == 0o600
        assert can_connect(address)
        with pytest.raises(AddressInUseError):
            bind_socket(address)
    finally:
        sock.close()
    # The file remains but nobody listens: a stale socket is replaced.
    assert os.path.exists(f"{d}/sub/s") and not can_connect(address)
    sock = bind_socket(address)
    sock.close()
    remove_socket(address)
    remove_socket(address)  # idempotent
    assert not os.path.exists(f"{d}/sub/s")
    os.rmdir(f"{d}/sub")
    os.rmdir(d)


def test_too_long_path_rejected() -> None:
    path = "/tmp/" + "x" * (SOCKET_PATH_LIMIT - 4)
    with pytest.raises(ValueError, match="unix socket path too long"):
        bind_socket("unix://" + path)
    assert not os.path.exists(path)


def test_bind_error_is_not_masked(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError) as info:
        bind_socket(f"unix://{tmp_path}/file/s")
    assert info.value.errno in (errno.ENOTDIR, errno.EEXIST)


def test_abstract_socket(tmp_path: Path) -> None:
    name = "@shimtest-" + tmp_path.name
    sock = bind_socket(name)
    try:
        assert sock.getsockname() == b"\0" + name[1:].encode()  # "@" is Go's spelling of the NUL
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.connect("\0" + name[1:])
        probe.close()
        with pytest.raises(AddressInUseError):  # no file to find stale: a live name is in use
            bind_socket(name)
    finally:
        sock.close()


@given(st.text(st.characters(codec="utf-8"), max_size=100))
def test_write_address_atomic_round_trip(address: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "address")
        write_address(path, address)
        write_address(path, address)  # replaces, never appends
        assert read_address(path) == address.strip()
        assert os.listdir(d) == ["address"]  # no temp file left behind


def test_bind_failure_names_the_socket_path_and_the_step(tmp_path: Path) -> None:
    """A read-only socket directory (a real read-only mount): the error says which path and what was done."""
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "shimtest-ro", str(ro)], check=True)
    try:
        with pytest.raises(OSError) as info:
            bind_socket(f"unix://{ro}/s")
        assert info.value.errno == errno.EROFS
        assert str(info.value) == f"[Errno 30] binding the shim socket {ro}/s: Read-only file system"
        with pytest.raises(OSError, match=f"creating the shim socket directory {ro}/sub/s: Read-only"):
            bind_socket(f"unix://{ro}/sub/s")
    finally:
        subprocess.run(["umount", str(ro)], check=True)
