"""Registration, Registry validation and the default registry."""

from __future__ import annotations

import dataclasses

import pytest

import impl.plugin
from impl.plugin import (
    DependencyCycleError,
    IDRegisteredError,
    InitContext,
    InvalidRequiresError,
    NoIDError,
    NoTypeError,
    PluginError,
    Registration,
    Registry,
    SkipPlugin,
)
from impl.plugin import _registry
from impl.plugin._graph import order


def _init(ic: InitContext) -> object:
    return None


def reg(type: str, id: str, *requires: str) -> Registration:
    return Registration(type, id, _init, requires=requires)


def test_uri_is_type_dot_id() -> None:
    assert reg("io.containerd.grpc.v1", "tasks").uri == "io.containerd.grpc.v1.tasks"


def test_registration_is_frozen_and_slotted() -> None:
    r = reg("t", "a", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.id = "b"  # type: ignore[misc]
    assert not hasattr(r, "__dict__")


def test_requires_is_normalised_to_a_tuple_and_a_string_is_rejected() -> None:
    r = Registration("t", "a", _init, requires=["x", "y"])  # type: ignore[arg-type]
    assert r.requires == ("x", "y")
    with pytest.raises(TypeError, match="t.a"):
        Registration("t", "a", _init, requires="xy")  # type: ignore[arg-type]


def test_equality_is_identity() -> None:
    a, b = reg("t", "a"), reg("t", "a")
    assert a != b and a == a
    assert len({a, b}) == 2


@pytest.mark.parametrize(
    ("bad", "error", "text"),
    [
        # empty type wins over every later check, even with an empty id too
        (reg("", "", "*", "x"), NoTypeError, 'plugin: no type (registration ".")'),
        (reg("", "x"), NoTypeError, 'plugin: no type (registration ".x")'),
        # empty id wins over "already registered" and bad requires
        (reg("t", "", "*", "x"), NoIDError, 'plugin: no id (registration "t.")'),
        # duplicate wins over bad requires
        (reg("t", "a", "*", "x"), IDRegisteredError, "t.a: plugin: id already registered"),
        (reg("t", "b", "*", "x"), InvalidRequiresError, "t.b"),
        (reg("t", "b", "x", "*"), InvalidRequiresError, "invalid requires"),
        (reg("t", "b", "x", "t"), InvalidRequiresError, "t.b: requires its own type t"),
        (reg("t", "b", "t"), InvalidRequiresError, "invalid requires"),
    ],
)
def test_validation_order_and_messages(bad: Registration, error: type[PluginError], text: str) -> None:
    r = Registry()
    r.register(reg("t", "a"))
    r.register(reg("t", ".."))  # an odd id is fine; only emptiness is checked
    with pytest.raises(error) as info:
        r.register(bad)
    assert text in str(info.value)
    assert isinstance(info.value, PluginError)
    assert len(r) == 2 and all(x is not bad for x in r)


def test_wildcard_alone_is_valid_and_registration_order_is_kept() -> None:
    r = Registry()
    regs = [reg("w", "all", "*"), reg("t", "a"), reg("u", "b", "t", "v")]
    for x in regs:
        r.register(x)
    assert list(r) == regs
    assert "u.b" in r and r.get("u.b") is regs[2] and r.get("u.c") is None


def test_same_id_under_different_types_is_allowed() -> None:
    # containerd#3210: "content" is both a content and a grpc plugin.
    r = Registry()
    r.register(reg("io.containerd.content.v1", "content"))
    r.register(reg("io.containerd.grpc.v1", "content"))
    assert len(r) == 2


def test_graph_follows_containerd_depth_first_order() -> None:
    # content is registered last but required (through metadata) by the first
    # plugin, so it comes first, as in containerd's observed init order.
    r = Registry()
    a = reg("grpc", "a", "metadata")
    s1 = reg("snapshot", "s1")
    s2 = reg("snapshot", "s2")
    m = reg("metadata", "bolt", "content", "snapshot")
    c = reg("content", "content")
    w = reg("grpc", "wild", "*")
    for x in (w, a, s1, s2, m, c):
        r.register(x)
    assert r.graph() == [c, s1, s2, m, a, w]
    # Disabling a dependency keeps its dependents and never walks it.
    assert r.graph(lambda x: x.id == "s1") == [c, s2, m, a, w]
    assert r.graph(lambda x: x.type == "metadata") == [a, s1, s2, c, w]


def test_own_type_requirement_skips_itself() -> None:
    # Allowed in 1.6 (the registry rejects it now): other plugins of the type come first.
    x = reg("t", "x", "t")
    y = reg("t", "y")
    assert order([x, y]) == [y, x]


def test_cycle_is_reported_with_the_loop() -> None:
    r = Registry()
    a, b, c = reg("ta", "a", "tb"), reg("tb", "b", "tc"), reg("tc", "c", "ta")
    for x in (a, b, c):
        r.register(x)
    with pytest.raises(DependencyCycleError) as info:
        r.graph()
    assert info.value.cycle == ("ta.a", "tb.b", "tc.c", "ta.a")
    assert "ta.a -> tb.b -> tc.c -> ta.a" in str(info.value)
    # Disabling one member breaks the loop.
    assert r.graph(lambda x: x is b) == [a, c]


def test_two_wildcards_are_a_cycle() -> None:
    r = Registry()
    r.register(reg("t", "a", "*"))
    r.register(reg("u", "b", "*"))
    with pytest.raises(DependencyCycleError) as info:
        r.graph()
    assert info.value.cycle == ("t.a", "u.b", "t.a")


def test_skip_plugin_text_says_skip_plugin() -> None:
    assert str(SkipPlugin()) == "skip plugin"
    assert str(SkipPlugin("no btrfs")) == "no btrfs: skip plugin"


def test_module_level_register_and_graph_use_the_default_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert impl.plugin.default_registry is _registry.default_registry
    fresh = Registry()
    monkeypatch.setattr(_registry, "default_registry", fresh)
    a, b = reg("t", "a", "u"), reg("u", "b")
    impl.plugin.register(a)
    impl.plugin.register(b)
    assert list(fresh) == [a, b]
    assert impl.plugin.graph() == [b, a]
    assert impl.plugin.graph(lambda x: x is b) == [a]
    with pytest.raises(IDRegisteredError):
        impl.plugin.register(reg("t", "a"))
