"""ttrpc benchmark: unary echo over one unix-socket connection, side by side.

    python bench/ttrpc.py [--rounds 3] [--duration 1.5] [--idle 500 | --idle-only]

In one run, with 1 and 16 concurrent callers and 0 B / 4 KiB payloads:
- servers under the same Go client: Go ttrpc 1.1.1 server vs the Python
  server (impl.ttrpc), and grpcio's asyncio server (driven by a Go gRPC client);
- clients against Go servers: the Python client vs the Go ttrpc client, and
  grpcio's asyncio client (against a Go gRPC server).
Every peer runs in its own process (2 cores: one client, one server). Each
message is a BytesValue that the server decodes and re-encodes and the client
decodes. Rounds are interleaved; the table shows medians of calls/s.
Then the idle cost: server RSS growth per connection over 500 idle ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any
from contextlib import ExitStack, contextmanager
from pathlib import Path

from google.protobuf import wrappers_pb2

ROOT = Path(__file__).resolve().parent.parent
GO_ROOT = ROOT / "tests" / "go"
SERVICE = "ttrpcpeer.Echo"  # the Go peer's service (tests/go/src/ttrpcpeer/echo)
GRPC_METHOD = "/bench.Echo/Echo"
CALLERS = (1, 16)
PAYLOADS = (0, 4096)
SERVER_GOAL_GO = 1.0  # Python server >= 1.0x the Go server at 16 callers (default loop)
SERVER_GOAL_GRPCIO = 2.0  # ... and >= 2x grpcio's server
CLIENT_GOAL_GO = 1.0  # Python client >= 1.0x the Go client at 16 callers
STREAM_GOAL = 0.8  # streaming rows: Python >= 0.8x Go, server and client


# -- peers implemented here (each runs as `python bench/ttrpc.py --role ...`) --


def _echo_bytes(payload: bytes) -> bytes:
    return wrappers_pb2.BytesValue.FromString(payload).SerializeToString()


async def _py_server(socket_path: str) -> None:
    from impl.ttrpc import Server
    from shimtypes import TTRPCMethodContext

    async def echo(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return _echo_bytes(payload)

    server = Server()
    server.register_service(SERVICE, {"Echo": echo})
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(128)
    print("ready", flush=True)  # connectable from here on
    await server.serve(listener)


async def _grpcio_server(socket_path: str) -> None:
    import grpc

    async def echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return _echo_bytes(request)

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"unix:{socket_path}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


async def _drive(
    call: Callable[[bytes], Awaitable[bytes]], callers: int, payload: int, duration: float, warmup: float
) -> dict[str, float]:
    """The shared client loop: ``callers`` tasks calling back to back."""
    request = wrappers_pb2.BytesValue(value=bytes(payload)).SerializeToString()
    counting = False
    calls = errors = 0
    stop = False

    async def caller() -> None:
        nonlocal calls, errors
        while not stop:
            try:
                reply = await call(request)
                ok = len(wrappers_pb2.BytesValue.FromString(reply).value) == payload
            except Exception:
                ok = False
            if counting:
                if ok:
                    calls += 1
                else:
                    errors += 1

    tasks = [asyncio.create_task(caller()) for _ in range(callers)]
    await asyncio.sleep(warmup)
    counting = True
    start = time.perf_counter()
    await asyncio.sleep(duration)
    counting = False
    seconds = time.perf_counter() - start
    stop = True
    await asyncio.gather(*tasks)
    return {"calls": calls, "errors": errors, "seconds": seconds, "calls_per_s": calls / seconds}


async def _py_client(socket_path: str, callers: int, payload: int, duration: float, warmup: float) -> None:
    from impl.ttrpc import Client

    client = await Client.connect(socket_path)

    async def call(request: bytes) -> bytes:
        return await client.call(SERVICE, "Echo", request)

    print(json.dumps(await _drive(call, callers, payload, duration, warmup)), flush=True)
    await client.close()


async def _grpcio_client(socket_path: str, callers: int, payload: int, duration: float, warmup: float) -> None:
    import grpc

    async with grpc.aio.insecure_channel(f"unix:{socket_path}") as channel:
        method: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(GRPC_METHOD)

        async def call(request: bytes) -> bytes:
            reply = await method(request)
            assert isinstance(reply, bytes)
            return reply

        print(json.dumps(await _drive(call, callers, payload, duration, warmup)), flush=True)


# -- orchestration --------------------------------------------------------


def _go_build(out_dir: Path, package: str, gopath: tuple[str, ...] = ()) -> Path:
    """Build into out_dir (private: a TemporaryDirectory), with its own fresh Go cache."""
    go = shutil.which("go")
    if go is None:
        sys.exit("bench/ttrpc.py needs go (golang-go) and Debian's golang-github-containerd-ttrpc-dev")
    cache = out_dir / "gocache"
    cache.mkdir(mode=0o700, exist_ok=True)
    env = dict(
        os.environ,
        GO111MODULE="off",
        GOPATH=":".join((str(GO_ROOT), *gopath, "/usr/share/gocode")),
        GOFLAGS="",
        GOCACHE=str(cache),
    )
    out = out_dir / package.rsplit("/", 1)[-1]
    subprocess.run([go, "build", "-o", str(out), package], env=env, cwd=GO_ROOT, check=True)
    return out


@contextmanager
def _server(args: list[str]) -> Iterator[subprocess.Popen[str]]:
    """Run a server process until the block ends; wait for its "ready" line."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline().strip() if ready else "<nothing in 60s>"
        if line != "ready":
            raise RuntimeError(f"{args[:3]} did not start (printed {line!r}, rc={proc.poll()})")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _measure(args: list[str]) -> float:
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"{args[:4]} failed ({out.returncode}): {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["errors"]:
        raise RuntimeError(f"{args[:4]}: {result['errors']} failed calls")
    return float(result["calls_per_s"])


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _idle_cost(pid: int, sock: str, count: int) -> float:
    """KiB of server RSS per connection: ``count`` connections, each after one
    echo call (so every per-connection buffer has been used), then idle."""
    from impl.ttrpc import ClientConnection

    _, request = ClientConnection().send_request(SERVICE, "Echo", wrappers_pb2.BytesValue(value=b"x").SerializeToString())
    time.sleep(0.2)
    before = _rss_kib(pid)
    conns: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock)
            s.sendall(request)
            conns.append(s)
        for s in conns:
            if not s.recv(64):
                raise RuntimeError("server closed an idle-cost connection")
        time.sleep(0.5)  # let the server settle (Go: goroutines parked)
        return (_rss_kib(pid) - before) / count
    finally:
        for s in conns:
            s.close()


