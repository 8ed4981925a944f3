"""The ``delete`` action's socket cleanup: a dead shim's socket goes, a live one stays.

A killed shim's listener can outlive the connection whose close made
containerd run ``delete``: the check must not mistake a dying listener for
a live shim.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from impl.shim import ADDRESS_FILE, socket_path, write_address
from impl.shim._runner import _remove_dead_socket


def _bundle_with_socket(tmp_path: Path) -> tuple[Path, str, socket.socket]:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    address = f"unix://{tmp_path}/s.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path(address))
    listener.listen(4)
    write_address(str(bundle / ADDRESS_FILE), address)
    return bundle, address, listener


def test_a_listener_that_goes_away_during_the_checks_is_dead(tmp_path: Path) -> None:
    bundle, address, listener = _bundle_with_socket(tmp_path)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the dying shim: holds the listener 30 ms more, then exits
        try:
            time.sleep(0.03)
        finally:
            os._exit(0)
    listener.close()  # only the child holds it now
    try:
        _remove_dead_socket(str(bundle), checks=100, interval=0.02)
    finally:
        os.waitpid(pid, 0)
    assert not os.path.exists(socket_path(address))


def test_a_live_listener_keeps_its_socket(tmp_path: Path) -> None:
    bundle, address, listener = _bundle_with_socket(tmp_path)
    try:
        started = time.monotonic()
        _remove_dead_socket(str(bundle), checks=3, interval=0.01)
        assert os.path.exists(socket_path(address))
        assert time.monotonic() - started >= 0.02  # it asked again before deciding
    finally:
        listener.close()


def test_a_socket_nobody_listens_on_goes_at_once(tmp_path: Path) -> None:
    bundle, address, listener = _bundle_with_socket(tmp_path)
    listener.close()
    _remove_dead_socket(str(bundle), checks=3, interval=10)  # no sleep: refused the first time
    assert not os.path.exists(socket_path(address))
