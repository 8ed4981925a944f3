"""containerd's shim socket convention, binding and the address file."""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impl.shim import SOCKET_PATH_LIMIT, read_address, socket_address, write_address
from impl.shim import AddressInUseError, bind_socket, can_connect, remove_socket


def test_containerd_example() -> None:
    # The fact sheet's example: the hash of "/run/containerd/containerd.sock/default/t2".
    digest = hashlib.sha256(b"/run/containerd/containerd.sock/default/t2").hexdigest()
    assert socket_address("/run/containerd/containerd.sock", "default", "t2") == f"unix:///run/containerd/s/{digest}"


@given(st.text(max_size=60), st.text(max_size=20), st.text(max_size=40))
def test_address_is_sha256_of_address_namespace_id(address: str, namespace: str, id: str) -> None:
    expected = hashlib.sha256(f"{address}/{namespace}/{id}".encode()).hexdigest()
    got = socket_address(address, namespace, id)
    assert got == "unix:///run/containerd/s/" + expected
    assert len(got.encode()) - len("unix://") <= SOCKET_PATH_LIMIT


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
