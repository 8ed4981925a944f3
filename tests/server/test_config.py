"""Config decoding: defaults, strict errors (one line, exit 2), round trips."""

from __future__ import annotations

import dataclasses
import json
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.server import Config, ConfigError, GRPCConfig, default_config, dump_config, parse_config

from ._helpers import Sockets, run_cli

T = "io.shimtypes.test.v1"


def test_defaults_need_no_file() -> None:
    cfg = default_config()
    assert cfg.version == 2
    assert cfg.grpc.address.endswith("shimtypes.sock")
    assert cfg.ttrpc.address == cfg.grpc.address + ".ttrpc"
    assert cfg.root and cfg.state


def test_partial_file_keeps_defaults_and_derives_ttrpc() -> None:
    cfg = parse_config('[grpc]\naddress = "/x/h.sock"\nuid = 5\n', "/c.toml")
    assert cfg.grpc.address == "/x/h.sock" and cfg.grpc.uid == 5
    assert cfg.grpc.max_recv_message_size == default_config().grpc.max_recv_message_size
    assert cfg.ttrpc.address == "/x/h.sock.ttrpc"
    assert cfg.source == "/c.toml"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("version = 2\n[grpc\n", "config /c.toml: invalid TOML: "),
        ('[grpc]\nadress = "x"\n', 'config /c.toml: [grpc] unknown key "adress"'),
        ("colour = 1\n", 'config /c.toml: unknown key "colour"'),
        ('[grpc]\nuid = "zero"\n', 'config /c.toml: [grpc] key "uid": expected integer, got string'),
        ("[grpc]\nuid = true\n", 'config /c.toml: [grpc] key "uid": expected integer, got boolean'),
        ("[ttrpc]\naddress = 3\n", 'config /c.toml: [ttrpc] key "address": expected string, got integer'),
        ('disabled_plugins = "cri"\n', 'config /c.toml: key "disabled_plugins": expected array, got string'),
        ("disabled_plugins = [1]\n", 'config /c.toml: key "disabled_plugins"[0]: expected string, got integer'),
        ('disabled_plugins = ["cri"]\n', 'config /c.toml: key "disabled_plugins": invalid plugin URI "cri"'),
        ('required_plugins = ["a..b.c"]\n', 'config /c.toml: key "required_plugins": invalid plugin URI'),
        ('[plugins."cri"]\nx = 1\n', 'config /c.toml: [plugins."cri"] invalid plugin URI "cri"'),
        ("version = 1\n", 'config /c.toml: key "version": unsupported config version 1'),
        ("grpc = 1\n", 'config /c.toml: key "grpc": expected table, got integer'),
        ('[grpc]\ntcp_tls_cert = "c.pem"\n', "config /c.toml: [grpc] keys"),
    ],
)
def test_bad_config_is_one_clear_error(text: str, line: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "/c.toml")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(line), msg


_ident = st.text(string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=8)
_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
_uri = st.lists(_ident, min_size=4, max_size=6).map(".".join)


@settings(max_examples=60, deadline=None)
@given(
    root=_text,
    address=_text,
    uid=st.integers(-1, 2**31),
    sizes=st.integers(0, 2**40),
    disabled=st.lists(_uri, max_size=3),
    tables=st.dictionaries(_uri, st.dictionaries(_ident, st.one_of(_text, st.integers(), st.booleans(), st.lists(_text, max_size=3)), max_size=3), max_size=3),
)
def test_dump_parses_back_to_the_same_config(
    root: str, address: str, uid: int, sizes: int, disabled: list[str], tables: dict[str, dict[str, object]]
) -> None:
    cfg = Config(
        root=root,
        state=root + "/s",
        disabled_plugins=tuple(disabled),
        grpc=GRPCConfig(address=address, uid=uid, max_recv_message_size=sizes),
        plugins=tables,
    )
    text = dump_config(cfg)
    back = parse_config(text, "<dump>")
    assert back == dataclasses.replace(cfg, source="<dump>")
    assert dump_config(back) == text


