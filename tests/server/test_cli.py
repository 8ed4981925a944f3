"""The rest of the CLI: offline listing, graphs, progress, TCP/TLS, no grpcio."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc
import pytest

from impl.server import INTROSPECTION_SERVICE, default_config
from impl.ttrpc import Client
from shimtypes.pb.introspection_pb2 import PluginsResponse

from ._helpers import REPO, HostProcess, OtherUser, as_user, shared_dir, Sockets, echo_say, host_env, run_cli, start_host, tcp_port, write_distribution

T = "io.shimtypes.test.v1"


def _config(sockets: Sockets, extra: str = "") -> Path:
    cfg = sockets.dir / "c.toml"
    cfg.write_text(sockets.config(extra))
    return cfg


def test_plugins_ls_offline_from_config(sockets: Sockets, good_plugin_path: Path) -> None:
    cfg = _config(sockets, f'disabled_plugins = ["{T}.skipping"]\n')
    r = run_cli(["plugins", "ls", "--config", str(cfg)], good_plugin_path)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows[0] == ["TYPE", "ID", "PLATFORMS", "STATUS"]
    assert [T, "echo", "linux/amd64,linux/arm64/v8", "ok"] in rows
    assert [T, "failing", "-", "error"] in rows
    assert not any(r[:2] == [T, "skipping"] for r in rows)
    assert not sockets.grpc.exists()  # offline: nothing was served
    q = run_cli(["plugins", "ls", "-q", "--config", str(cfg), f"type=={T}"], good_plugin_path)
    assert q.stdout.split() == ["echo", "failing"]
    d = run_cli(["plugins", "ls", "-d", "--config", str(cfg), "id==failing"], good_plugin_path)
    assert "Message:" in d.stdout and "boom: the disk is on fire" in d.stdout and "Unknown" in d.stdout


def test_plugins_ls_without_host_is_a_clear_error(sockets: Sockets) -> None:
    r = run_cli(["plugins", "ls", "--address", str(sockets.grpc)], None)
    assert r.returncode == 1
    assert r.stderr.startswith(f"shimtypes: no host at {sockets.grpc}")
    assert len(r.stderr.splitlines()) == 1


def test_plugins_graph_dot_and_mermaid(sockets: Sockets, good_plugin_path: Path) -> None:
    cfg = _config(sockets, f'disabled_plugins = ["{T}.echo"]\n')
    dot = run_cli(["plugins", "graph", "--format", "dot", "--config", str(cfg)], good_plugin_path)
    assert dot.returncode == 0, dot.stderr
    assert dot.stdout.startswith("digraph plugins {") and dot.stdout.rstrip().endswith("}")
    assert '"io.containerd.grpc.v1.events" -> "io.containerd.event.v1.exchange";' in dot.stdout
    # The dependency is disabled: drawn dashed, and not an edge target.
    assert re.search(rf'"{re.escape(T)}\.echo" \[.*style=dashed', dot.stdout)
    assert f'-> "{T}.echo"' not in dot.stdout
    mer = run_cli(["plugins", "graph", "--format", "mermaid"], good_plugin_path)
    assert mer.returncode == 0, mer.stderr
    lines = mer.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    ids = {m.group(2): m.group(1) for m in (re.match(r'\s+(p\d+)\["(.*)"\]', x) for x in lines) if m}
    needs = ids["io.shimtypes.other.v1<br/>needs-echo"]
    assert f"  {needs} --> {ids[f'{T}<br/>echo']}" in lines


def _run_with_tty_stderr(args: list[str], extra_path: Path) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "impl.cli", *args],
        env=host_env(extra_path),
        stdout=subprocess.DEVNULL,
        stderr=slave,
        cwd=REPO,
    )
    os.close(slave)
    out = b""
    with selectors.DefaultSelector() as sel:
        sel.register(master, selectors.EVENT_READ)
        while sel.select(30):
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            out += chunk
    os.close(master)
    return proc.wait(timeout=30), out.decode(errors="replace")


def test_progress_on_a_terminal_only(sockets: Sockets, good_plugin_path: Path) -> None:
    cfg = _config(sockets)
    code, tty_err = _run_with_tty_stderr(["plugins", "ls", "--config", str(cfg)], good_plugin_path)
    assert code == 0
    assert "loading plugins [1/" in tty_err and f"{T}.echo" in tty_err
    piped = run_cli(["plugins", "ls", "--config", str(cfg)], good_plugin_path)
    assert "loading plugins" not in piped.stderr and "\r" not in piped.stderr


_NO_GRPC = ("-c", "import sys; sys.modules['grpc'] = None; from impl.cli import main; main()")


def test_without_grpcio_grpc_serving_fails_clearly(sockets: Sockets) -> None:
    cfg = _config(sockets)
    r = subprocess.run(
        [sys.executable, *_NO_GRPC, "serve", "--config", str(cfg)],
        env=host_env(None), capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == (
        "shimtypes: gRPC serving needs grpcio: pip install 'shimtypes[grpc]' "
        '(or set [grpc] address = "" to serve ttrpc only)'
    )
    assert not sockets.ttrpc.exists()


def test_without_grpcio_ttrpc_only_host_serves(sockets: Sockets) -> None:
    text = f'version = 2\nroot = "{sockets.root}"\nstate = "{sockets.state}"\n[grpc]\naddress = ""\n[ttrpc]\naddress = "{sockets.ttrpc}"\n'
    h = start_host(sockets, None, config_text=text, python_args=_NO_GRPC)
    try:
        async def call() -> bytes:
            client = await Client.connect(str(sockets.ttrpc))
            try:
                return await client.call(INTROSPECTION_SERVICE, "Plugins", b"", timeout=10)
            finally:
                await client.close()

        infos = {i.id: i for i in PluginsResponse.FromString(asyncio.run(call())).plugins}
    finally:
        assert h.terminate() == 0, h.stderr_text
    assert "skip plugin" in infos["health"].init_err.message
    assert not infos["introspection"].HasField("init_err")
    assert not sockets.ttrpc.exists()


def test_default_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    cfg = default_config()
    assert cfg.grpc.address == str(tmp_path / "shimtypes" / "shimtypes.sock")
    assert cfg.root == str(tmp_path / "data" / "shimtypes")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))
    assert default_config().grpc.address.endswith("/shimtypes-1000/shimtypes.sock")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_config().state.endswith("/shimtypes-1000")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _make_pki(d: Path) -> None:
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=test-ca", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "1", "-extfile", "san.ext", cwd=d,
        )


def test_tcp_service_with_mutual_tls(sockets: Sockets, good_plugin_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed (needed to make the test PKI)")
    d = sockets.dir
    _make_pki(d)
    text = sockets.config("").replace(
        "[ttrpc]",
        f'tcp_address = "127.0.0.1:0"\ntcp_tls_cert = "{d}/server.pem"\ntcp_tls_key = "{d}/server.key"\n'
        f'tcp_tls_ca = "{d}/ca.pem"\n[ttrpc]',
    )
    h = start_host(sockets, good_plugin_path, config_text=text)
    try:
        port = tcp_port(h)
        ca = (d / "ca.pem").read_bytes()
        good = grpc.ssl_channel_credentials(ca, (d / "client.key").read_bytes(), (d / "client.pem").read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{port}", good) as ch:
            assert echo_say(ch)(b"over tls", timeout=10) == b"hello over tls"
        anonymous = grpc.ssl_channel_credentials(ca)
        with grpc.secure_channel(f"127.0.0.1:{port}", anonymous) as ch:
            with pytest.raises(grpc.RpcError) as info:
                echo_say(ch)(b"x", timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        # The unix socket does not carry TCP-only services.
        with grpc.insecure_channel(f"unix:{sockets.grpc}") as ch:
            with pytest.raises(grpc.RpcError) as info:
                echo_say(ch)(b"x", timeout=10)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        assert h.terminate() == 0, h.stderr_text


def test_serve_with_no_config_file_uses_the_embedded_defaults(
    users: tuple[OtherUser, OtherUser], readable_plugin_path: Path
) -> None:
    # A real non-root user (root's defaults are the machine-wide /run/shimtypes,
    # which a test must not take).
    user = users[0]
    run = shared_dir("sthx-", user, 0o700)
    data_parent = shared_dir("sthd-", user, 0o700)
    try:
        env = {"XDG_RUNTIME_DIR": str(run), "XDG_DATA_HOME": str(data_parent / "data")}
        sock = run / "shimtypes" / "shimtypes.sock"
        h = HostProcess(None, readable_plugin_path, python_args=as_user(user), env=env)
        try:
            h.wait_ready()
            ready = h.stdout_lines[-1]
            assert f"grpc {sock}," in ready and f"ttrpc {sock}.ttrpc " in ready, ready
            assert (data_parent / "data" / "shimtypes").is_dir()  # root, under $XDG_DATA_HOME
            # ``plugins ls`` with no --address finds the host on the same defaults.
            ls = subprocess.run(
                [sys.executable, *as_user(user), "plugins", "ls", "id==echo"],
                env={**host_env(readable_plugin_path), **env}, capture_output=True, text=True, timeout=60, cwd=REPO,
            )
            assert ls.returncode == 0, ls.stderr
            assert ls.stdout.splitlines()[1].split() == [T, "echo", "linux/amd64,linux/arm64/v8", "ok"]
        finally:
            code = h.terminate()
        assert code == 0, h.stderr_text
        assert not sock.exists() and not Path(f"{sock}.ttrpc").exists()
    finally:
        shutil.rmtree(run, ignore_errors=True)
        shutil.rmtree(data_parent, ignore_errors=True)


def test_root_defaults_use_run_with_a_writable_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import impl.server._config as config_module

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    writable = {"/run", "/var/lib"}
    monkeypatch.setattr(config_module, "_usable", lambda d: d in writable)
    cfg = default_config()
    assert (cfg.grpc.address, cfg.ttrpc.address) == ("/run/shimtypes/shimtypes.sock", "/run/shimtypes/shimtypes.sock.ttrpc")
    assert (cfg.state, cfg.root) == ("/run/shimtypes", "/var/lib/shimtypes")
    writable.clear()  # e.g. a read-only /run in a container
    cfg = default_config()
    fallback = os.path.join(tempfile.gettempdir(), "shimtypes-0")
    assert cfg.grpc.address == os.path.join(fallback, "shimtypes.sock")
    assert cfg.root == os.path.join(fallback, "root")


_CYCLE_LINE = (
    "shimtypes: circular plugin dependency at io.cycle.a.v1.a: "
    "io.cycle.a.v1.a -> io.cycle.b.v1.b -> io.cycle.a.v1.a: plugin: dependency loop detected"
)


def _write_cycle(root: Path) -> None:
    write_distribution(
        root, "cycle-plugins", "1.0", {"loop": "st_cycle_plugins:REGISTRATIONS"},
        {"st_cycle_plugins": (
            "from impl.plugin import Registration\n"
            "REGISTRATIONS = [\n"
            "    Registration('io.cycle.a.v1', 'a', lambda ic: None, requires=('io.cycle.b.v1',)),\n"
            "    Registration('io.cycle.b.v1', 'b', lambda ic: None, requires=('io.cycle.a.v1',)),\n"
            "]\n"
        )},
    )


def test_dependency_cycle_is_one_clear_line(sockets: Sockets, tmp_path: Path) -> None:
    _write_cycle(tmp_path)
    cfg = _config(sockets)
    for args in (["serve", "--config", str(cfg)], ["plugins", "ls", "--config", str(cfg)]):
        r = run_cli(args, tmp_path)
        assert r.returncode == 1, r.stderr
        assert r.stderr.splitlines() == [_CYCLE_LINE], r.stderr
        assert not sockets.grpc.exists() and not sockets.ttrpc.exists()


def test_dependency_cycle_is_one_clear_line_on_a_terminal_too(sockets: Sockets, tmp_path: Path) -> None:
    # With stderr on a terminal the progress line counts the graph first.
    _write_cycle(tmp_path)
    code, err = _run_with_tty_stderr(["serve", "--config", str(_config(sockets))], tmp_path)
    assert code == 1
    assert err.splitlines() == [_CYCLE_LINE], err


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("root", "root /proc/shimtypes-test/root: cannot create: "),
        ("grpc", "/proc/shimtypes-test/h.sock: cannot create its directory: "),
    ],
)
def test_uncreatable_directories_are_one_clear_line(sockets: Sockets, key: str, expected: str) -> None:
    cfg = sockets.dir / "c.toml"
    text = sockets.config()
    if key == "root":
        text = text.replace(f'root = "{sockets.root}"', 'root = "/proc/shimtypes-test/root"')
    else:
        text = text.replace(f'address = "{sockets.grpc}"', 'address = "/proc/shimtypes-test/h.sock"')
    cfg.write_text(text)
    r = run_cli(["serve", "--config", str(cfg)], None)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and expected in lines[0], r.stderr
    assert not sockets.ttrpc.exists()


def test_tcp_service_with_server_only_tls(sockets: Sockets, good_plugin_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed (needed to make the test PKI)")
    d = sockets.dir
    _make_pki(d)
    text = sockets.config("").replace(
        "[ttrpc]",
        f'tcp_address = "127.0.0.1:0"\ntcp_tls_cert = "{d}/server.pem"\ntcp_tls_key = "{d}/server.key"\n[ttrpc]',
    )
    h = start_host(sockets, good_plugin_path, config_text=text)
    try:
        port = tcp_port(h)
        # No CA configured: any client that trusts the server may call.
        anonymous = grpc.ssl_channel_credentials((d / "ca.pem").read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{port}", anonymous) as ch:
            assert echo_say(ch)(b"over tls", timeout=10) == b"hello over tls"
        # Plain text is refused on a TLS port.
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.RpcError) as info:
                echo_say(ch)(b"x", timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        assert h.terminate() == 0, h.stderr_text


def test_log_level_debug_shows_plugins_debug_records(sockets: Sockets, tmp_path: Path) -> None:
    write_distribution(
        tmp_path, "chatty-plugins", "1.0", {"chatty": "st_chatty_plugins:REGISTRATIONS"},
        {"st_chatty_plugins": (
            "import logging\n"
            "from impl.plugin import Registration\n"
            "def _init(ic):\n"
            "    logging.getLogger('st_chatty').debug('chatty init at %s', ic.root)\n"
            "REGISTRATIONS = [Registration('io.chatty.v1', 'c', _init)]\n"
        )},
    )
    cfg = _config(sockets)
    debug = run_cli(["--log-level", "debug", "plugins", "ls", "--config", str(cfg)], tmp_path)
    assert debug.returncode == 0, debug.stderr
    assert f"shimtypes: debug: chatty init at {sockets.root}/io.chatty.v1.c" in debug.stderr.splitlines()
    quiet = run_cli(["plugins", "ls", "--config", str(cfg)], tmp_path)
    assert quiet.returncode == 0 and "chatty" not in quiet.stderr, quiet.stderr