def _idle_rows(peer: Path, me: list[str], tmp: Path, count: int, rounds: int) -> list[str]:
    samples: dict[str, list[float]] = {}
    for r in range(rounds):
        for name, argv in (
            ("Go server", [str(peer), "bench-server", "-socket", str(tmp / f"idle-go-{r}.sock")]),
            ("Py server", [*me, "--role", "py-server", str(tmp / f"idle-py-{r}.sock")]),
            ("Py server (uvloop)", [*me, "--role", "py-server-uvloop", str(tmp / f"idle-pyu-{r}.sock")]),
        ):
            with _server(argv) as proc:
                samples.setdefault(name, []).append(_idle_cost(proc.pid, argv[-1], count))
    lines = [
        f"\nIdle connection cost: server RSS delta over {count} connections, each idle after one call "
        f"(KiB per connection, median of {rounds}; goal <= 16 KiB)\n",
        "| server | KiB/conn |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {statistics.median(v):.1f} |" for name, v in samples.items()]
    return lines


def _ttrpc_1_2_gopath() -> tuple[str, ...]:
    """Go ttrpc 1.2.7 + containerd/log from Debian sid (scripts/fetch-debs; cached)."""
    pins = ("golang-github-containerd-ttrpc-dev=1.2.7-1", "golang-github-containerd-log-dev=0.1.0-2")
    out = subprocess.run([str(ROOT / "scripts" / "fetch-debs"), "sid", *pins], capture_output=True, text=True, check=True)
    return tuple(f"{d}/root/usr/share/gocode" for d in out.stdout.split() if d.startswith("/"))


