"""ttrpc benchmark: unary echo over one unix-socket connection, side by side.

    python bench/ttrpc.py [--rounds 5] [--duration 1.5] [--uvloop] [--idle 500 | --idle-only]

In one run, with 1 and 16 concurrent callers and 0 B / 4 KiB payloads:
- servers under the same Go client: Go ttrpc 1.1.1 server vs the Python
  server (impl.ttrpc), and grpcio's asyncio server (driven by a Go gRPC client);
  the Go server once more with GOMAXPROCS=1, to show what one thread gives it;
- clients against Go servers: the Python client vs the Go ttrpc client, and
  grpcio's asyncio client (against a Go gRPC server).
Every peer runs in its own process (2 cores: one client, one server). Each
message is a BytesValue that the server decodes and re-encodes and the client
decodes. Rounds are interleaved (a row's Python and Go runs follow each
other, in alternating order), so a ratio is taken per round and the table
shows the median ratio and its range over rounds, beside median rates. Each
run also records the CPU time per call of the server and the client process:
on a shared machine the rates move with other load, the CPU cost much less.
Beside them, bare asyncio peers (this file's ``bare-*`` roles): just enough
code for this bench's traffic on the same event loop, with the same handler
and reply decoding, and none of a ttrpc implementation's checks (the bare
client even wakes its callers without a loop turn). Whatever impl.ttrpc
does on that loop costs at least as much, so their ratios to Go are the
ceiling of what impl.ttrpc can reach there.
Then 1.2 streams (messages/s over one stream, against Go ttrpc 1.2.7) and the
idle cost: server RSS growth per connection over 500 idle ones. The load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import os
import resource
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from typing import Any, NamedTuple
from contextlib import ExitStack, contextmanager
from pathlib import Path

from google.protobuf import wrappers_pb2

from impl._varint import varint
from impl.ttrpc._frame import HEADER, HEADER_SIZE
from impl.ttrpc._wire import encode_request_head

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


# -- the bare-asyncio reference: what the event loop alone allows ----------
#
# Not ttrpc implementations: each does only what this bench's traffic needs
# (split frames, slice the payload out of the one request shape the clients
# send, call the same handler, frame the reply; the client batches a loop
# turn's requests), with no checks, no streams, no errors. Whatever a real server or client on the same loop does costs at
# least this much, so their rates are a ceiling for impl.ttrpc on that loop.

_HEAD = encode_request_head(SERVICE, "Echo")


def _bare_payload(body: bytes, at: int, tag: int) -> bytes:
    """The bytes field ``tag`` that starts at ``at`` and ends ``body`` (b"" if
    ``body`` ends at ``at``): the only shape the bench's peers send."""
    if at == len(body):
        return b""
    n, i = body[at + 1], at + 2
    if n & 0x80:
        n, i = (n & 0x7F) | body[at + 2] << 7, at + 3
    if body[at] != tag or i + n != len(body):
        raise ValueError(f"bare peer: unexpected message {body[:32]!r}")
    return body[i:]


class _BareFrames(asyncio.BufferedProtocol):
    """Hands ``frames`` the whole frames of each read (a partial one waits for the next)."""

    def __init__(self) -> None:
        self.buffer = memoryview(bytearray(256 * 1024))
        self.tail = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        data = self.tail + bytes(self.buffer[:nbytes])
        pos, end = 0, len(data)
        frames: list[tuple[int, bytes]] = []
        while end - pos >= HEADER_SIZE:
            length, sid, _, _ = HEADER.unpack_from(data, pos)
            start = pos + HEADER_SIZE
            if end - start < length:
                break
            frames.append((sid, data[start : start + length]))
            pos = start + length
        self.tail = data[pos:]
        self.frames(frames)

    def frames(self, frames: list[tuple[int, bytes]]) -> None:
        raise NotImplementedError


