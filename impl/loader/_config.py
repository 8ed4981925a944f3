"""Decode a plugin's config section into the type of its default config.

As in containerd, the section is laid over the default: keys it leaves out
keep the default's values. Types are checked by msgspec (imported only when a
section is actually decoded, so a shim that has no config never pays for it);
unknown keys, which msgspec ignores for dataclasses, are found by walking the
dataclass fields so the error can name the exact key.
"""

from __future__ import annotations

import collections.abc as abc
import copy
import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, cast

from ._errors import ConfigError

__all__ = ["decode_config"]

_Table = Mapping[Any, object]


def decode_config(
    uri: str,
    default: object,
    section: Mapping[str, object] | None,
    *,
    source: str = "",
    table: str | None = None,
    toml_words: bool = False,
) -> object:
    """A new config for plugin ``uri``: ``default`` overlaid with ``section``.

    ``default`` is the registration's default config (a dataclass instance,
    or None for a plugin without config); it is never changed. ``None`` for
    ``section`` gives a deep copy of the default. Raises ``ConfigError``
    naming ``uri`` and the key for an unknown key or a value of the wrong
    type. The host calls this up front, with the config file as ``source``,
    to report config errors before any plugin starts (and for its own tables,
    with ``table`` and ``toml_words``: TOML's type names, "unknown key");
    ``load`` calls it for each plugin.

    A dataclass field whose metadata has ``"config": False`` is not a key.
    """

    def fail(key: str, problem: str) -> ConfigError:
        if toml_words:
            problem = _toml_words(problem)
        return ConfigError(uri, key, problem, source=source, table=table)

    if section is None:
        return copy.deepcopy(default)
    if not isinstance(cast(object, section), Mapping):
        raise fail("", f"expected a table, got {type(section).__name__}")
    if default is None:
        if section:
            key = next(iter(section))
            raise fail(str(key), "unknown key (the plugin takes no config)")
        return None
    cls = type(default)
    unknown = _find_unknown(cls, section, "")
    if unknown is not None:
        raise fail(*unknown)

    import msgspec

    merged = _overlay(msgspec.to_builtins(default), section)
    try:
        return msgspec.convert(merged, cls, strict=True)
    except msgspec.ValidationError as e:
        problem, _, where = str(e).rpartition(" - at `")
        if not problem:
            raise fail("", str(e)) from None
        key = where.rstrip("`").removeprefix("$").removeprefix(".")
        if "[...]" in key:
            key = _name_dict_keys(cls, merged, key)
        raise fail(key, problem.replace("`", "")) from None


# msgspec's names for the kinds of value, and TOML's.
_TOML_KINDS = {
    "int": "integer",
    "str": "string",
    "bool": "boolean",
    "float": "float",
    "array": "array",
    "object": "table",
    "null": "nothing",
}
_EXPECTED = re.compile(r"Expected (\w+), got (\w+)")


def _toml_words(problem: str) -> str:
    if problem.startswith("unknown key for "):
        return "unknown key"
    m = _EXPECTED.fullmatch(problem)
    if m is not None:
        want, got = (_TOML_KINDS.get(k, k) for k in m.groups())
        return f"expected {want}, got {got}"
    return problem


_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[(\.\.\.)\]")


def _unwrap(tp: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` -> ``X`` (other unions as they are)."""
    while True:
        origin = typing.get_origin(tp)
        args: tuple[Any, ...] = typing.get_args(tp)
        if origin is typing.Annotated:
            tp = args[0]
        elif origin is typing.Union or origin is types.UnionType:
            members = [a for a in args if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _name_dict_keys(cls: type, value: object, path: str) -> str:
    """Replace msgspec's ``[...]`` (some dict entry) by the entry's key.

    Walks the type and the value along ``path``; at each ``[...]`` the first
    entry that does not convert is the culprit. Falls back to ``path``.
    """
    import msgspec

    out = ""
    tp: Any = cls
    try:
        for m in _SEGMENT.finditer("." + path):
            name, index, any_key = m.groups()
            tp = _unwrap(tp)
            if name is not None:
                hints = typing.get_type_hints(tp, include_extras=True)
                tp, value = hints[name], cast(_Table, value)[name]
                out = _join(out, name)
            elif index is not None:
                tp, value = typing.get_args(tp)[0], cast("list[object]", value)[int(index)]
                out = f"{out}[{index}]"
            elif any_key is not None:
                item_tp: Any = typing.get_args(tp)[1]
                for k, v in cast(_Table, value).items():
                    try:
                        msgspec.convert(v, item_tp, strict=True)
                    except msgspec.ValidationError:
                        tp, value = item_tp, v
                        out = _join(out, k)
                        break
                else:
                    return path
    except (KeyError, IndexError, TypeError, AttributeError, NameError):
        return path
    return out


def _overlay(base: object, section: _Table) -> dict[object, object]:
    """``base`` (a dict, or anything else to replace) with ``section`` merged in."""
    out: dict[object, object] = cast("dict[object, object]", base).copy() if isinstance(base, dict) else {}
    for k, v in section.items():
        old = out.get(k)
        if isinstance(old, dict) and isinstance(v, Mapping):
            v = _overlay(cast(object, old), cast(_Table, v))
        out[k] = v
    return out


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _find_unknown(tp: Any, value: object, path: str) -> tuple[str, str] | None:
    """The first key no dataclass field takes, and its problem; None if none."""
    origin = typing.get_origin(tp)
    args: tuple[Any, ...] = typing.get_args(tp)
    if origin is typing.Annotated:
        return _find_unknown(args[0], value, path)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in args if a is not type(None)]
        return _find_unknown(members[0], value, path) if len(members) == 1 else None
    found: tuple[str, str] | None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            return None  # the type check reports it
        hints = typing.get_type_hints(tp, include_extras=True)
        fields = {f.name for f in dataclasses.fields(tp) if f.init and f.metadata.get("config", True)}
        for k, v in cast(_Table, value).items():
            if k not in fields:
                return _join(path, k), f"unknown key for {tp.__qualname__}"
            if (found := _find_unknown(hints[str(k)], v, _join(path, k))) is not None:
                return found
    elif origin in (list, set, frozenset, abc.Sequence, abc.MutableSequence, abc.Set):
        if args and isinstance(value, (list, tuple)):
            for i, item in enumerate(cast("list[object]", value)):
                if (found := _find_unknown(args[0], item, f"{path}[{i}]")) is not None:
                    return found
    elif origin is tuple:
        if args and isinstance(value, (list, tuple)):
            for i, item in enumerate(cast("list[object]", value)):
                arg = args[0] if args[-1] is Ellipsis else args[min(i, len(args) - 1)]
                if (found := _find_unknown(arg, item, f"{path}[{i}]")) is not None:
                    return found
    elif origin in (dict, abc.Mapping, abc.MutableMapping):
        if len(args) == 2 and isinstance(value, Mapping):
            for k, v in cast(_Table, value).items():
                if (found := _find_unknown(args[1], v, _join(path, k))) is not None:
                    return found
    return None
