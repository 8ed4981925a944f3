"""Helpers for the host tests: a test distribution, configs, a host subprocess."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from impl.server import INTROSPECTION_SERVICE
from shimtypes.pb import events_service_pb2 as epb
from shimtypes.pb.introspection_pb2 import PluginsRequest, PluginsResponse

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0

# A plugin module shipped by the test distribution "shimtypes-testplugins".
PLUGIN_MODULE = '''
"""Plugins of the test distribution (loaded through its entry points)."""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

from impl.plugin import Registration, Registry, SkipPlugin

TYPE = "io.shimtypes.test.v1"


@dataclass
class EchoConfig:
    greeting: str = "hello"
    marker_dir: str = ""
    tags: list[str] = field(default_factory=list)


class Echo:
    def __init__(self, greeting: str, marker_dir: str) -> None:
        self.greeting = greeting
        self.marker_dir = marker_dir

    def register_ttrpc(self, server):
        server.register_service("shimtypes.test.Echo", {"Say": self.say, "Slow": self.slow})

    def register_tcp(self, server):
        import grpc

        async def say(request: bytes, context) -> bytes:
            return await self.say(None, request)

        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("shimtypes.test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)}),)
        )

    async def say(self, ctx, payload: bytes) -> bytes:
        return self.greeting.encode() + b" " + payload

    async def slow(self, ctx, payload: bytes) -> bytes:
        # Entered: tell the test, then do a little "work" the shutdown must wait for.
        open(os.path.join(self.marker_dir, "slow-entered"), "w").close()
        await asyncio.sleep(float(payload.decode() or "0.5"))
        return b"finished"


def _echo(ic):
    ic.meta.platforms.extend(["linux/arm64/v8", "linux/amd64"])
    ic.meta.exports["greeting"] = ic.config.greeting
    ic.meta.capabilities.append("echo")
    return Echo(ic.config.greeting, ic.config.marker_dir)


def _failing(ic):
    raise RuntimeError("boom: the disk is on fire")


def _skipping(ic):
    raise SkipPlugin("not configured")


def _needs_echo(ic):
    return ic.get_by_id(TYPE, "echo")


REGISTRATIONS = [
    Registration(TYPE, "echo", _echo, config=EchoConfig()),
    Registration(TYPE, "failing", _failing),
    Registration(TYPE, "skipping", _skipping),
]


class Announcer:
    """Publishes to the host's exchange, found as a typed Publisher."""

    def __init__(self, publisher) -> None:
        self.publisher = publisher

    def register_ttrpc(self, server):
        server.register_service("shimtypes.test.Announcer", {"Announce": self.announce})

    async def announce(self, ctx, payload: bytes) -> bytes:
        from shimtypes.pb.task_events_pb2 import TaskExit

        await self.publisher.publish("/tasks/exit", TaskExit(container_id=payload.decode(), exit_status=9))
        return b""


def _announcer(ic):
    from shimtypes import EVENT_PLUGIN, Publisher

    return Announcer(ic.get_single(EVENT_PLUGIN, Publisher))


def register(registry: Registry) -> None:
    registry.register(Registration("io.shimtypes.other.v1", "needs-echo", _needs_echo, requires=(TYPE,)))
    registry.register(
        Registration("io.shimtypes.other.v1", "announcer", _announcer, requires=("io.containerd.event.v1",))
    )
