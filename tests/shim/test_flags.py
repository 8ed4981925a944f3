"""The shim command line, parsed as Go's ``flag`` package does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impl.shim import FlagError, ShimFlags, parse_flags
from impl.shim._flags import HelpRequested, serve_args


def test_containerd_start_command_line() -> None:
    argv = [
        "-namespace", "default",
        "-address", "/run/containerd/containerd.sock",
        "-publish-binary", "/usr/bin/containerd",
        "-id", "t2",
        "-debug",
        "start",
    ]  # fmt: skip
    assert parse_flags(argv) == ShimFlags(
        namespace="default",
        id="t2",
        address="/run/containerd/containerd.sock",
        publish_binary="/usr/bin/containerd",
        debug=True,
        action="start",
    )


def test_containerd_delete_command_line() -> None:
    argv = ["-namespace", "k8s.io", "-address", "/a.sock", "-publish-binary", "c", "-id", "x", "-bundle", "/b", "delete"]
    flags = parse_flags(argv)
    assert (flags.action, flags.bundle, flags.debug, flags.namespace) == ("delete", "/b", False, "k8s.io")


def test_serve_is_no_action_and_defaults_are_gos() -> None:
    flags = parse_flags(["-namespace", "n"])
    assert flags.action == ""
    assert flags.publish_binary == "containerd"
    assert flags.socket == "" and flags.bundle == "" and not flags.debug


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["-namespace=n", "-id=a=b"], ("n", "a=b")),  # value split at the first '='
        (["--namespace", "n", "--id", "i"], ("n", "i")),  # two dashes work too
        (["-namespace", "n", "-id", "-debug"], ("n", "-debug")),  # a string flag eats the next arg
        (["-namespace", "a", "-namespace", "b", "-id", "i"], ("b", "i")),  # last one wins
    ],
)
def test_go_flag_syntax(argv: list[str], expected: tuple[str, str]) -> None:
    flags = parse_flags(argv)
    assert (flags.namespace, flags.id) == expected


@pytest.mark.parametrize("value, want", [("true", True), ("1", True), ("T", True), ("false", False), ("0", False)])
def test_bool_flag_values(value: str, want: bool) -> None:
    assert parse_flags(["-namespace", "n", f"-debug={value}"]).debug is want


def test_double_dash_ends_flags() -> None:
    assert parse_flags(["-namespace", "n", "--", "start"]).action == "start"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-namespace", "n", "-bogus", "start"], "flag provided but not defined: -bogus"),
        (["-namespace", "n", "-id"], "flag needs an argument: -id"),
        (["-namespace", "n", "-debug=maybe"], "invalid boolean value 'maybe' for -debug"),
        (["-namespace", "n", "---id", "x"], "bad flag syntax: ---id"),
        (["-namespace", "n", "-=x"], "bad flag syntax: -=x"),
        (["-id", "x", "start"], "shim namespace cannot be empty"),
        (["-namespace", "", "start"], "shim namespace cannot be empty"),
        (["-namespace", "n", "stop"], 'unknown action "stop"'),
        (["-namespace", "n", "start", "-debug"], "unexpected arguments after the action: -debug"),
    ],
)
def test_bad_command_lines_name_the_problem(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError) as info:
        parse_flags(argv)
    assert message in str(info.value)


@pytest.mark.parametrize("flag", ["-h", "-help", "--help"])
def test_help(flag: str) -> None:
    with pytest.raises(HelpRequested):
        parse_flags([flag])


def test_version_needs_no_namespace() -> None:
    assert parse_flags(["-v"]).version


_values = st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=30)


@given(
    namespace=_values,
    id=st.text(max_size=20),
    address=st.text(max_size=40),
    publish_binary=_values,
    bundle=st.text(max_size=20),
    socket=st.text(max_size=20),
    debug=st.booleans(),
)
def test_serve_args_round_trip(
    namespace: str, id: str, address: str, publish_binary: str, bundle: str, socket: str, debug: bool
) -> None:
    """Whatever ``start`` parsed, the serving child (``serve_args``) parses back, action dropped."""
    flags = ShimFlags(namespace, id, address, publish_binary, bundle, socket, debug, False, "start")
    assert parse_flags(serve_args(flags)) == flags._replace(action="")


@given(st.lists(st.text(max_size=12), max_size=8))
def test_parser_total(argv: list[str]) -> None:
    """Any argv gives flags or a FlagError/HelpRequested, never another exception."""
    try:
        flags = parse_flags(argv)
    except (FlagError, HelpRequested):
        return
    assert flags.version or (flags.namespace and flags.action in ("start", "delete", ""))
