"""Task API input: every id as containerd's identifiers package, request paths absolute and clean.

The table holds containerd's identifier grammar by example; the wire test
sends hostile ids and paths to a real serving pyrunc and expects
INVALID_ARGUMENT for each (never UNKNOWN, never a lookup).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impl import errdefs
from impl.shim._identifiers import validate_id, validate_path, validate_stdio
from impl.ttrpc import Client, Code, TaskClient
from shimtypes.pb import task_pb2 as task

from .conftest import Bundle, serving_pyrunc, statuses

VALID = ["a", "0", "foo", "foo.bar", "foo-bar", "foo_bar", "a.b-c_d", "A9", "x" * 76, "exec-1.2"]
INVALID = ["", ".", "..", ".foo", "foo.", "foo..bar", "foo.-bar", "-foo", "foo/bar", "../x", "a b",
           "a\nb", "a\0b", "é", "x" * 77, "foo:bar", "foo\tbar"]  # fmt: skip


@pytest.mark.parametrize("value", VALID)
def test_containerd_identifiers_are_accepted(value: str) -> None:
    assert validate_id(value, "id") == value


@pytest.mark.parametrize("value", INVALID)
def test_anything_else_is_invalid_argument_naming_it(value: str) -> None:
    with pytest.raises(errdefs.InvalidArgument, match="exec id"):
        validate_id(value, "exec id")


@given(st.text(max_size=90))
def test_an_accepted_id_is_a_safe_file_name_component(value: str) -> None:
    try:
        validate_id(value, "id")
    except errdefs.InvalidArgument:
        return
    assert 0 < len(value) <= 76 and value not in (".", "..")
    assert not {"/", "\0", "\n"} & set(value) and value.isascii()


@pytest.mark.parametrize("path", ["rel/bundle", "/a/../b", "/a\0b", "/a\nb", ""])
def test_paths_must_be_absolute_and_clean(path: str) -> None:
    with pytest.raises(errdefs.InvalidArgument, match="bundle"):
        validate_path(path, "bundle")


def test_stdio_is_empty_an_absolute_fifo_or_file_uri() -> None:
    for ok in ("", "/run/containerd/fifo/x/stdout", "file:///var/log/x"):
        assert validate_stdio(ok, "stdout") == ok
    for bad in ("fifo", "binary:///bin/logger", "file://rel", "/a\0b"):
        with pytest.raises(errdefs.InvalidArgument, match="stdout"):
            validate_stdio(bad, "stdout")


async def _codes(path: str, b: Bundle) -> dict[str, Code]:
    client = await Client.connect(path)
    t = TaskClient(client)
    calls: dict[str, Coroutine[Any, Any, object]] = {
        f"exec {bad!r}": t.exec(task.ExecProcessRequest(id=b.id, exec_id=bad), timeout=10)
        for bad in ("a\0b", "a\nb", "../../x", "x/y", "x" * 77)
    }
    calls["exec, valid id, no task"] = t.exec(task.ExecProcessRequest(id=b.id, exec_id="e1"), timeout=10)
    calls["state, exec id with NUL"] = t.state(task.StateRequest(id=b.id, exec_id="a\0"), timeout=10)
    calls["kill, container id with newline"] = t.kill(task.KillRequest(id="c\n1", signal=9), timeout=10)
    calls["create, relative bundle"] = t.create(task.CreateTaskRequest(id=b.id, bundle="rel"), timeout=10)
    calls["create, stdout with NUL"] = t.create(
        task.CreateTaskRequest(id=b.id, bundle=str(b.path), stdout="/tmp/a\0b"), timeout=10
    )
    try:
        return {name: code for name, (code, _) in (await statuses(calls)).items()}
    finally:
        await client.close()


def test_hostile_ids_and_paths_are_invalid_argument_on_the_wire(bundle: Bundle) -> None:
    with serving_pyrunc(bundle) as path:
        got = asyncio.run(_codes(path, bundle))
    expected = {name: Code.INVALID_ARGUMENT for name in got}
    expected["exec, valid id, no task"] = Code.NOT_FOUND
    assert got == expected
    assert sorted(os.listdir(bundle.path)) == ["address"], "nothing named after a request was created"