STREAM_MODES = ("echo", "up", "down")
"""Streaming rows: echo = bidirectional round trips (64 in flight), up = client
stream (client -> server), down = server stream (server -> client)."""
STREAM_PAYLOAD = 64


async def _py_stream_client(socket_path: str, mode: str, payload: int, duration: float, warmup: float) -> None:
    from google.protobuf.wrappers_pb2 import BytesValue, UInt64Value

    from impl.ttrpc import Client

    service = "ttrpcpeer.Streams"
    client = await Client.connect(socket_path)
    msg = BytesValue(value=bytes(payload)).SerializeToString()
    loop = asyncio.get_running_loop()
    began = loop.time()
    n = counted = 0
    start = 0.0

    def tick() -> bool:
        nonlocal n, counted, start
        n += 1
        now = loop.time()
        if not start and now - began >= warmup:
            start, counted = now, n
        return now - began < duration + warmup

    if mode == "echo":
        stream = await client.open_stream(service, "Bytes")
        for _ in range(64):
            await stream.send(msg)
        async for reply in stream:
            assert len(BytesValue.FromString(reply).value) == payload
            if not tick():
                break
            await stream.send(msg)
    elif mode == "up":
        stream = await client.open_stream(service, "Sink")
        while tick():
            await stream.send(msg)
        await stream.close_send()
        got = await stream.recv()
        assert got is not None and UInt64Value.FromString(got).value == n - 1  # the last tick sent nothing
    else:
        stream = await client.open_stream(
            service, "Source", UInt64Value(value=1 << 40).SerializeToString(), client_streaming=False
        )
        async for reply in stream:
            assert len(BytesValue.FromString(reply).value) == payload
            if not tick():
                break
    seconds = loop.time() - start
    print(json.dumps({"calls": n - counted, "errors": 0, "seconds": seconds, "calls_per_s": (n - counted) / seconds}))
    await client.close()


async def _py_stream_server(socket_path: str, payload: int) -> None:
    """The benchmark's half of ttrpcpeer.Streams (tests/go/.../peer12): Bytes, Sink, Source."""
    from collections.abc import AsyncIterator

    from google.protobuf.wrappers_pb2 import BytesValue, UInt64Value

    from impl.ttrpc import MethodSpec, Server, bidi_stream_handler, client_stream_handler, server_stream_handler

    async def echo(reqs: AsyncIterator[BytesValue]) -> AsyncIterator[BytesValue]:
        async for r in reqs:
            yield r

    async def sink(reqs: AsyncIterator[BytesValue]) -> UInt64Value:
        n = 0
        async for _ in reqs:
            n += 1
        return UInt64Value(value=n)

    async def source(req: UInt64Value) -> AsyncIterator[BytesValue]:
        msg = BytesValue(value=bytes(payload))
        for _ in range(req.value):
            yield msg

    server = Server()
    server.register_service(
        "ttrpcpeer.Streams",
        {
            "Bytes": bidi_stream_handler(MethodSpec("Bytes", BytesValue, BytesValue), echo),
            "Sink": client_stream_handler(MethodSpec("Sink", BytesValue, UInt64Value), sink),
            "Source": server_stream_handler(MethodSpec("Source", UInt64Value, BytesValue), source),
        },
    )
    await server.listen(socket_path)
    print("ready", flush=True)
    await server.wait_closed()


