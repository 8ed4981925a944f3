"""The exec's process spec handed to runc: the request's ``terminal`` wins over the spec's (Go shim semantics)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impl import errdefs
from impl.pyrunc._ops import exec_spec

_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@given(
    process=st.dictionaries(st.text(max_size=8).filter(lambda k: k != "terminal"), _values, max_size=5),
    in_spec=st.none() | st.booleans(),
    requested=st.booleans(),
)
def test_terminal_follows_the_request_and_nothing_else_changes(
    process: dict[str, object], in_spec: bool | None, requested: bool
) -> None:
    if in_spec is not None:
        process = {**process, "terminal": in_spec}
    out = json.loads(exec_spec(json.dumps(process).encode(), requested, "e1"))
    assert bool(out.get("terminal", False)) is requested
    assert {k: v for k, v in out.items() if k != "terminal"} == {k: v for k, v in process.items() if k != "terminal"}


def test_the_container_process_spec_with_a_terminal_request() -> None:
    """containerd's TestContainerExecLargeOutputWithTTY: the container's spec (no terminal), Exec(terminal=true)."""
    spec = json.dumps({"args": ["sh", "-c", "seq 3"], "cwd": "/", "terminal": False}).encode()
    assert json.loads(exec_spec(spec, True, "e1"))["terminal"] is True
    assert exec_spec(spec, False, "e1") == spec  # unchanged when they agree


@pytest.mark.parametrize("spec", [b"{not json", b"[1, 2]", b""])
def test_a_bad_spec_is_named(spec: bytes) -> None:
    with pytest.raises(errdefs.InvalidArgument, match="exec 'e7': process spec"):
        exec_spec(spec, True, "e7")
