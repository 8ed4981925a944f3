"""Differential test: random well-formed calls get byte-identical replies from Go and Python.

Generated calls stay inside behaviour both servers define the same way (the
test service's own quirks are excluded: e.g. Go's JSON escaping in Metadata,
or Fail with code 0), so any difference is a ttrpc difference.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from google.protobuf import empty_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shimtypes.pb.ttrpc_pb2 import KeyValue, Request

from ._frames import HEADER, exchange, frame
from _loops import run
from ._peer import GoServer, py_server
from ._service import SERVICE, bytes_value, methods, string_value, uint64_value

pytestmark = pytest.mark.interop

Call = tuple[str, str, bytes, list[KeyValue]]

_names = st.text(min_size=1, max_size=30)
_lower = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=20)
_alnum = st.text(string.ascii_letters + string.digits, max_size=20)
_metadata = st.lists(st.builds(lambda k, v: KeyValue(key=k, value=v), _lower, _alnum), max_size=6)

_calls: st.SearchStrategy[Call] = st.one_of(
    st.builds(lambda b, md: (SERVICE, "Echo", bytes_value(b), md), st.binary(max_size=3000), _metadata),
    st.builds(
        lambda c, m: (SERVICE, "Fail", string_value(f"{c}:{m}"), []),
        st.integers(1, 16),
        st.text(max_size=200),
    ),
    st.builds(lambda md: (SERVICE, "Metadata", empty_pb2.Empty().SerializeToString(), md), _metadata),
    st.builds(
        lambda n: (SERVICE, "Big", uint64_value(n), []),
        st.integers(0, 20000),
    ),
    st.builds(lambda s: (s, "Echo", b"", []), _names.filter(lambda s: s != SERVICE)),
    st.builds(lambda m: (SERVICE, m, b"", []), _names.filter(lambda m: m not in methods())),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=st.lists(_calls, min_size=1, max_size=5), timeout_nano=st.sampled_from([0, 60 * 10**9]))
def test_random_calls_same_bytes(
    go_server: GoServer, sock_dir: Path, calls: list[Call], timeout_nano: int
) -> None:
    cases = []
    for i, (service, method, payload, md) in enumerate(calls):
        req = Request(service=service, method=method, payload=payload, timeout_nano=timeout_nano, metadata=md)
        cases.append((f"{i}", frame(2 * i + 1, req.SerializeToString()), 1))
    target = str(sock_dir / "py.sock")

    async def main() -> tuple[dict[str, list[bytes]], dict[str, list[bytes]]]:
        go = await exchange(go_server.target, cases)
        async with py_server(target, methods()):
            py = await exchange(target, cases)
        return go, py

    go, py = run(main())
    for i in range(len(calls)):
        assert HEADER.unpack(go[str(i)][0][:10])[1] == 2 * i + 1
        assert py[str(i)] == go[str(i)], calls[i]
