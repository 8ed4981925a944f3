"""``[grpc]`` options on a real host: plain TCP, message size limits, socket owner."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import pytest

from shimtypes.pb.introspection_pb2 import PluginsRequest

from ._helpers import Sockets, echo_say, introspection_plugins, run_cli, start_host, tcp_port


def test_plain_tcp_size_limits_and_socket_owner(sockets: Sockets, good_plugin_path: Path) -> None:
    # Only root may give a socket away; others can still name themselves.
    uid, gid = (4321, 8765) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    text = sockets.config("").replace(
        "[ttrpc]",
        f'tcp_address = "127.0.0.1:0"\nuid = {uid}\ngid = {gid}\n'
        "max_recv_message_size = 1024\nmax_send_message_size = 1048576\n[ttrpc]",
    )
    h = start_host(sockets, good_plugin_path, config_text=text)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{tcp_port(h)}") as ch:
            assert echo_say(ch)(b"over tcp", timeout=10) == b"hello over tcp"
        with grpc.insecure_channel(f"unix:{sockets.grpc}") as ch:
            call = introspection_plugins(ch)
            assert call(PluginsRequest(filters=["id==echo"]), timeout=10).plugins[0].id == "echo"
            with pytest.raises(grpc.RpcError) as info:
                call(PluginsRequest(filters=["id==" + "x" * 2048]), timeout=10)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        for path in (sockets.grpc, sockets.ttrpc):
            st = os.stat(path)
            assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (uid, gid, 0o660), path
    finally:
        assert h.terminate() == 0, h.stderr_text


def test_small_send_limit_refuses_big_responses(sockets: Sockets) -> None:
    text = sockets.config("").replace("[ttrpc]", "max_send_message_size = 64\n[ttrpc]")
    h = start_host(sockets, None, config_text=text)
    try:
        with grpc.insecure_channel(f"unix:{sockets.grpc}") as ch:
            with pytest.raises(grpc.RpcError) as info:
                introspection_plugins(ch)(PluginsRequest(), timeout=10)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        assert h.terminate() == 0, h.stderr_text


def test_unreadable_tls_file_names_the_key(sockets: Sockets) -> None:
    missing = sockets.dir / "missing.pem"
    text = sockets.config("").replace(
        "[ttrpc]",
        f'tcp_address = "127.0.0.1:0"\ntcp_tls_cert = "{missing}"\ntcp_tls_key = "{missing}"\n[ttrpc]',
    )
    cfg = sockets.dir / "c.toml"
    cfg.write_text(text)
    r = run_cli(["serve", "--config", str(cfg)], None)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == (
        f"shimtypes: config {cfg}: [grpc] tcp_tls_cert {missing}: cannot read: No such file or directory"
    )
    assert not sockets.grpc.exists() and not sockets.ttrpc.exists()