async def _bare_server(socket_path: str) -> None:
    from impl.ttrpc import MethodContext
    from shimtypes import TTRPCMethodContext

    async def echo(ctx: TTRPCMethodContext, payload: bytes) -> bytes:
        return _echo_bytes(payload)

    class Server(_BareFrames):
        def frames(self, frames: list[tuple[int, bytes]]) -> None:
            out: list[bytes] = []
            for sid, body in frames:
                if not body.startswith(_HEAD):
                    raise ValueError(f"bare server: not an Echo request: {body[:32]!r}")
                coro = echo(MethodContext(SERVICE, "Echo", {}, None, None), _bare_payload(body, len(_HEAD), 0x1A))
                try:
                    coro.send(None)
                    raise RuntimeError("bare server: the handler suspended")
                except StopIteration as done:
                    reply: bytes = done.value
                response = b"\x12" + varint(len(reply)) + reply if reply else b""
                out.append(HEADER.pack(len(response), sid, 2, 0) + response)
            if out:
                self.transport.write(b"".join(out))

    loop = asyncio.get_running_loop()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(128)
    server = await loop.create_unix_server(Server, sock=listener)
    print("ready", flush=True)
    await server.serve_forever()


class _Wakeup:
    """A reply the bare client's caller awaits: resolving it runs the waiting
    Task's wake-up at once, not through a loop turn (a Future's callbacks
    go through ``call_soon``). Only what a Task asks of what it awaits."""

    __slots__ = ("_asyncio_future_blocking", "_loop", "_wake", "_context", "_value")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._asyncio_future_blocking = False
        self._loop = loop
        self._wake: Callable[[_Wakeup], object] | None = None
        self._context: contextvars.Context | None = None
        self._value: bytes | None = None

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def add_done_callback(self, fn: Callable[[_Wakeup], object], *, context: contextvars.Context | None = None) -> None:
        self._wake, self._context = fn, context

    def cancel(self, msg: object = None) -> bool:
        raise RuntimeError("bare client: calls are not cancelled")

    def result(self) -> bytes:
        assert self._value is not None
        return self._value

    def set_result(self, value: bytes) -> None:
        self._value = value
        wake, context = self._wake, self._context
        if wake is not None and context is not None:
            context.run(wake, self)

    def __await__(self) -> Generator[_Wakeup, None, bytes]:
        if self._value is None:
            self._asyncio_future_blocking = True
            yield self
        return self.result()


