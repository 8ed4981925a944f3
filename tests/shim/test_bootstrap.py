"""containerd 2.x at the shim's door: ``start``'s stdin (options ``Any`` or 2.3's ``BootstrapParams``),
the answer each caller accepts, ``-info``, and task API v3 served beside v2.

The classifier is checked on every ``Any`` and every ``BootstrapParams``
(hypothesis, encoded by the real protobuf library); the rest runs the real
pyrunc program the way containerd does.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from google.protobuf.any_pb2 import Any as AnyPb
from hypothesis import assume, given
from hypothesis import strategies as st

from impl.shim import SOCKET_DIR
from impl.shim._bootstrap import (
    StdinError,
    encode_bootstrap_result,
    encode_runtime_info,
    parse_start_stdin,
    read_options_file,
)
from impl.ttrpc import Client
from shimtypes.pb.bootstrap_pb2 import BootstrapParams, BootstrapResult, Extension
from shimtypes.pb.runc_options_pb2 import Options as RuncOptions
from shimtypes.pb.runtime_info_pb2 import RuntimeInfo
from shimtypes.pb.task_pb2 import ConnectRequest, ConnectResponse

from .conftest import PYRUNC, Bundle, sock_path, terminate

IDENT = st.from_regex(r"\A[A-Za-z0-9]{1,8}(?:[._-][A-Za-z0-9]{1,8}){0,3}\Z")
TEXT = st.text(max_size=40)


@given(id=IDENT, namespace=IDENT, type_url=TEXT, value=st.binary(max_size=64))
def test_any_options_are_read_as_options(id: str, namespace: str, type_url: str, value: bytes) -> None:
    # Identical bytes cannot be told apart: the one ambiguous case is an Any
    # whose type URL is this very container id and whose value is the namespace.
    assume(not (type_url == id and value == namespace.encode()))
    data = AnyPb(type_url=type_url, value=value).SerializeToString()
    got = parse_start_stdin(data, id, namespace)
    assert not got.bootstrap
    assert got.options == ((type_url, value) if data else None)  # an empty Any is no stdin at all


@given(
    id=IDENT,
    namespace=IDENT,
    level=st.sampled_from([0, -4, -8, 4, 8]),
    strings=st.lists(TEXT, min_size=4, max_size=4),
    extensions=st.lists(st.tuples(TEXT, st.binary(max_size=32)), max_size=3),
    socket_dir=st.none() | TEXT,
)
def test_bootstrap_params_are_read_as_bootstrap(
    id: str,
    namespace: str,
    level: int,
    strings: list[str],
    extensions: list[tuple[str, bytes]],
    socket_dir: str | None,
) -> None:
    params = BootstrapParams(
        instance_id=id,
        namespace=namespace,
        log_level=level,  # type: ignore[arg-type]
        containerd_version=strings[0],
        containerd_ttrpc_address=strings[1],
        containerd_grpc_address=strings[2],
        containerd_binary=strings[3],
        extensions=[Extension(value=AnyPb(type_url=t, value=v)) for t, v in extensions],
    )
    if socket_dir is not None:
        params.socket_dir = socket_dir
    got = parse_start_stdin(params.SerializeToString(), id, namespace)
    assert got.bootstrap
    assert got.extensions == tuple(extensions)
    assert got.options == (extensions[0] if extensions else None)
    assert got.socket_dir == (socket_dir or "")


def test_params_for_another_instance_are_refused_not_taken_for_options() -> None:
    params = BootstrapParams(instance_id="other", namespace="ns", containerd_version="2.3.0")
    with pytest.raises(StdinError, match="another instance"):
        parse_start_stdin(params.SerializeToString(), "mine", "ns")


@given(st.binary(max_size=64))
def test_any_bytes_are_options_bootstrap_or_one_stdin_error(data: bytes) -> None:
    try:
        parse_start_stdin(data, "c1", "default")
    except StdinError:
        pass


def test_encoders_match_the_protobuf_definitions() -> None:
    result = BootstrapResult.FromString(encode_bootstrap_result(3, "unix:///run/x"))
    assert (result.version, result.address, result.protocol) == (3, "unix:///run/x", "ttrpc")
    options = AnyPb(type_url="containerd.runc.v1.Options", value=b"\x08\x01").SerializeToString()
    info = RuntimeInfo.FromString(encode_runtime_info("io.containerd.pyrunc.v1", "0.1.0", options=options))
    assert (info.name, info.version.version) == ("io.containerd.pyrunc.v1", "0.1.0")
    assert info.options.type_url == "containerd.runc.v1.Options" and info.options.value == b"\x08\x01"




def _pyrunc(b: Bundle, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> bytes:
    proc = subprocess.run(
        [PYRUNC, *args],
        cwd=b.path,
        env={**b.env, "SHIMTYPES_ZYGOTE": "0", **(env or {})},
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


def test_info_prints_runtime_info_without_asyncio(bundle: Bundle) -> None:
    options = AnyPb(type_url="containerd.runc.v1.Options", value=RuncOptions(binary_name="runc").SerializeToString())
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", PYRUNC, "-info"],
        input=options.SerializeToString(),
        capture_output=True,
        env=bundle.env,
        timeout=30,
        check=True,
    )
    info = RuntimeInfo.FromString(proc.stdout)
    assert info.name == "io.containerd.pyrunc.v1" and info.version.version
    assert info.options == options
    imported = {line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines()}
    assert "asyncio" not in imported and "google.protobuf" not in imported
    empty = subprocess.run([PYRUNC, "-info"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=True)
    assert not RuntimeInfo.FromString(empty.stdout).HasField("options")


async def _connect_as(path: str, service: str, id: str) -> ConnectResponse:
    client = await Client.connect(path)
    try:
        reply = await client.call(service, "Connect", ConnectRequest(id=id).SerializeToString(), timeout=5)
        return ConnectResponse.FromString(reply)
    finally:
        await client.close()


def test_start_answers_each_caller_in_its_form_and_serves_v2_and_v3(bundle: Bundle) -> None:
    options = RuncOptions(root="/run/containerd/runc-x").SerializeToString()
    params = BootstrapParams(
        instance_id=bundle.id,
        namespace=bundle.namespace,
        containerd_version="2.3.0",
        extensions=[Extension(value=AnyPb(type_url="containerd.runc.v1.Options", value=options))],
    )
    out = _pyrunc(bundle, *bundle.flags(), "start", stdin=params.SerializeToString())
    result = BootstrapResult.FromString(out)
    assert (result.version, result.protocol) == (2, "ttrpc")
    assert result.address == (bundle.path / "address").read_text()
    assert read_options_file(str(bundle.path)) == ("containerd.runc.v1.Options", options)
    path = sock_path(result.address)
    v2 = asyncio.run(_connect_as(path, "containerd.task.v2.Task", bundle.id))
    v3 = asyncio.run(_connect_as(path, "containerd.task.v3.Task", bundle.id))
    assert v2.shim_pid == v3.shim_pid > 0
    # A 1.6-2.2 caller (the options Any, or nothing) gets the bare address of the same shim.
    plain = _pyrunc(bundle, *bundle.flags(), "start", stdin=AnyPb(type_url="x", value=options).SerializeToString())
    assert plain.decode() == result.address
    assert _pyrunc(bundle, *bundle.flags(), "start").decode() == result.address
    announced = _pyrunc(bundle, *bundle.flags(), "start", env={"SHIMTYPES_SHIM_VERSION": "3"})
    assert announced.decode() == f'{{"version":3,"address":"{result.address}","protocol":"ttrpc"}}'
    terminate(v2.shim_pid)
    assert not os.path.exists(path) and os.path.isdir(SOCKET_DIR)
