"""The cgroups metrics messages: containerd's field numbers, exact type URLs, round trips."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.any_pb2 import Any
from hypothesis import given
from hypothesis import strategies as st

from impl.shim.cgroups import (
    V1_METRICS_TYPE_URL,
    V2_METRICS_TYPE_URL,
    MetricsTypeError,
    metrics_any,
    metrics_from_any,
)
from shimtypes.pb import cgroups_v1_metrics_pb2 as v1
from shimtypes.pb import cgroups_v2_metrics_pb2 as v2

GOCODE = Path("/usr/share/gocode/src")
CGROUPS = GOCODE / "github.com/containerd/cgroups"
THEIR_PROTOS = {
    "io.containerd.cgroups.v1": "github.com/containerd/cgroups/stats/v1/metrics.proto",
    "io.containerd.cgroups.v2": "github.com/containerd/cgroups/v2/stats/metrics.proto",
}


@pytest.fixture(scope="module")
def theirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    protoc = shutil.which("protoc")
    assert protoc, "protoc missing: scripts/setup-system installs protobuf-compiler"
    assert CGROUPS.is_dir(), f"{CGROUPS} missing: scripts/setup-system installs golang-github-containerd-cgroups-dev"
    out = tmp_path_factory.mktemp("cgroups") / "cgroups.pb"
    subprocess.run(
        [protoc, f"-I{GOCODE}", f"-I{GOCODE / 'github.com/gogo/protobuf'}", "-I/usr/include",
         f"--descriptor_set_out={out}", *THEIR_PROTOS.values()],
        check=True,
    )
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    return {f.package: f for f in files}


def _table(fd: descriptor_pb2.FileDescriptorProto) -> dict[str, list[tuple[str, int, int, int, str]]]:
    return {
        m.name: sorted((f.name, f.number, f.type, f.label, f.type_name) for f in m.field)
        for m in fd.message_type
    }


@pytest.mark.parametrize("module", [v1, v2], ids=["v1", "v2"])
def test_field_tables_match_containerd_cgroups(
    module: object, theirs: dict[str, descriptor_pb2.FileDescriptorProto]
) -> None:
    ours = descriptor_pb2.FileDescriptorProto()
    getattr(module, "DESCRIPTOR").CopyToProto(ours)
    assert ours.package in THEIR_PROTOS
    mine, reference = _table(ours), _table(theirs[ours.package])
    assert "Metrics" in mine
    assert mine == reference


def test_type_urls_are_bare() -> None:
    a1 = metrics_any(v1.Metrics())
    a2 = metrics_any(v2.Metrics())
    assert a1.type_url == V1_METRICS_TYPE_URL == "io.containerd.cgroups.v1.Metrics"
    assert a2.type_url == V2_METRICS_TYPE_URL == "io.containerd.cgroups.v2.Metrics"
    # The name is the message's own full name, so CRI's registry resolves it.
    assert a1.type_url == v1.Metrics.DESCRIPTOR.full_name
    assert a2.type_url == v2.Metrics.DESCRIPTOR.full_name


_u64 = st.integers(min_value=0, max_value=(1 << 64) - 1)


@given(total=_u64, per_cpu=st.lists(_u64, max_size=8), usage=_u64, inactive=_u64, pids=_u64)
def test_v1_round_trip(total: int, per_cpu: list[int], usage: int, inactive: int, pids: int) -> None:
    m = v1.Metrics()
    m.cpu.usage.total = total
    m.cpu.usage.per_cpu.extend(per_cpu)
    m.memory.usage.usage = usage
    m.memory.total_inactive_file = inactive
    m.pids.current = pids
    back = metrics_from_any(Any.FromString(metrics_any(m).SerializeToString()))
    assert isinstance(back, v1.Metrics)
    assert back == m


@given(usec=_u64, usage=_u64, limit=_u64, anon=_u64, kills=_u64)
def test_v2_round_trip(usec: int, usage: int, limit: int, anon: int, kills: int) -> None:
    m = v2.Metrics()
    m.cpu.usage_usec = usec
    m.memory.usage, m.memory.usage_limit, m.memory.anon = usage, limit, anon
    m.memory_events.oom_kill = kills
    back = metrics_from_any(metrics_any(m))
    assert isinstance(back, v2.Metrics)
    assert back == m


def test_prefixed_url_is_read_but_foreign_any_is_named() -> None:
    packed = Any()
    packed.Pack(v2.Metrics(pids=v2.PidsStat(current=3)))
    assert packed.type_url == "type.googleapis.com/io.containerd.cgroups.v2.Metrics"
    back = metrics_from_any(packed)
    assert isinstance(back, v2.Metrics) and back.pids.current == 3
    with pytest.raises(MetricsTypeError, match="'containerd.events.TaskOOM'"):
        metrics_from_any(Any(type_url="containerd.events.TaskOOM"))
