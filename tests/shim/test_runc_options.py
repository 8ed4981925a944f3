"""pyrunc's runtime options: decoded as containerd's ``containerd.runc.v1.Options`` for any value,
and ``ShimCgroup`` honoured by the serving shim on a real cgroup v1 tree."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from google.protobuf.any_pb2 import Any as AnyPb
from hypothesis import given
from hypothesis import strategies as st

from impl.pyrunc._options import CREATE_OPTIONS_TYPE, OPTIONS_TYPE, RuncOptions
from shimtypes.pb.runc_options_pb2 import Options

from .conftest import PYRUNC, Bundle, connect, terminate

U32 = st.integers(0, 2**32 - 1)
TEXT = st.text(max_size=20)


@given(
    st.builds(
        Options,
        no_pivot_root=st.booleans(), no_new_keyring=st.booleans(), shim_cgroup=TEXT, io_uid=U32, io_gid=U32,
        binary_name=TEXT, root=TEXT, criu_path=TEXT, systemd_cgroup=st.booleans(), criu_image_path=TEXT,
        criu_work_path=TEXT,
    ),  # fmt: skip
    st.sampled_from([OPTIONS_TYPE, "type.googleapis.com/" + OPTIONS_TYPE]),
)
def test_any_options_message_decodes_field_for_field(message: Options, type_url: str) -> None:
    got = RuncOptions.from_any((type_url, message.SerializeToString()))
    for field in Options.DESCRIPTOR.fields:
        assert getattr(got, field.name) == getattr(message, field.name), field.name


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, value: bool | int | str) -> bytes:
    if isinstance(value, str):
        data = value.encode()
        return _varint(number << 3 | 2) + _varint(len(data)) + data
    return _varint(number << 3) + _varint(int(value))


@given(
    st.fixed_dictionaries({
        "no_pivot_root": st.booleans(), "no_new_keyring": st.booleans(), "shim_cgroup": TEXT, "io_uid": U32,
        "io_gid": U32, "criu_work_path": TEXT, "criu_image_path": TEXT,
    }),
    st.lists(TEXT, max_size=3),
    st.booleans(),
)  # fmt: skip
def test_legacy_create_options_decode_the_shared_fields(
    values: dict[str, bool | int | str], namespaces: list[str], flag: bool
) -> None:
    """containerd 1.x's ``runctypes.CreateOptions`` (runc.proto field table), sent by ``WithShimCgroup`` to non-runc runtimes."""
    numbers = {"no_pivot_root": 1, "no_new_keyring": 8, "shim_cgroup": 9, "io_uid": 10, "io_gid": 11,
               "criu_work_path": 12, "criu_image_path": 13}  # fmt: skip
    ignored = [_field(2, flag), _field(3, flag), _field(4, flag), _field(5, flag), _field(7, "cgroupfs")]
    ignored += [_field(6, ns) for ns in namespaces]  # repeated empty_namespaces
    wire = b"".join([*ignored, *(_field(numbers[name], v) for name, v in values.items())])
    got = RuncOptions.from_any(("type.googleapis.com/" + CREATE_OPTIONS_TYPE, wire))
    assert got == RuncOptions(**values)


def test_other_option_types_are_the_defaults() -> None:
    assert RuncOptions.from_any(("containerd.runhcs.v1.Options", b"\x08\x01")) == RuncOptions()
    assert RuncOptions.from_any(None) == RuncOptions()
    with pytest.raises(ValueError, match="binary_name"):
        RuncOptions.from_any((OPTIONS_TYPE, b"\x30\x01"))  # field 6 as a varint


V1 = Path("/sys/fs/cgroup")


def _own_cgroups(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/cgroup") as f:
        return {controllers: path for _, controllers, path in (line.rstrip("\n").split(":", 2) for line in f)}


@pytest.mark.skipif(not (V1 / "pids").is_dir() or os.geteuid() != 0, reason="needs root and cgroup v1 (pids)")
@pytest.mark.parametrize("serving", ["fork", "exec"])
def test_serving_shim_joins_the_shim_cgroup(bundle: Bundle, serving: str) -> None:
    name = f"/shimtypes-shimcg-{uuid.uuid4().hex[:8]}"
    made = [V1 / c / name.lstrip("/") for c in ("pids", "memory") if (V1 / c).is_dir()]
    for d in made:
        d.mkdir()
    pid = 0
    try:
        options = AnyPb(type_url=OPTIONS_TYPE, value=Options(shim_cgroup=name).SerializeToString())
        proc = subprocess.run(
            [PYRUNC, *bundle.flags(), "start"],
            cwd=bundle.path,
            env={**bundle.env, "SHIMTYPES_ZYGOTE": "exec" if serving == "exec" else "0"},
            input=options.SerializeToString(),
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        pid = connect(proc.stdout.decode(), bundle.id).shim_pid
        cgroups = _own_cgroups(pid)
        assert cgroups["pids"] == name
        if (V1 / "memory").is_dir():
            assert cgroups["memory"] == name
        assert str(pid) in (V1 / "pids" / name.lstrip("/") / "cgroup.procs").read_text().split()
    finally:
        if pid:
            terminate(pid)
        for d in made:
            d.rmdir()