async def _bare_client(socket_path: str, callers: int, payload: int, duration: float, warmup: float) -> None:
    loop = asyncio.get_running_loop()
    waiting: dict[int, _Wakeup] = {}
    held: list[bytes] = []
    next_id = 1

    class Client(_BareFrames):
        def frames(self, frames: list[tuple[int, bytes]]) -> None:
            for sid, body in frames:
                waiting.pop(sid).set_result(_bare_payload(body, 0, 0x12))

        def flush(self) -> None:
            self.transport.write(b"".join(held))
            held.clear()

    _, proto = await loop.create_unix_connection(Client, socket_path)

    async def call(request: bytes) -> bytes:
        nonlocal next_id
        sid, next_id = next_id, next_id + 2
        body = _HEAD + (b"\x1a" + varint(len(request)) + request if request else b"")
        if not held:
            loop.call_soon(proto.flush)  # this loop turn's requests in one write
        held.append(HEADER.pack(len(body), sid, 1, 0) + body)
        reply = waiting[sid] = _Wakeup(loop)
        return await reply

    print(json.dumps(await _drive(call, callers, payload, duration, warmup)), flush=True)
    proto.transport.close()


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
def _server(args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """Run a server process until the block ends; wait for its "ready" line."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
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


class Sample(NamedTuple):
    """One client run: its rate, and the CPU time per call or message of the
    server process and of the client process (both from the kernel's
    accounting, so they do not depend on how busy the machine is)."""

    rate: float
    server_cpu: float
    client_cpu: float


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(args: list[str], server_pid: int, window: float) -> Sample:
    """Run a client to completion. CPU per call counts every call of the run:
    the client reports its measured ones, and warm-up is taken to run at the
    same rate (``window``: warm-up plus measured seconds)."""
    server0, client0 = _cpu_seconds(server_pid), _children_cpu()
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    server1, client1 = _cpu_seconds(server_pid), _children_cpu()
    if out.returncode != 0:
        raise RuntimeError(f"{args[:4]} failed ({out.returncode}): {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["errors"]:
        raise RuntimeError(f"{args[:4]}: {result['errors']} failed calls")
    rate = float(result["calls_per_s"])
    calls = rate * window
    return Sample(rate, (server1 - server0) / calls, (client1 - client0) / calls)


def _load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def _ratios(samples: dict[Any, list[Sample]], num: Any, den: Any) -> list[float]:
    """num/den rate per round: each round ran both within seconds of each other."""
    return [a.rate / b.rate for a, b in zip(samples[num], samples[den])]


def _ratio_cell(ratios: list[float]) -> str:
    """Median of the per-round ratios and their range."""
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}"
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"


def _rate(samples: list[Sample]) -> float:
    return statistics.median(s.rate for s in samples)


def _us(samples: list[Sample], server: bool) -> str:
    """Median CPU microseconds per call (or message)."""
    return f"{statistics.median(s.server_cpu if server else s.client_cpu for s in samples) * 1e6:.1f}"


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
    ap.add_argument("--rounds", type=int, default=5)
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
    load_before = _load()
    me = [sys.executable, str(Path(__file__).resolve())]
    window = opts.duration + opts.warmup
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ttrpc-bench-")))
        peer = _go_build(tmp, "ttrpcpeer/cmd/peer")
        if opts.idle_only:
            print("\n".join(_idle_rows(peer, me, tmp, opts.idle, opts.rounds)))
            return
        if opts.streams_only:
            _print_stream_rows(_stream_rows(tmp, me, opts), opts)
            print(f"\nLoad average (1, 5, 15 min): {load_before} before, {_load()} after.")
            return
        grpcbench = _go_build(tmp, "ttrpcpeer/cmd/grpcbench")
        build_s = time.monotonic() - t0
        socks = {
            name: str(tmp / f"{name}.sock") for name in ("go", "go1", "py", "pyu", "bare", "bareu", "grpcio", "gogrpc")
        }
        one_thread = dict(os.environ, GOMAXPROCS="1")
        procs = {
            "go": stack.enter_context(_server([str(peer), "bench-server", "-socket", socks["go"]])),
            "go1": stack.enter_context(_server([str(peer), "bench-server", "-socket", socks["go1"]], one_thread)),
            "py": stack.enter_context(_server([*me, "--role", "py-server", socks["py"]])),
            "bare": stack.enter_context(_server([*me, "--role", "bare-server", socks["bare"]])),
            "grpcio": stack.enter_context(_server([*me, "--role", "grpcio-server", socks["grpcio"]])),
            "gogrpc": stack.enter_context(_server([str(grpcbench), "-serve", "-socket", socks["gogrpc"]])),
        }
        if opts.uvloop:
            procs["pyu"] = stack.enter_context(_server([*me, "--role", "py-server-uvloop", socks["pyu"]]))
            procs["bareu"] = stack.enter_context(_server([*me, "--role", "bare-server-uvloop", socks["bareu"]]))

        def go_client(srv: str, c: int, p: int) -> list[str]:
            return [str(peer), "bench-client", "-socket", socks[srv], "-concurrency", str(c), "-payload", str(p),
                    "-duration", str(opts.duration), "-warmup", str(opts.warmup)]

        def go_grpc_client(srv: str, c: int, p: int) -> list[str]:
            return [str(grpcbench), "-socket", socks[srv], "-method", GRPC_METHOD, "-concurrency", str(c),
                    "-payload", str(p), "-duration", str(opts.duration), "-warmup", str(opts.warmup)]

        def py_role(role: str, srv: str, c: int, p: int) -> list[str]:
            return [*me, "--role", role, socks[srv], str(c), str(p), str(opts.duration), str(opts.warmup)]

        # name -> (server it talks to, argv for callers and payload)
        pairs: dict[str, tuple[str, Callable[[int, int], list[str]]]] = {
            "go-client/go-server": ("go", lambda c, p: go_client("go", c, p)),
            "go-client/py-server": ("py", lambda c, p: go_client("py", c, p)),
            "go-client/go1-server": ("go1", lambda c, p: go_client("go1", c, p)),
            "py-client/go-server": ("go", lambda c, p: py_role("py-client", "go", c, p)),
            "go-grpc-client/grpcio-server": ("grpcio", lambda c, p: go_grpc_client("grpcio", c, p)),
            "grpcio-client/go-grpc-server": ("gogrpc", lambda c, p: py_role("grpcio-client", "gogrpc", c, p)),
            "go-client/bare-server": ("bare", lambda c, p: go_client("bare", c, p)),
            "bare-client/go-server": ("go", lambda c, p: py_role("bare-client", "go", c, p)),
        }
        if opts.uvloop:
            pairs["go-client/py-server-uvloop"] = ("pyu", lambda c, p: go_client("pyu", c, p))
            pairs["py-client-uvloop/go-server"] = ("go", lambda c, p: py_role("py-client-uvloop", "go", c, p))
            pairs["go-client/bare-server-uvloop"] = ("bareu", lambda c, p: go_client("bareu", c, p))
            pairs["bare-client-uvloop/go-server"] = ("go", lambda c, p: py_role("bare-client-uvloop", "go", c, p))
        samples: dict[tuple[str, int, int], list[Sample]] = {}
        for r in range(opts.rounds):
            # Python and Go runs of a row follow each other; odd rounds reverse
            # the order, so neither side always goes first.
            order = list(pairs.items()) if r % 2 == 0 else list(reversed(pairs.items()))
            for c in opts.callers:
                for p in opts.payloads:
                    for name, (srv, argv) in order:
                        samples.setdefault((name, c, p), []).append(_measure(argv(c, p), procs[srv].pid, window))
            print(f"round {r + 1}/{opts.rounds} done ({time.monotonic() - t0:.0f}s, load {_load()})", file=sys.stderr)
        load_unary = _load()

        idle = _idle_rows(peer, me, tmp, opts.idle, opts.rounds) if opts.idle else []
        stream_samples = _stream_rows(tmp, me, opts) if opts.streams else {}

    def cell(name: str, c: int, p: int) -> str:
        return _fmt(_rate(samples[(name, c, p)]))

    def ratio(num: str, den: str, c: int, p: int) -> str:
        return _ratio_cell(_ratios(samples, (num, c, p), (den, c, p)))

    def cpu(name: str, c: int, p: int, server: bool) -> str:
        return _us(samples[(name, c, p)], server)

    print(f"\nttrpc unary echo, one connection, {opts.rounds} rounds x {opts.duration}s: rates are medians "
          f"(calls/s), ratios the median of the per-round ratios (min–max over rounds); CPU is µs per call "
          f"of the server process (server rows) or client process (client rows). "
          f"Go build {build_s:.1f}s, total {time.monotonic() - t0:.0f}s; load average {load_before} before, "
          f"{load_unary} after the unary rows.\n")
    print("Servers (driven by the Go ttrpc 1.1.1 client; grpcio by a grpc-go client):\n")
    print("| callers | payload | Go srv | Py srv | py/go | Go CPU | Py CPU | grpcio srv | py/grpcio "
          "| Go srv 1 thread | Go 1 thread/go | Go 1 thread CPU | bare srv | bare/go | bare CPU |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in opts.callers:
        for p in opts.payloads:
            print(f"| {c} | {p} B | {cell('go-client/go-server', c, p)} | {cell('go-client/py-server', c, p)} "
                  f"| {ratio('go-client/py-server', 'go-client/go-server', c, p)} "
                  f"| {cpu('go-client/go-server', c, p, True)} | {cpu('go-client/py-server', c, p, True)} "
                  f"| {cell('go-grpc-client/grpcio-server', c, p)} "
                  f"| {ratio('go-client/py-server', 'go-grpc-client/grpcio-server', c, p)} "
                  f"| {cell('go-client/go1-server', c, p)} "
                  f"| {ratio('go-client/go1-server', 'go-client/go-server', c, p)} "
                  f"| {cpu('go-client/go1-server', c, p, True)} | {cell('go-client/bare-server', c, p)} "
                  f"| {ratio('go-client/bare-server', 'go-client/go-server', c, p)} "
                  f"| {cpu('go-client/bare-server', c, p, True)} |")
    print("\nClients (against the Go ttrpc 1.1.1 server; grpcio's against a grpc-go server; "
          "'Go cli' is the same run as 'Go srv'):\n")
    print("| callers | payload | Go cli | Py cli | py/go | Go CPU | Py CPU | grpcio cli | py/grpcio "
          "| bare cli | bare/go | bare CPU |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in opts.callers:
        for p in opts.payloads:
            print(f"| {c} | {p} B | {cell('go-client/go-server', c, p)} | {cell('py-client/go-server', c, p)} "
                  f"| {ratio('py-client/go-server', 'go-client/go-server', c, p)} "
                  f"| {cpu('go-client/go-server', c, p, False)} | {cpu('py-client/go-server', c, p, False)} "
                  f"| {cell('grpcio-client/go-grpc-server', c, p)} "
                  f"| {ratio('py-client/go-server', 'grpcio-client/go-grpc-server', c, p)} "
                  f"| {cell('bare-client/go-server', c, p)} "
                  f"| {ratio('bare-client/go-server', 'go-client/go-server', c, p)} "
                  f"| {cpu('bare-client/go-server', c, p, False)} |")
    if opts.uvloop:
        print("\nThe same under uvloop (Python server and client; Go peers unchanged):\n")
        print("| callers | payload | Py srv uvloop | uvloop-srv/go | Py srv CPU | Py cli uvloop | uvloop-cli/go "
              "| Py cli CPU | bare srv uvloop/go | bare cli uvloop/go |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in opts.callers:
            for p in opts.payloads:
                us, uc = "go-client/py-server-uvloop", "py-client-uvloop/go-server"
                print(f"| {c} | {p} B | {cell(us, c, p)} | {ratio(us, 'go-client/go-server', c, p)} "
                      f"| {cpu(us, c, p, True)} | {cell(uc, c, p)} | {ratio(uc, 'go-client/go-server', c, p)} "
                      f"| {cpu(uc, c, p, False)} "
                      f"| {ratio('go-client/bare-server-uvloop', 'go-client/go-server', c, p)} "
                      f"| {ratio('bare-client-uvloop/go-server', 'go-client/go-server', c, p)} |")
    print("\nGoals at 16 callers (median per-round ratio):")
    for p in opts.payloads if 16 in opts.callers else ():
        go_r = statistics.median(_ratios(samples, ("go-client/py-server", 16, p), ("go-client/go-server", 16, p)))
        grpc_r = statistics.median(
            _ratios(samples, ("go-client/py-server", 16, p), ("go-grpc-client/grpcio-server", 16, p))
        )
        print(f"- {p} B: py-server/go-server {go_r:.2f} (goal >= {SERVER_GOAL_GO}: "
              f"{'met' if go_r >= SERVER_GOAL_GO else 'MISSED'}); py-server/grpcio-server {grpc_r:.2f} "
              f"(goal >= {SERVER_GOAL_GRPCIO}: {'met' if grpc_r >= SERVER_GOAL_GRPCIO else 'MISSED'})")
        cli_r = statistics.median(_ratios(samples, ("py-client/go-server", 16, p), ("go-client/go-server", 16, p)))
        print(f"  py-client/go-client {cli_r:.2f} (goal >= {CLIENT_GOAL_GO}: {'met' if cli_r >= CLIENT_GOAL_GO else 'MISSED'})")
        bare_s = statistics.median(_ratios(samples, ("go-client/bare-server", 16, p), ("go-client/go-server", 16, p)))
        bare_c = statistics.median(_ratios(samples, ("bare-client/go-server", 16, p), ("go-client/go-server", 16, p)))
        print(f"  ceiling on this loop (the bare asyncio peers): server {bare_s:.2f}, client {bare_c:.2f}")
    if stream_samples:
        _print_stream_rows(stream_samples, opts)
    if idle:
        print("\n".join(idle))
    print(f"\nLoad average (1, 5, 15 min): {load_before} before, {_load()} after.")


def _stream_rows(tmp: Path, me: list[str], opts: argparse.Namespace) -> dict[tuple[str, str], list[Sample]]:
    """Messages/s over one stream per mode: servers under the Go 1.2.7 client,
    clients against the Go 1.2.7 server."""
    peer12 = _go_build(tmp, "ttrpcpeer/cmd/peer12", _ttrpc_1_2_gopath())
    p = str(STREAM_PAYLOAD)
    window = opts.duration + opts.warmup
    socks = {name: str(tmp / f"s-{name}.sock") for name in ("go", "py", "pyu")}
    samples: dict[tuple[str, str], list[Sample]] = {}
    with ExitStack() as stack:
        procs = {
            "go": stack.enter_context(_server([str(peer12), "server", "-socket", socks["go"], "-payload", p])),
            "py": stack.enter_context(_server([*me, "--role", "py-stream-server", socks["py"], p])),
        }
        if opts.uvloop:
            procs["pyu"] = stack.enter_context(_server([*me, "--role", "py-stream-server-uvloop", socks["pyu"], p]))
        for r in range(opts.rounds):
            for mode in STREAM_MODES:
                def go_cli(srv: str) -> list[str]:
                    return [str(peer12), "bench-client", "-socket", socks[srv], "-mode", mode, "-payload", p,
                            "-duration", str(opts.duration), "-warmup", str(opts.warmup)]

                def py_cli(role: str) -> list[str]:
                    return [*me, "--role", role, socks["go"], mode, p, str(opts.duration), str(opts.warmup)]

                runs = {"go/go": ("go", go_cli("go")), "go/py": ("py", go_cli("py")),
                        "py/go": ("go", py_cli("py-stream-client"))}
                if opts.uvloop:
                    runs["go/pyu"] = ("pyu", go_cli("pyu"))
                    runs["pyu/go"] = ("go", py_cli("py-stream-client-uvloop"))
                order = list(runs.items()) if r % 2 == 0 else list(reversed(runs.items()))
                for name, (srv, argv) in order:
                    samples.setdefault((name, mode), []).append(_measure(argv, procs[srv].pid, window))
            print(f"stream round {r + 1}/{opts.rounds} done (load {_load()})", file=sys.stderr)
    return samples


def _print_stream_rows(samples: dict[tuple[str, str], list[Sample]], opts: argparse.Namespace) -> None:
    uv = any(k[0] == "go/pyu" for k in samples)
    print(f"\nttrpc 1.2 streams, one stream, {STREAM_PAYLOAD} B BytesValue messages, {opts.rounds} rounds x "
          f"{opts.duration}s (messages/s, medians; ratios: median of per-round ratios, min–max; CPU: µs per "
          f"message of the server process, or of the client process for client columns; Go peers are "
          f"ttrpc 1.2.7)\n")
    head = "| mode | Go srv | Py srv | py/go srv | Go srv CPU | Py srv CPU | Py cli | py/go cli | Go cli CPU | Py cli CPU |"
    if uv:
        head += " Py srv uvloop | uvloop/go srv | Py cli uvloop | uvloop/go cli |"
    print(head)
    print("|---" + "|---:" * (head.count("|") - 2) + "|")
    for mode in STREAM_MODES:
        go, py, pyc = samples[("go/go", mode)], samples[("go/py", mode)], samples[("py/go", mode)]
        row = (f"| {mode} | {_fmt(_rate(go))} | {_fmt(_rate(py))} "
               f"| {_ratio_cell(_ratios(samples, ('go/py', mode), ('go/go', mode)))} "
               f"| {_us(go, True)} | {_us(py, True)} | {_fmt(_rate(pyc))} "
               f"| {_ratio_cell(_ratios(samples, ('py/go', mode), ('go/go', mode)))} "
               f"| {_us(go, False)} | {_us(pyc, False)} |")
        if uv:
            row += (f" {_fmt(_rate(samples[('go/pyu', mode)]))} "
                    f"| {_ratio_cell(_ratios(samples, ('go/pyu', mode), ('go/go', mode)))} "
                    f"| {_fmt(_rate(samples[('pyu/go', mode)]))} "
                    f"| {_ratio_cell(_ratios(samples, ('pyu/go', mode), ('go/go', mode)))} |")
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
    elif role in ("bare-server", "bare-server-uvloop"):
        _runner(role.endswith("uvloop"))(_bare_server(args[0]))
    elif role in ("bare-client", "bare-client-uvloop"):
        sock, c, p, d, w = args
        _runner(role.endswith("uvloop"))(_bare_client(sock, int(c), int(p), float(d), float(w)))
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
