"""The loading loop: policies, records, logs, collection, config, lookups."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest
from google.protobuf.message import Message
from typing_extensions import assert_type

from impl.loader import (
    ROOT_PROPERTY,
    STATE_PROPERTY,
    TTRPC_ADDRESS_PROPERTY,
    ConfigError,
    LoadError,
    LoadPolicy,
    LoadResult,
    load,
)
from impl.plugin import (
    AlreadyInitializedError,
    InitContext,
    MultipleInstancesError,
    PluginError,
    PluginNotFoundError,
    Registration,
    Registry,
    SkipPlugin,
    UnexpectedInstanceError,
)
from shimtypes import EVENT_PLUGIN, GRPC_PLUGIN, TTRPC_PLUGIN, GRPCServer, Publisher, TTRPCServer

LOGGER = "test.loader"


def run(
    regs: Sequence[Registration],
    policy: LoadPolicy = LoadPolicy.SERVER,
    **kw: Any,
) -> LoadResult:
    kw.setdefault("root", "/var/lib/x")
    kw.setdefault("state", "/run/x")
    return asyncio.run(load(regs, policy=policy, logger=logging.getLogger(LOGGER), **kw))


def ordered(*regs: Registration) -> list[Registration]:
    r = Registry()
    for x in regs:
        r.register(x)
    return r.graph()


class Boom(Exception):
    pass


def ok(value: object) -> Any:
    def init(ic: InitContext) -> object:
        return value

    return init


def fail(ic: InitContext) -> object:
    raise Boom("boom")


def skip(ic: InitContext) -> object:
    raise SkipPlugin("not configured")


# --- policies ---------------------------------------------------------------


def test_skip_is_recorded_and_logged_and_never_aborts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    regs = [Registration("t", "s", skip), Registration("t", "a", ok(1))]
    for policy in LoadPolicy:
        caplog.clear()
        res = run(regs, policy)
        assert [(p.uri, p.status) for p in res.plugins] == [("t.s", "skip"), ("t.a", "ok")]
        recs = [(r.levelno, r.getMessage()) for r in caplog.records]
        assert (logging.INFO, 'loading plugin "t.s"... type=t') in recs
        assert (
            logging.INFO,
            'skip loading plugin "t.s"... error="not configured: skip plugin" type=t',
        ) in recs
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_shim_policy_aborts_on_failure(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    ran: list[str] = []

    def later(ic: InitContext) -> object:
        ran.append(ic.registration.uri)
        return None

    regs = [Registration("t", "bad", fail), Registration("t", "later", later)]
    with pytest.raises(LoadError, match=r"^failed to load plugin t\.bad: boom$") as info:
        run(regs, LoadPolicy.SHIM)
    assert ran == []
    assert isinstance(info.value.__cause__, Boom)
    assert isinstance(info.value, PluginError)
    warn = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warn] == ['failed to load plugin t.bad error="boom" type=t']
    assert not any("t.later" in r.getMessage() for r in caplog.records)


def test_server_policy_records_failure_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    res = run([Registration("t", "bad", fail), Registration("t", "a", ok("A"))])
    bad, a = res.plugins
    assert bad.status == "error" and isinstance(bad.error, Boom) and bad.instance is None
    assert a.status == "ok" and a.instance == "A" and a.error is None
    assert any(
        r.levelno == logging.WARNING and r.getMessage().startswith("failed to load plugin t.bad")
        for r in caplog.records
    )


@pytest.mark.parametrize("init", [fail, skip])
def test_required_plugin_that_does_not_load_aborts(init: Any) -> None:
    regs = [Registration("t", "req", init), Registration("t", "a", ok(1))]
    with pytest.raises(LoadError, match=r"^load required plugin t\.req: "):
        run(regs, required=["t.req"])
    # not required: the server carries on
    assert len(run(regs).plugins) == 2


def test_required_plugins_never_loaded_are_listed() -> None:
    a = Registration("t", "a", ok(1))
    disabled = Registration("t", "off", ok(2))
    regs = ordered(a, disabled)
    enabled = [r for r in regs if r is not disabled]
    with pytest.raises(LoadError) as info:
        run(enabled, required=["t.a", "t.off", "t.nowhere"])
    assert str(info.value) == "required plugin [t.off t.nowhere] not included"
    assert len(run(enabled, required=["t.a"]).plugins) == 1


def test_duplicate_uri_in_the_order_aborts() -> None:
    a = Registration("t", "a", ok(1))
    with pytest.raises(AlreadyInitializedError, match=r"^plugin t\.a already initialized$"):
        run([a, Registration("t", "a", ok(2))])


# --- init forms and collection ------------------------------------------------


def test_async_init_is_awaited() -> None:
    async def init(ic: InitContext) -> object:
        await asyncio.sleep(0)
        return ("async", ic.root)

    async def skips(ic: InitContext) -> object:
        await asyncio.sleep(0)
        raise SkipPlugin()

    async def fails(ic: InitContext) -> object:
        await asyncio.sleep(0)
        raise Boom("late")

    res = run([Registration("t", "a", init), Registration("t", "s", skips), Registration("t", "f", fails)])
    a, s, f = res.plugins
    assert a.instance == ("async", "/var/lib/x/t.a")
    assert s.status == "skip" and f.status == "error" and str(f.error) == "late"


class PlainTTRPC:
    """Not derived from any protocol: collected by its method alone."""

    def register_ttrpc(self, server: TTRPCServer, /) -> None:
        pass


class GRPCAndTCP:
    def register(self, server: GRPCServer, /) -> None:
        pass

    def register_tcp(self, server: GRPCServer, /) -> None:
        pass


class Everything(PlainTTRPC, GRPCAndTCP):
    pass


def test_instances_are_collected_structurally_in_init_order() -> None:
    t1, g, e, t2 = PlainTTRPC(), GRPCAndTCP(), Everything(), PlainTTRPC()
    failed_but_ttrpc = Registration(TTRPC_PLUGIN, "failed", fail)
    regs = [
        Registration(TTRPC_PLUGIN, "t1", ok(t1)),
        Registration(GRPC_PLUGIN, "plain", ok(object())),
        Registration(GRPC_PLUGIN, "g", ok(g)),
        failed_but_ttrpc,
        Registration(GRPC_PLUGIN, "e", ok(e)),
        Registration(TTRPC_PLUGIN, "t2", ok(t2)),
    ]
    res = run(regs)
    assert res.ttrpc == (t1, e, t2)
    assert res.grpc == (g, e)
    assert res.tcp == (g, e)
    assert len(res.plugins) == 6


# --- context ------------------------------------------------------------------


def test_shim_context_paths_and_properties() -> None:
    seen: dict[str, Any] = {}

    def init(ic: InitContext) -> object:
        seen.update(
            root=ic.root,
            state=ic.state,
            address=ic.address,
            ttrpc=ic.ttrpc_address,
            props=dict(ic.properties),
            config=ic.config,
            reg=ic.registration,
        )
        return None

    reg = Registration(TTRPC_PLUGIN, "task", init)
    run(
        [reg],
        LoadPolicy.SHIM,
        root="",
        state="/run/bundle",
        address="/run/containerd.sock",
        ttrpc_address="/run/containerd.sock.ttrpc",
        properties={"extra": "1", ROOT_PROPERTY: "overridden"},
    )
    assert seen["root"] == "io.containerd.ttrpc.v1.task"
    assert seen["state"] == "/run/bundle/io.containerd.ttrpc.v1.task"
    assert seen["address"] == "/run/containerd.sock"
    assert seen["ttrpc"] == "/run/containerd.sock.ttrpc"
    assert seen["config"] is None and seen["reg"] is reg
    assert seen["props"]["extra"] == "1"
    assert seen["props"][ROOT_PROPERTY] == "io.containerd.ttrpc.v1.task"
    assert seen["props"][STATE_PROPERTY] == "/run/bundle/io.containerd.ttrpc.v1.task"
    assert seen["props"][TTRPC_ADDRESS_PROPERTY] == "/run/containerd.sock.ttrpc"


def test_meta_filled_by_init_is_recorded() -> None:
    def init(ic: InitContext) -> object:
        ic.meta.platforms.append("linux/amd64")
        ic.meta.exports["root"] = ic.root
        ic.meta.capabilities.append("remap-ids")
        return 1

    (p,) = run([Registration("t", "m", init)]).plugins
    assert p.meta.platforms == ["linux/amd64"]
    assert p.meta.exports == {"root": "/var/lib/x/t.m"}
    assert p.meta.capabilities == ["remap-ids"]


# --- lookups --------------------------------------------------------------------


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[tuple[str, Message]] = []

    async def publish(self, topic: str, event: Message, /) -> None:
        self.events.append((topic, event))

    async def close(self) -> None:
        pass


def test_get_single_narrows_to_the_protocol() -> None:
    pub = FakePublisher()
    got: list[Publisher] = []

    def task(ic: InitContext) -> object:
        p = ic.get_single(EVENT_PLUGIN, Publisher)
        assert_type(p, Publisher)
        q = ic.get_by_id(EVENT_PLUGIN, "publisher", Publisher)
        assert_type(q, Publisher)
        got.extend([p, q])
        return PlainTTRPC()

    regs = ordered(
        Registration(TTRPC_PLUGIN, "task", task, requires=(EVENT_PLUGIN,)),
        Registration(EVENT_PLUGIN, "publisher", ok(pub)),
    )
    res = run(regs, LoadPolicy.SHIM)
    assert got == [pub, pub]
    assert [p.uri for p in res.plugins] == [
        "io.containerd.event.v1.publisher",
        "io.containerd.ttrpc.v1.task",
    ]


def test_get_single_rejects_an_instance_of_the_wrong_kind() -> None:
    def task(ic: InitContext) -> object:
        return ic.get_single(EVENT_PLUGIN, Publisher)

    res = run([Registration(EVENT_PLUGIN, "publisher", ok("not a publisher")), Registration("t", "task", task)])
    err = res.plugins.get("t", "task")
    assert err is not None and isinstance(err.error, UnexpectedInstanceError)
    assert isinstance(err.error, TypeError)
    assert "io.containerd.event.v1.publisher" in str(err.error)
    assert "Publisher" in str(err.error) and "str" in str(err.error)


class NotCheckable(Protocol):
    def publish(self) -> None: ...


def test_expect_must_be_a_checkable_class() -> None:
    errors: list[Exception] = []

    def probe(ic: InitContext) -> object:
        for expect in (NotCheckable, lambda: 1):
            try:
                ic.get_single(EVENT_PLUGIN, expect)
            except TypeError as e:
                errors.append(e)
        return None

    run([Registration(EVENT_PLUGIN, "publisher", ok(FakePublisher())), Registration("t", "p", probe)])
    assert len(errors) == 2
    assert "io.containerd.event.v1.publisher" in str(errors[0]) and "NotCheckable" in str(errors[0])
    assert "runtime-checkable" in str(errors[1])


def test_lookups_see_failed_and_skipped_plugins() -> None:
    """Results are added before errors are judged, so later inits see them."""
    seen: dict[str, Any] = {}

    def probe(ic: InitContext) -> object:
        seen["by_type"] = {k: p.status for k, p in ic.get_by_type("t").items()}
        seen["all"] = [p.uri for p in ic.get_all()]
        calls: list[tuple[str, Callable[[], object]]] = [
            ("single_t", lambda: ic.get_single("t")),
            ("single_u", lambda: ic.get_single("u")),
            ("single_v", lambda: ic.get_single("v")),
            ("single_none", lambda: ic.get_single("nope")),
            ("by_type_none", lambda: ic.get_by_type("nope")),
            ("by_id_failed", lambda: ic.get_by_id("t", "bad")),
            ("by_id_skipped", lambda: ic.get_by_id("t", "s")),
            ("by_id_missing", lambda: ic.get_by_id("t", "zzz")),
        ]
        for name, call in calls:
            try:
                seen[name] = call()
            except Exception as e:
                seen[name] = e
        seen["by_id_ok"] = ic.get_by_id("u", "one")
        return None

    run(
        [
            Registration("t", "s", skip),
            Registration("t", "bad", fail),
            Registration("t", "good", ok("G")),
            Registration("u", "s", skip),
            Registration("u", "one", ok("U1")),
            Registration("v", "a", ok("V1")),
            Registration("v", "b", ok("V2")),
            Registration("probe", "p", probe),
        ]
    )
    assert seen["by_type"] == {"s": "skip", "bad": "error", "good": "ok"}
    assert seen["all"] == ["t.s", "t.bad", "t.good", "u.s", "u.one", "v.a", "v.b"]
    assert isinstance(seen["single_t"], Boom)  # first non-skip failure
    assert seen["single_u"] == "U1"  # the skipped one is ignored
    assert isinstance(seen["single_v"], MultipleInstancesError)
    assert "v.a" in str(seen["single_v"]) and "v.b" in str(seen["single_v"])
    for key in ("single_none", "by_type_none", "by_id_missing"):
        assert isinstance(seen[key], PluginNotFoundError), key
        assert isinstance(seen[key], LookupError)
    assert "no plugins registered for nope" in str(seen["single_none"])
    assert "no t plugins with id zzz" in str(seen["by_id_missing"])
    assert isinstance(seen["by_id_failed"], Boom)
    assert isinstance(seen["by_id_skipped"], SkipPlugin)
    assert seen["by_id_ok"] == "U1"


# --- config -------------------------------------------------------------------


class Mode(enum.Enum):
    FAST = "fast"
    SAFE = "safe"


@dataclass
class Inner:
    x: int = 1
    tags: list[str] = field(default_factory=list[str])


@dataclass
class Config:
    name: str = "class-default"
    inner: Inner = field(default_factory=Inner)
    mode: Mode = Mode.SAFE
    limit: int | None = None
    labels: dict[str, str] = field(default_factory=dict[str, str])
    ratio: float = 0.5
    children: list[Inner] = field(default_factory=list[Inner])
    nested: dict[str, dict[str, int]] = field(default_factory=dict[str, dict[str, int]])
    by_name: dict[str, Inner] | None = None


def load_config(section: Mapping[str, object] | None, default: Config | None = None) -> Config:
    base = default if default is not None else Config(name="instance-default", labels={"a": "1"})
    seen: list[Config] = []

    def init(ic: InitContext[Config]) -> object:
        assert_type(ic.config, Config)
        seen.append(ic.config)
        return None

    reg = Registration("io.containerd.test.v1", "cfg", init, config=base)
    configs = {reg.uri: section} if section is not None else None
    res = run([reg], configs=configs)
    assert res.plugins.get("io.containerd.test.v1", "cfg") is not None
    got = seen[0]
    (p,) = res.plugins
    assert p.config is got
    assert got is not base
    return got


def test_config_section_is_laid_over_the_default_instance() -> None:
    base = Config(name="instance-default", inner=Inner(x=7, tags=["t"]), labels={"a": "1"})
    snapshot = repr(base)
    got = load_config(
        {
            "inner": {"tags": ["u", "v"]},
            "mode": "fast",
            "limit": 3,
            "labels": {"b": "2"},
            "ratio": 2,
            "children": [{"x": 5}],
        },
        base,
    )
    assert got == Config(
        name="instance-default",
        inner=Inner(x=7, tags=["u", "v"]),
        mode=Mode.FAST,
        limit=3,
        labels={"a": "1", "b": "2"},
        ratio=2.0,
        children=[Inner(x=5)],
    )
    assert repr(base) == snapshot  # the registration's default is untouched


def test_no_section_gives_a_copy_of_the_default() -> None:
    base = Config(name="instance-default", inner=Inner(x=9))
    got = load_config(None, base)
    assert got == base and got is not base and got.inner is not base.inner
    assert load_config({}, base) == base


@pytest.mark.parametrize(
    ("section", "key", "text"),
    [
        ({"nmae": "x"}, "nmae", "unknown key"),
        ({"inner": {"y": 1}}, "inner.y", "unknown key"),
        ({"children": [{"x": 1}, {"z": 2}]}, "children[1].z", "unknown key"),
        ({"inner": {"x": "one"}}, "inner.x", "Expected int, got str"),
        ({"inner": {"x": True}}, "inner.x", "Expected int, got bool"),
        ({"inner": {"tags": ["a", 2]}}, "inner.tags[1]", "Expected str, got int"),
        ({"mode": "warp"}, "mode", "Invalid enum value 'warp'"),
        ({"limit": "3"}, "limit", "Expected int | null, got str"),
        ({"labels": {"k": 1}}, "labels.k", "Expected str, got int"),
        ({"labels": {"a": "ok", "k.z": 1}}, "labels.k.z", "Expected str, got int"),
        ({"nested": {"m": {"x": 1, "y": "two"}}}, "nested.m.y", "Expected int, got str"),
        ({"nested": {"m": {"x": 1}, "n": {"x": [1]}}}, "nested.n.x", "Expected int, got array"),
        ({"by_name": {"a": {"x": 1}, "b": {"x": "no"}}}, "by_name.b.x", "Expected int, got str"),
        ({"inner": 5}, "inner", "Expected object, got int"),
    ],
)
def test_bad_config_names_plugin_and_key(section: Mapping[str, object], key: str, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(section)
    assert info.value.uri == "io.containerd.test.v1.cfg"
    assert info.value.key == key
    assert '"io.containerd.test.v1.cfg"' in str(info.value)
    assert repr(key) in str(info.value)
    assert text in str(info.value)
    assert isinstance(info.value, LoadError)


def test_config_errors_abort_whatever_the_policy() -> None:
    reg = Registration("t", "c", ok(1), config=Config())
    for policy in LoadPolicy:
        with pytest.raises(ConfigError):
            run([reg], policy, configs={"t.c": {"bogus": 1}})


def test_section_for_a_plugin_without_config_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r'"t\.n".*\'x\'.*takes no config'):
        run([Registration("t", "n", ok(1))], configs={"t.n": {"x": 1}})
    run([Registration("t", "n", ok(1))], configs={"t.n": {}, "other.plugin": {"x": 1}})


def test_non_table_section_is_an_error() -> None:
    bad: Any = ["not", "a", "table"]
    with pytest.raises(ConfigError, match="expected a table, got list"):
        run([Registration("t", "c", ok(1), config=Config())], configs={"t.c": bad})