'''


def write_test_plugins(root: Path) -> None:
    """The good test distribution, "shimtypes-testplugins", under ``root``."""
    write_distribution(
        root,
        "shimtypes-testplugins",
        "0.1",
        {"plugins": "st_testplugins:REGISTRATIONS", "more": "st_testplugins:register"},
        {"st_testplugins": PLUGIN_MODULE},
    )


def write_distribution(
    root: Path, name: str, version: str, entry_points: Mapping[str, str], modules: Mapping[str, str]
) -> None:
    """An installed-looking distribution: a dist-info with entry_points.txt."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[shimtypes.plugins]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for mod, source in modules.items():
        (root / f"{mod}.py").write_text(textwrap.dedent(source))


def host_env(extra_path: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    parts = [str(extra_path)] if extra_path is not None else []
    parts.append(str(REPO))
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env.pop("XDG_RUNTIME_DIR", None)
    return env


@dataclass
class Sockets:
    dir: Path
    grpc: Path = field(init=False)
    ttrpc: Path = field(init=False)
    root: Path = field(init=False)
    state: Path = field(init=False)

    def __post_init__(self) -> None:
        self.grpc = self.dir / "h.sock"
        self.ttrpc = self.dir / "h.sock.ttrpc"
        self.root = self.dir / "root"
        self.state = self.dir / "state"

    def config(self, extra: str = "") -> str:
        return (
            f'version = 2\nroot = "{self.root}"\nstate = "{self.state}"\n'
            + textwrap.dedent(extra)
            + f'\n[grpc]\naddress = "{self.grpc}"\n[ttrpc]\naddress = "{self.ttrpc}"\n'
        )


def run_cli(args: Sequence[str], extra_path: Path | None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impl.cli", *args],
        env=host_env(extra_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


class HostProcess:
    """``shimtypes serve`` in a subprocess; ``start`` waits for its ready line."""

    def __init__(
        self,
        config: Path | None,
        extra_path: Path | None,
        *,
        python_args: Sequence[str] = ("-m", "impl.cli"),
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``config`` None: the embedded defaults; ``env`` is added to the environment."""
        args = ["serve"] if config is None else ["serve", "--config", str(config)]
        self.proc = subprocess.Popen(
            [sys.executable, *python_args, *args],
            env={**host_env(extra_path), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=0,
            cwd=REPO,
        )
        self.stdout_lines: list[str] = []
        self.stderr_text = ""

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Read stdout (unbuffered, so select() sees every byte) up to the ready line."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        pending = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"host not ready in {timeout}s: {self.stdout_lines}")
                if not sel.select(left):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    err = self.proc.stderr.read() if self.proc.stderr else ""
                    raise AssertionError(f"host exited ({self.proc.wait()}) before ready: {err}")
                pending += chunk
                *lines, rest = pending.split(b"\n")
                pending = rest
                for raw in lines:
                    line = raw.decode() + "\n"
                    self.stdout_lines.append(line)
                    if " ready: " in line:
                        assert not pending, "output after the ready line"
                        return

    def terminate(self, timeout: float = 20.0, *, signal_it: bool = True) -> int:
        """SIGTERM (unless already sent) and collect the output; the exit code."""
        if signal_it and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=timeout)
        self.stdout_lines.extend(out.splitlines(keepends=True))
        self.stderr_text += err
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=20)


def start_host(
    sockets: Sockets,
    extra_path: Path | None,
    extra_config: str = "",
    *,
    config_text: str | None = None,
    python_args: Sequence[str] = ("-m", "impl.cli"),
) -> HostProcess:
    cfg = sockets.dir / "config.toml"
    cfg.write_text(config_text if config_text is not None else sockets.config(extra_config))
    host = HostProcess(cfg, extra_path, python_args=python_args)
    try:
        host.wait_ready()
    except BaseException:
        host.kill()
        raise
    return host


def tcp_port(host: HostProcess) -> int:
    """The TCP port the host's ready line reports (it listens on 127.0.0.1:0)."""
    ready = next(line for line in host.stdout_lines if " ready: " in line)
    m = re.search(r"tcp 127\.0\.0\.1:(\d+)", ready)
    assert m, ready
    return int(m.group(1))


def introspection_plugins(ch: grpc.Channel) -> grpc.UnaryUnaryMultiCallable[PluginsRequest, PluginsResponse]:
    return ch.unary_unary(
        f"/{INTROSPECTION_SERVICE}/Plugins",
        request_serializer=PluginsRequest.SerializeToString,
        response_deserializer=PluginsResponse.FromString,
    )


def events_subscribe(ch: grpc.Channel) -> grpc.UnaryStreamMultiCallable[epb.SubscribeRequest, epb.Envelope]:
    return ch.unary_stream(
        "/containerd.services.events.v1.Events/Subscribe",
        request_serializer=epb.SubscribeRequest.SerializeToString,
        response_deserializer=epb.Envelope.FromString,
    )


def echo_say(ch: grpc.Channel) -> grpc.UnaryUnaryMultiCallable[bytes, bytes]:
    """The test distribution's Echo/Say, served on TCP (raw bytes both ways)."""
    return ch.unary_unary("/shimtypes.test.Echo/Say")


@dataclass(frozen=True)
class OtherUser:
    """A throwaway system user (made with useradd for the test session)."""

    name: str
    uid: int
    gid: int


def make_user(name: str) -> OtherUser:
    import pwd

    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    entry = pwd.getpwnam(name)
    return OtherUser(name, entry.pw_uid, entry.pw_gid)


def remove_user(user: OtherUser) -> None:
    subprocess.run(["userdel", user.name], check=False, capture_output=True)


# The interpreter may live where another user cannot read it (pyenv under
# /root): start it as root, import everything the host will need, then drop to
# the user for good before any of the CLI's code runs. From there on the process
# is that user for every file and socket it touches.
_AS_OTHER_USER = """
import importlib, os, pkgutil, sys
import asyncio, argparse, logging, signal, tomllib, uuid, importlib.metadata, selectors
import grpc, grpc.aio, msgspec, email.parser, email.feedparser, email.message, email.policy, csv, zipfile, json
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
import google.protobuf.empty_pb2, google.protobuf.any_pb2, google.protobuf.wrappers_pb2
import impl, shimtypes, shimtypes.pb
for pkg in (impl, shimtypes):
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if not m.name.startswith("impl.shim") and not m.name.endswith("__main__"):
            importlib.import_module(m.name)
os.setgroups([])
os.setgid({gid})
os.setuid({uid})
assert os.geteuid() == {uid} and os.getegid() == {gid}
from impl.cli import main
main(sys.argv[1:])
"""


def as_user(user: OtherUser) -> tuple[str, ...]:
    """``python_args`` running the ``shimtypes`` CLI as ``user``."""
    return ("-c", _AS_OTHER_USER.format(uid=user.uid, gid=user.gid))


def shared_dir(prefix: str, owner: OtherUser | None = None, mode: int = 0o755) -> Path:
    """A new directory in the system temp dir, ``owner``'s (else root's), with ``mode``."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(d, mode)
    if owner is not None:
        os.chown(d, owner.uid, owner.gid)
    return d
