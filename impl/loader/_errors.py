"""Errors that stop a load."""

from __future__ import annotations

from impl.plugin import PluginError

__all__ = ["ConfigError", "LoadError"]


class LoadError(PluginError):
    """Loading must stop; the message names the plugin's URI."""


class ConfigError(LoadError):
    """A plugin's config section does not fit its config type.

    ``key`` is the path inside the section, e.g. ``"inner.tags[0]"`` (empty
    when the section as a whole is wrong); ``problem`` is what is wrong there,
    kept apart so that a host can name the key in its own config's terms.
    """

    def __init__(self, uri: str, key: str, problem: str) -> None:
        self.uri = uri
        self.key = key
        self.problem = problem
        where = f"key {key!r}" if key else "section"
        super().__init__(f'invalid config for plugin "{uri}": {where}: {problem}')
