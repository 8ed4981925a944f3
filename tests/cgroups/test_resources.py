"""Update's LinuxResources JSON: checked key by key, turned into runc update's argv and stdin."""

from __future__ import annotations

import json

import pytest
from google.protobuf.any_pb2 import Any
from hypothesis import given
from hypothesis import strategies as st

from impl.shim.cgroups import LINUX_RESOURCES_TYPE_URL, ResourcesError, parse_linux_resources, runc_update

CRI_UPDATE = {
    "memory": {"limit": 268435456, "swap": 268435456},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": ""},
    "unified": {"memory.high": "200000000"},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
}


def _any(value: object) -> Any:
    return Any(type_url=LINUX_RESOURCES_TYPE_URL, value=json.dumps(value).encode())


def test_cri_update_becomes_runc_update() -> None:
    update = runc_update("ctr1", _any(CRI_UPDATE))
    assert update.args == ("update", "--resources", "-", "ctr1")
    assert json.loads(update.stdin) == CRI_UPDATE


def test_type_url_is_exact() -> None:
    assert LINUX_RESOURCES_TYPE_URL == "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"
    with pytest.raises(ResourcesError, match="'example.com/Other'"):
        parse_linux_resources(Any(type_url="example.com/Other", value=b"{}"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"memory": {"limit": "256M"}}, "memory.limit: expected int64, got str"),
        ({"cpu": {"shares": -1}}, "cpu.shares: -1 is out of range for uint64"),
        ({"cpu": {"quota": True}}, "cpu.quota: expected int64, got bool"),
        ({"cpu": {"quota": 1.5}}, "cpu.quota: expected int64, got float"),
        ({"pids": 5}, "pids: expected an object, got int"),
        ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": "x"}]}},
         r"blockIO.throttleReadBpsDevice\[0\].rate: expected uint64"),
        ({"devices": [{"allow": "yes"}]}, r"devices\[0\].allow: expected bool"),
        ({"unified": {"memory.max": 5}}, "unified.memory.max: expected string, got int"),
        ({"rdma": {"mlx5_0": {"hcaHandles": 1 << 32}}}, "rdma.mlx5_0.hcaHandles: 4294967296 is out of range"),
        ([], "expected a JSON object, got list"),
    ],
)
def test_bad_field_is_named(value: object, message: str) -> None:
    with pytest.raises(ResourcesError, match=message):
        runc_update("c", _any(value))


def test_not_json() -> None:
    with pytest.raises(ResourcesError, match="resources: not JSON"):
        parse_linux_resources(b"{memory")


def test_unknown_keys_and_nulls_pass_through() -> None:
    value = {"memory": {"limit": 1, "futureKnob": "x"}, "cpu": None, "newSection": {"a": 1}}
    assert parse_linux_resources(json.dumps(value).encode()) == value


_i64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
_u64 = st.integers(min_value=0, max_value=(1 << 64) - 1)
resources = st.fixed_dictionaries(
    {},
    optional={
        "memory": st.fixed_dictionaries({}, optional={"limit": _i64, "swap": _i64, "disableOOMKiller": st.booleans()}),
        "cpu": st.fixed_dictionaries({}, optional={"shares": _u64, "quota": _i64, "cpus": st.text(max_size=10)}),
        "pids": st.fixed_dictionaries({"limit": _i64}),
        "unified": st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
    },
)


@given(resources)
def test_valid_resources_round_trip(value: dict[str, object]) -> None:
    update = runc_update("c", _any(value))
    assert json.loads(update.stdin) == value


@given(st.binary(max_size=100))
def test_any_bytes_parse_or_raise_resources_error(data: bytes) -> None:
    try:
        parse_linux_resources(data)
    except ResourcesError:
        pass