def test_cli_config_default_round_trips(tmp_path: Path, good_plugin_path: Path) -> None:
    r = run_cli(["config", "default"], good_plugin_path)
    assert r.returncode == 0, r.stderr
    assert f'[plugins."{T}.echo"]' in r.stdout  # plugin defaults are included, as containerd does
    parsed = parse_config(r.stdout, "<stdout>")
    assert parsed.plugins[f"{T}.echo"] == {"greeting": "hello", "marker_dir": "", "tags": []}
    assert dump_config(parsed) == r.stdout


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("[grpc\n", "invalid TOML"),
        ("[grpc]\nadress = 1\n", '[grpc] unknown key "adress"'),
        ('[ttrpc]\naddress = ["x"]\n', '[ttrpc] key "address": expected string, got array'),
        (f'[plugins."{T}.echo"]\ngretting = "x"\n', f'[plugins."{T}.echo"] key "gretting": unknown key'),
        (f'[plugins."{T}.echo"]\ngreeting = 3\n', f'[plugins."{T}.echo"] key "greeting": Expected'),
        (f'[plugins."{T}.failing"]\nx = 3\n', f'[plugins."{T}.failing"] key "x": unknown key'),
        ('disabled_plugins = ["cri"]\n', 'key "disabled_plugins": invalid plugin URI "cri"'),
    ],
)
def test_serve_bad_config_exits_2_with_one_line(
    sockets: Sockets, good_plugin_path: Path, extra: str, expected: str
) -> None:
    cfg = sockets.dir / "c.toml"
    cfg.write_text(_compose(sockets, extra))
    r = run_cli(["serve", "--config", str(cfg)], good_plugin_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"shimtypes: config {cfg}: "), lines[0]
    assert expected in lines[0], lines[0]
    assert r.stdout == ""
    assert not sockets.grpc.exists() and not sockets.root.exists()


def _compose(sockets: Sockets, extra: str) -> str:
    """The fixture config with ``extra``: top-level keys first, tables last."""
    base = f'version = 2\nroot = "{sockets.root}"\nstate = "{sockets.state}"\n'
    if extra.startswith("["):
        return base + extra
    return extra + base


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    r = run_cli(["serve", "--config", str(tmp_path / "nope.toml")], None)
    assert r.returncode == 2
    assert r.stderr.strip() == f"shimtypes: config {tmp_path / 'nope.toml'}: cannot read: No such file or directory"


def _toml(value: object) -> str:
    """An inline TOML value (json's string escapes are TOML's too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


_scalar = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.booleans(), st.text(max_size=6), st.floats(allow_nan=False, allow_infinity=False)
)
_value = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ident, inner, max_size=3), max_leaves=8)
_keys = st.sampled_from(
    ["version", "root", "state", "disabled_plugins", "required_plugins", "grpc", "ttrpc", "plugins", "source", "colour"]
)
_grpc_keys = st.sampled_from(["address", "uid", "gid", "max_recv_message_size", "tcp_address", "tcp_tls_ca", "adress"])


@settings(max_examples=300, deadline=None)
@given(
    top=st.dictionaries(_keys, _value, max_size=4),
    grpc=st.none() | st.dictionaries(_grpc_keys, _value, max_size=3),
)
def test_any_document_is_a_config_or_one_config_error(top: dict[str, object], grpc: dict[str, object] | None) -> None:
    doc = dict(top)
    if grpc is not None:
        doc["grpc"] = grpc
    text = "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in doc.items())
    try:
        cfg = parse_config(text, "<fuzz>")
    except ConfigError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.startswith("config <fuzz>: "), msg
        assert exc.source == "<fuzz>"
        return
    assert cfg.source == "<fuzz>" and cfg.version == 2
    assert isinstance(cfg.grpc.uid, int) and not isinstance(cfg.grpc.uid, bool)
    assert all(isinstance(u, str) for u in cfg.disabled_plugins)