def _fmt(x: float) -> str:
    return f"{x:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=1.5, help="seconds measured per run")
    ap.add_argument("--warmup", type=float, default=0.3)
    ap.add_argument("--idle", type=int, default=500, metavar="N",
                    help="connections for the idle-cost rows (0: skip them)")
    ap.add_argument("--idle-only", action="store_true", help="only measure idle connection cost")
    ap.add_argument("--callers", type=int, nargs="+", default=list(CALLERS), help="unary rows: concurrent callers")
    ap.add_argument("--payloads", type=int, nargs="+", default=list(PAYLOADS), help="unary rows: payload bytes")
    ap.add_argument("--no-streams", dest="streams", action="store_false", help="skip the streaming rows")
    ap.add_argument("--streams-only", action="store_true", help="only the streaming rows")
    ap.add_argument("--uvloop", action="store_true", help="also run the Python peers under uvloop")
    ap.add_argument("--role", help=argparse.SUPPRESS)
    ap.add_argument("role_args", nargs="*", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.role:
        _run_role(opts.role, opts.role_args)
        return

    t0 = time.monotonic()
    me = [sys.executable, str(Path(__file__).resolve())]
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ttrpc-bench-")))
        peer = _go_build(tmp, "ttrpcpeer/cmd/peer")
        if opts.idle_only:
            print("\n".join(_idle_rows(peer, me, tmp, opts.idle, opts.rounds)))
            return
        if opts.streams_only:
            _print_stream_rows(_stream_rows(tmp, me, opts), opts.rounds, opts.duration)
            return
        grpcbench = _go_build(tmp, "ttrpcpeer/cmd/grpcbench")
        build_s = time.monotonic() - t0
        socks = {name: str(tmp / f"{name}.sock") for name in ("go", "py", "pyu", "grpcio", "gogrpc")}
        stack.enter_context(_server([str(peer), "bench-server", "-socket", socks["go"]]))
        stack.enter_context(_server([*me, "--role", "py-server", socks["py"]]))
        if opts.uvloop:
            stack.enter_context(_server([*me, "--role", "py-server-uvloop", socks["pyu"]]))
        stack.enter_context(_server([*me, "--role", "grpcio-server", socks["grpcio"]]))
        stack.enter_context(_server([str(grpcbench), "-serve", "-socket", socks["gogrpc"]]))

        def go_client(sock: str, c: int, p: int) -> list[str]:
            return [str(peer), "bench-client", "-socket", sock, "-concurrency", str(c), "-payload", str(p),
                    "-duration", str(opts.duration), "-warmup", str(opts.warmup)]

        def go_grpc_client(sock: str, c: int, p: int) -> list[str]:
            return [str(grpcbench), "-socket", sock, "-method", GRPC_METHOD, "-concurrency", str(c),
                    "-payload", str(p), "-duration", str(opts.duration), "-warmup", str(opts.warmup)]

        def py_role(role: str, sock: str, c: int, p: int) -> list[str]:
            return [*me, "--role", role, sock, str(c), str(p), str(opts.duration), str(opts.warmup)]

        pairs: dict[str, Callable[[int, int], list[str]]] = {
            "go-client/go-server": lambda c, p: go_client(socks["go"], c, p),
            "go-client/py-server": lambda c, p: go_client(socks["py"], c, p),
            "go-grpc-client/grpcio-server": lambda c, p: go_grpc_client(socks["grpcio"], c, p),
            "py-client/go-server": lambda c, p: py_role("py-client", socks["go"], c, p),
            "grpcio-client/go-grpc-server": lambda c, p: py_role("grpcio-client", socks["gogrpc"], c, p),
        }
        if opts.uvloop:
            pairs["go-client/py-server-uvloop"] = lambda c, p: go_client(socks["pyu"], c, p)
            pairs["py-client-uvloop/go-server"] = lambda c, p: py_role("py-client-uvloop", socks["go"], c, p)
        samples: dict[tuple[str, int, int], list[float]] = {}
        for r in range(opts.rounds):
            for c in opts.callers:
                for p in opts.payloads:
                    for name, argv in pairs.items():
                        samples.setdefault((name, c, p), []).append(_measure(argv(c, p)))
            print(f"round {r + 1}/{opts.rounds} done ({time.monotonic() - t0:.0f}s)", file=sys.stderr)

        idle = _idle_rows(peer, me, tmp, opts.idle, opts.rounds) if opts.idle else []
        stream_med = _stream_rows(tmp, me, opts) if opts.streams else {}

    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"\nttrpc unary echo, one connection, medians of {opts.rounds} rounds x {opts.duration}s "
          f"(calls/s; go build {build_s:.1f}s, total {time.monotonic() - t0:.0f}s)\n")
    print("| callers | payload | Go srv | Py srv | grpcio srv | Go cli | Py cli | grpcio cli "
          "| py-srv/go-srv | py-srv/grpcio-srv | py-cli/go-cli | py-cli/grpcio-cli |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in opts.callers:
        for p in opts.payloads:
            go_srv = med[("go-client/go-server", c, p)]
            py_srv = med[("go-client/py-server", c, p)]
            grpcio_srv = med[("go-grpc-client/grpcio-server", c, p)]
            py_cli = med[("py-client/go-server", c, p)]
            grpcio_cli = med[("grpcio-client/go-grpc-server", c, p)]
            print(f"| {c} | {p} B | {_fmt(go_srv)} | {_fmt(py_srv)} | {_fmt(grpcio_srv)} | {_fmt(go_srv)} "
                  f"| {_fmt(py_cli)} | {_fmt(grpcio_cli)} | {py_srv / go_srv:.2f} | {py_srv / grpcio_srv:.2f} "
                  f"| {py_cli / go_srv:.2f} | {py_cli / grpcio_cli:.2f} |")
    if opts.uvloop:
        print("\nThe same under uvloop (Python server and client; Go peers unchanged):\n")
        print("| callers | payload | Py srv uvloop | Py cli uvloop | uvloop-srv/go-srv | uvloop-cli/go-cli |")
        print("|---:|---:|---:|---:|---:|---:|")
        for c in opts.callers:
            for p in opts.payloads:
                go_srv = med[("go-client/go-server", c, p)]
                us = med[("go-client/py-server-uvloop", c, p)]
                uc = med[("py-client-uvloop/go-server", c, p)]
                print(f"| {c} | {p} B | {_fmt(us)} | {_fmt(uc)} | {us / go_srv:.2f} | {uc / go_srv:.2f} |")
    print("\nServers are driven by Go clients (ttrpc 1.1.1 / grpc-go); clients talk to Go servers. "
          "'Go cli' is the Go ttrpc client against the Go server (the same run as 'Go srv').")
    print("\nGoals at 16 callers:")
    for p in opts.payloads if 16 in opts.callers else ():
        go_r = med[("go-client/py-server", 16, p)] / med[("go-client/go-server", 16, p)]
        grpc_r = med[("go-client/py-server", 16, p)] / med[("go-grpc-client/grpcio-server", 16, p)]
        print(f"- {p} B: py-server/go-server {go_r:.2f} (goal >= {SERVER_GOAL_GO}: "
              f"{'met' if go_r >= SERVER_GOAL_GO else 'MISSED'}); py-server/grpcio-server {grpc_r:.2f} "
              f"(goal >= {SERVER_GOAL_GRPCIO}: {'met' if grpc_r >= SERVER_GOAL_GRPCIO else 'MISSED'})")
        cli_r = med[("py-client/go-server", 16, p)] / med[("go-client/go-server", 16, p)]
        print(f"  py-client/go-client {cli_r:.2f} (goal >= {CLIENT_GOAL_GO}: {'met' if cli_r >= CLIENT_GOAL_GO else 'MISSED'})")
    if stream_med:
        _print_stream_rows(stream_med, opts.rounds, opts.duration)
    if idle:
        print("\n".join(idle))


def _stream_rows(tmp: Path, me: list[str], opts: argparse.Namespace) -> dict[tuple[str, str], float]:
    """Messages/s over one stream per mode: servers under the Go 1.2.7 client,
    clients against the Go 1.2.7 server."""
    peer12 = _go_build(tmp, "ttrpcpeer/cmd/peer12", _ttrpc_1_2_gopath())
    p = str(STREAM_PAYLOAD)
    socks = {name: str(tmp / f"s-{name}.sock") for name in ("go", "py", "pyu")}
    samples: dict[tuple[str, str], list[float]] = {}
    with ExitStack() as stack:
        stack.enter_context(_server([str(peer12), "server", "-socket", socks["go"], "-payload", p]))
        stack.enter_context(_server([*me, "--role", "py-stream-server", socks["py"], p]))
        if opts.uvloop:
            stack.enter_context(_server([*me, "--role", "py-stream-server-uvloop", socks["pyu"], p]))
        for _ in range(opts.rounds):
            for mode in STREAM_MODES:
                def go_cli(sock: str) -> list[str]:
                    return [str(peer12), "bench-client", "-socket", sock, "-mode", mode, "-payload", p,
                            "-duration", str(opts.duration), "-warmup", str(opts.warmup)]

                def py_cli(role: str) -> list[str]:
                    return [*me, "--role", role, socks["go"], mode, p, str(opts.duration), str(opts.warmup)]

                runs = {"go/go": go_cli(socks["go"]), "go/py": go_cli(socks["py"]), "py/go": py_cli("py-stream-client")}
                if opts.uvloop:
                    runs["go/pyu"] = go_cli(socks["pyu"])
                    runs["pyu/go"] = py_cli("py-stream-client-uvloop")
                for name, argv in runs.items():
                    samples.setdefault((name, mode), []).append(_measure(argv))
    return {k: statistics.median(v) for k, v in samples.items()}


def _print_stream_rows(med: dict[tuple[str, str], float], rounds: int, duration: float) -> None:
    uv = any(k[0] == "go/pyu" for k in med)
    print(f"\nttrpc 1.2 streams, one stream, {STREAM_PAYLOAD} B BytesValue messages, medians of {rounds} rounds x "
          f"{duration}s (messages/s; Go peers are ttrpc 1.2.7)\n")
    head = "| mode | Go srv | Py srv | Go cli | Py cli | py-srv/go-srv | py-cli/go-cli |"
    if uv:
        head += " Py srv uvloop | Py cli uvloop | uvloop srv/go | uvloop cli/go |"
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for mode in STREAM_MODES:
        go, py, pyc = med[("go/go", mode)], med[("go/py", mode)], med[("py/go", mode)]
        row = f"| {mode} | {_fmt(go)} | {_fmt(py)} | {_fmt(go)} | {_fmt(pyc)} | {py / go:.2f} | {pyc / go:.2f} |"
        if uv:
            pu, pcu = med[("go/pyu", mode)], med[("pyu/go", mode)]
            row += f" {_fmt(pu)} | {_fmt(pcu)} | {pu / go:.2f} | {pcu / go:.2f} |"
        print(row)
    print(f"\nGoal: Python >= {STREAM_GOAL}x Go for both server and client.")


def _runner(uv: bool) -> Callable[[Coroutine[Any, Any, None]], None]:
    if uv:
        import uvloop

        return uvloop.run
    return asyncio.run


def _run_role(role: str, args: list[str]) -> None:
    if role == "py-server":
        asyncio.run(_py_server(args[0]))
    elif role == "py-server-uvloop":
        import uvloop

        uvloop.run(_py_server(args[0]))
    elif role == "grpcio-server":
        asyncio.run(_grpcio_server(args[0]))
    elif role in ("py-stream-server", "py-stream-server-uvloop"):
        run = _runner(role.endswith("uvloop"))
        run(_py_stream_server(args[0], int(args[1])))
    elif role in ("py-stream-client", "py-stream-client-uvloop"):
        sock, mode, p, d, w = args
        _runner(role.endswith("uvloop"))(_py_stream_client(sock, mode, int(p), float(d), float(w)))
    elif role in ("py-client-uvloop",):
        sock, c, p, d, w = args
        _runner(True)(_py_client(sock, int(c), int(p), float(d), float(w)))
    elif role in ("py-client", "grpcio-client"):
        sock, c, p, d, w = args
        fn = _py_client if role == "py-client" else _grpcio_client
        asyncio.run(fn(sock, int(c), int(p), float(d), float(w)))
    else:
        sys.exit(f"unknown role {role!r}")


if __name__ == "__main__":
    main()
