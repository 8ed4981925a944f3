"""Errors that stop a load."""

from __future__ import annotations

import re

from impl.plugin import PluginError

__all__ = ["ConfigError", "LoadError"]


class LoadError(PluginError):
    """Loading must stop; the message names the plugin's URI."""


_INDEXED = re.compile(r"([^\[]*)((?:\[\d+\])*)")
_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def toml_quote(s: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for c in s:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _quote_key(key: str) -> str:
    m = _INDEXED.fullmatch(key)
    if m is not None and m.group(1):
        return toml_quote(m.group(1)) + m.group(2)  # "disabled_plugins"[0]
    return toml_quote(key)


class ConfigError(LoadError):
    """A config that does not fit its type: the one config error, host and plugins.

    ``source`` is the file (empty when the section did not come from one),
    ``table`` the TOML table (``grpc``, ``plugins."<uri>"``, or empty for
    the top level), ``key`` the path inside it, e.g. ``"inner.tags[0]"``
    (empty when the table as a whole is wrong), ``problem`` what is wrong
    there, and ``uri`` the plugin's URI for a plugin's section. The message
    is one line: ``config FILE: [TABLE] key "KEY": PROBLEM`` from a file,
    ``invalid config for plugin "URI": key 'KEY': PROBLEM`` without one.
    """

    def __init__(self, uri: str, key: str, problem: str, *, source: str = "", table: str | None = None) -> None:
        self.uri = uri
        self.key = key
        self.problem = problem
        self.source = source
        self.table: str = table if table is not None else (f"plugins.{toml_quote(uri)}" if uri else "")
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.source:
            where = f"key {self.key!r}" if self.key else "section"
            return f'invalid config for plugin "{self.uri}": {where}: {self.problem}'
        if not self.key:
            what = self.problem
        elif self.problem == "unknown key":
            what = f"unknown key {_quote_key(self.key)}"
        else:
            what = f"key {_quote_key(self.key)}: {self.problem}"
        table = f"[{self.table}] " if self.table else ""
        return f"config {self.source}: {table}{what}"
