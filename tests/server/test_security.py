"""The host's local protections, each exercised as a real other user.

Every test here fails when its protection is removed (scripts/mutate-security
removes each in turn and runs the test named for it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from impl.server import INTROSPECTION_SERVICE, Host, default_config, new_registry, parse_config
from impl.ttrpc import Client, ClientConnection
from shimtypes.pb.introspection_pb2 import PluginsRequest, PluginsResponse

from ._helpers import HostProcess, OtherUser, Sockets, as_user, host_env, shared_dir, start_host, write_distribution


def _as(user: OtherUser, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), user=user.uid, group=user.gid, extra_groups=[], capture_output=True, text=True, timeout=30, check=True
    )


@pytest.fixture
def tmpdir_like_tmp() -> Iterator[Path]:
    """A sticky world-writable directory, as /tmp is (the host's TMPDIR)."""
    d = shared_dir("stht-", None, 0o1777)
    os.chmod(d, 0o1777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def import_marker_path() -> Iterator[Path]:
    """A plugin distribution whose module, once imported, writes ``$STH_IMPORT_MARKER``."""
    root = shared_dir("sthm-")
    write_distribution(
        root, "sth-import-marker", "1.0", {"marker": "st_import_marker:REGISTRATIONS"},
        {"st_import_marker": "import os\nopen(os.environ['STH_IMPORT_MARKER'], 'w').close()\nREGISTRATIONS = []\n"},
    )
    for p in root.rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _serve_defaults_as(user: OtherUser, tmp: Path, plugins: Path, marker: Path) -> subprocess.CompletedProcess[str]:
    """``shimtypes serve`` on the embedded defaults as ``user``: no XDG_RUNTIME_DIR,
    no usable home, so everything goes under the /tmp fallback in ``tmp``. A
    plugin module in ``plugins`` writes ``marker`` when it is imported."""
    env = {**host_env(plugins), "TMPDIR": str(tmp), "HOME": "/nonexistent", "STH_IMPORT_MARKER": str(marker)}
    env.pop("XDG_DATA_HOME", None)
    return subprocess.run(
        [sys.executable, *as_user(user), "serve"], env=env, capture_output=True, text=True, timeout=60
    )


_REASONS = {
    "intruder-owned": "owned by uid {intruder}, not by this user (uid {host})",
    "symlink": "is a symlink",
    "world-writable": "is group or world writable",
}


@pytest.mark.parametrize("plant", sorted(_REASONS))
def test_tmp_fallback_planted_by_another_user_is_refused(
    users: tuple[OtherUser, OtherUser], tmpdir_like_tmp: Path, import_marker_path: Path, plant: str
) -> None:
    host_user, intruder = users
    fallback = tmpdir_like_tmp / f"shimtypes-{host_user.uid}"
    victim_dir = shared_dir("sthv-", host_user, 0o700)  # somewhere only the host's user may write
    victim = victim_dir / "precious"
    plugin_dir = fallback / "root" / "io.containerd.grpc.v1.introspection"
    try:
        if plant == "symlink":
            # The intruder points the fallback name at a directory of the host's user.
            _as(intruder, "ln", "-s", str(victim_dir), str(fallback))
        else:
            if plant == "intruder-owned":
                # The intruder made the fallback first (closed to others: only
                # the owner check can tell it is not the host user's).
                _as(intruder, "mkdir", "-p", "-m", "0755", str(plugin_dir))
                _as(intruder, "chmod", "0755", str(fallback), str(fallback / "root"))
            else:
                # The host user's own fallback, left open to all (a umask of 0).
                _as(host_user, "mkdir", "-p", "-m", "0777", str(fallback))
                _as(host_user, "chmod", "0777", str(fallback))
                _as(intruder, "mkdir", "-p", "-m", "0777", str(plugin_dir))
            # ... with the introspection plugin's uuid pointing at the victim's file.
            _as(intruder, "ln", "-s", str(victim), str(plugin_dir / "uuid"))
        r = _serve_defaults_as(host_user, tmpdir_like_tmp, import_marker_path, victim_dir / "imported")
        assert r.returncode == 2, (r.stdout, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        assert str(fallback) in lines[0] and lines[0].startswith("shimtypes: config <defaults>: "), lines[0]
        assert _REASONS[plant].format(intruder=intruder.uid, host=host_user.uid) in lines[0], lines[0]
        assert r.stdout == ""  # no plugin listing: nothing was loaded
        assert not victim.exists() and os.listdir(victim_dir) == []  # no plugin module even imported
        if plant != "symlink":
            assert os.readlink(plugin_dir / "uuid") == str(victim)
            assert sorted(os.listdir(fallback)) == ["root"]  # no socket made there
    finally:
        subprocess.run(["rm", "-rf", str(fallback)], check=False)
        shutil.rmtree(victim_dir, ignore_errors=True)


def test_the_fallback_of_the_users_own_serves(
    users: tuple[OtherUser, OtherUser], tmpdir_like_tmp: Path, import_marker_path: Path
) -> None:
    """The control: the same start with nothing planted comes up (and is stopped),
    having imported the marker plugin the refused starts never import."""
    host_user, _ = users
    marker_dir = shared_dir("sthv-", host_user, 0o700)
    env = {"TMPDIR": str(tmpdir_like_tmp), "HOME": "/nonexistent", "STH_IMPORT_MARKER": str(marker_dir / "imported")}
    h = HostProcess(None, import_marker_path, python_args=as_user(host_user), env=env)
    try:
        h.wait_ready()
        fallback = tmpdir_like_tmp / f"shimtypes-{host_user.uid}"
        st = os.lstat(fallback)
        assert (st.st_uid, st.st_mode & 0o777) == (host_user.uid, 0o711)
        assert (fallback / "shimtypes.sock").is_socket()
        assert (marker_dir / "imported").exists()
    finally:
        assert h.terminate() == 0, h.stderr_text
        shutil.rmtree(marker_dir, ignore_errors=True)


def test_uuid_is_never_written_through_a_planted_symlink(sockets: Sockets, tmp_path: Path) -> None:
    plugin_root = sockets.root / "io.containerd.grpc.v1.introspection"
    plugin_root.mkdir(parents=True)
    os.chmod(sockets.root, 0o711)
    target = tmp_path / "elsewhere"
    (plugin_root / "uuid").symlink_to(target)
    config = parse_config(sockets.config(), "<test>", base=default_config())
    registry, _ = new_registry(discover_plugins=False)

    async def scenario() -> str:
        host = Host(config, registry)
        await host.start()
        try:
            client = await Client.connect(str(sockets.ttrpc))
            try:
                raw = await client.call(INTROSPECTION_SERVICE, "Server", b"", timeout=10)
            finally:
                await client.close()
        finally:
            await host.stop(grace=1)
        from shimtypes.pb.introspection_pb2 import ServerResponse

        return ServerResponse.FromString(raw).uuid

    uuid = asyncio.run(scenario())
    assert len(uuid) == 36  # served, just not kept
    assert not target.exists()
    assert (plugin_root / "uuid").is_symlink()


_RAW_CLIENT = """
import os, socket
os.setgroups([])
os.setgid({gid})
os.setuid({uid})
s = socket.socket(socket.AF_UNIX)
s.connect({path!r})
print("connected", flush=True)
try:
    s.sendall({request!r})
except (BrokenPipeError, ConnectionResetError):
    pass
try:
    data = s.recv(65536)
except ConnectionResetError:
    data = b""
print("EOF" if data == b"" else "DATA " + data.hex())
"""


def test_ttrpc_socket_refuses_another_user_the_file_mode_lets_in(
    users: tuple[OtherUser, OtherUser], sockets: Sockets, good_plugin_path: Path
) -> None:
    """``[grpc] gid`` opens the sockets to a group (containerd's 0660); the ttrpc
    peer check still admits only the host's own user."""
    _, intruder = users
    os.chmod(sockets.dir, 0o711)
    text = sockets.config().replace("[ttrpc]", f"gid = {intruder.gid}\n[ttrpc]")
    h = start_host(sockets, good_plugin_path, config_text=text)
    try:
        st = os.stat(sockets.ttrpc)
        assert (st.st_gid, st.st_mode & 0o777) == (intruder.gid, 0o660)
        _, request = ClientConnection().send_request(
            INTROSPECTION_SERVICE, "Plugins", PluginsRequest().SerializeToString()
        )
        script = _RAW_CLIENT.format(uid=intruder.uid, gid=intruder.gid, path=str(sockets.ttrpc), request=request)
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["connected", "EOF"], r.stdout  # let in by the mode, shut out by the check

        async def as_root() -> PluginsResponse:  # the host's own user is served
            client = await Client.connect(str(sockets.ttrpc))
            try:
                raw = await client.call(INTROSPECTION_SERVICE, "Plugins", PluginsRequest().SerializeToString(), timeout=10)
            finally:
                await client.close()
            return PluginsResponse.FromString(raw)

        assert any(p.id == "introspection" for p in asyncio.run(as_root()).plugins)
    finally:
        assert h.terminate() == 0, h.stderr_text


def _tls_pair(d: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed (scripts/setup-system installs it)")
    cert, key = d / "c.pem", d / "k.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost", "-days", "1"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("tls", [False, True])
def test_unauthenticated_tcp_is_announced_loudly(
    sockets: Sockets, tls: bool, caplog: pytest.LogCaptureFixture
) -> None:
    extra = 'tcp_address = "127.0.0.1:0"\n'
    if tls:
        cert, key = _tls_pair(sockets.dir)
        extra += f'tcp_tls_cert = "{cert}"\ntcp_tls_key = "{key}"\n'
    config = parse_config(sockets.config().replace("[ttrpc]", extra + "[ttrpc]"), "<test>", base=default_config())
    registry, _ = new_registry(discover_plugins=False)

    async def scenario() -> None:
        host = Host(config, registry)
        await host.start()
        await host.stop(grace=0)

    with caplog.at_level(logging.WARNING, logger="shimtypes"):
        asyncio.run(scenario())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    expected = (
        "TLS without tcp_tls_ca: any client is accepted" if tls else "plain TCP without TLS: any local user"
    )
    assert [w for w in warnings if expected in w and "127.0.0.1:0" in w], warnings


def test_modes_do_not_depend_on_the_umask(sockets: Sockets) -> None:
    """Under umask 0 the host's directories are still 0711 and its sockets 0660."""
    nested = sockets.dir / "deeper" / "run"
    text = sockets.config().replace(str(sockets.grpc), str(nested / "h.sock")).replace(
        str(sockets.ttrpc), str(nested / "h.sock.ttrpc")
    )
    config = parse_config(text, "<test>", base=default_config())
    registry, _ = new_registry(discover_plugins=False)

    async def scenario() -> dict[str, int]:
        host = Host(config, registry)
        await host.start()
        try:
            paths = [sockets.root, sockets.state, sockets.dir / "deeper", nested, nested / "h.sock", nested / "h.sock.ttrpc"]
            return {p.name: os.lstat(p).st_mode & 0o777 for p in paths}
        finally:
            await host.stop(grace=0)

    old = os.umask(0)
    try:
        modes = asyncio.run(scenario())
    finally:
        os.umask(old)
    assert modes == {"root": 0o711, "state": 0o711, "deeper": 0o711, "run": 0o711, "h.sock": 0o660, "h.sock.ttrpc": 0o660}
