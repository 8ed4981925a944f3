"""containerd's shim command line, parsed the way Go's ``flag`` package does.

containerd runs ``<shim> -namespace NS -address A -publish-binary B -id ID
[-debug] start`` (and ``... -bundle B delete``): one dash, the value in the
next argument. Go's parser also takes ``--flag`` and ``-flag=value``, stops
at the first non-flag argument or at ``--``, and lets the last repeat win.
Sans-IO: this module only turns a list of strings into ``ShimFlags`` or a
``FlagError``; the runner decides what to print and how to exit.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final, NamedTuple

__all__ = [
    "ACTIONS",
    "FlagError",
    "HelpRequested",
    "ShimFlags",
    "parse_flags",
    "serve_args",
    "usage",
]

ACTIONS: Final = ("start", "delete", "")
"""``""`` is serve: no action runs the shim daemon."""


if TYPE_CHECKING:

    class ShimFlags(NamedTuple):
        """The parsed command line; defaults are Go's."""

        namespace: str
        id: str = ""
        address: str = ""
        publish_binary: str = "containerd"
        bundle: str = ""
        socket: str = ""
        debug: bool = False
        version: bool = False
        action: str = ""
        info: bool = False

else:

    class ShimFlags(tuple):
        """The parsed command line; defaults are Go's.

        The NamedTuple above, hand-made: ``typing`` and even ``collections``
        are too dear to import for ``start`` and ``delete``.
        """

        __slots__ = ()
        _fields = ("namespace", "id", "address", "publish_binary", "bundle", "socket", "debug", "version", "action", "info")

        def __new__(
            cls,
            namespace,
            id="",
            address="",
            publish_binary="containerd",
            bundle="",
            socket="",
            debug=False,
            version=False,
            action="",
            info=False,
        ):
            return tuple.__new__(
                cls, (namespace, id, address, publish_binary, bundle, socket, debug, version, action, info)
            )

        def __getnewargs__(self):
            return tuple(self)

        def _replace(self, **changes):
            values = dict(zip(self._fields, self))
            unknown = changes.keys() - values.keys()
            if unknown:
                raise ValueError(f"got unexpected field names: {sorted(unknown)!r}")
            values.update(changes)
            return type(self)(**values)

        def _asdict(self):
            return dict(zip(self._fields, self))

        def __repr__(self):
            fields = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
            return f"ShimFlags({fields})"

    def _field(index):
        return property(lambda self: tuple.__getitem__(self, index))

    for _index, _name in enumerate(ShimFlags._fields):
        setattr(ShimFlags, _name, _field(_index))
    del _index, _name, _field


class FlagError(ValueError):
    """A command line Go's ``flag`` package (or the shim) would reject."""


class HelpRequested(Exception):
    """``-h``/``-help`` was given: print usage, exit 0 (Go's behaviour)."""


# name -> (ShimFlags field, is_bool, usage text)
_FLAGS: Final[dict[str, tuple[str, bool, str]]] = {
    "address": ("address", False, "grpc address back to main containerd"),
    "bundle": ("bundle", False, "path to the bundle if not workdir"),
    "debug": ("debug", True, "enable debug output in logs"),
    "id": ("id", False, "id of the task"),
    "info": ("info", True, "print a RuntimeInfo protobuf (stdin: the options Any) and exit"),
    "namespace": ("namespace", False, "namespace that owns the shim"),
    "publish-binary": (
        "publish_binary",
        False,
        'path to publish binary (used for publishing events) (default "containerd")',
    ),
    "socket": ("socket", False, "socket path to serve"),
    "v": ("version", True, "show the shim version and exit"),
}

_TRUE: Final = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE: Final = frozenset({"0", "f", "F", "false", "FALSE", "False"})


def parse_flags(args: list[str] | tuple[str, ...]) -> ShimFlags:
    """Parse ``args`` (without the program name).

    Raises ``FlagError`` with Go's wording for syntax errors, and for what the
    shim itself rejects: an empty ``-namespace`` (unless ``-v`` or ``-info``), an unknown
    action, or arguments after the action. Raises ``HelpRequested`` for
    ``-h``/``-help``.
    """
    values: dict[str, str | bool] = {}
    rest = list(args)
    while rest:
        arg = rest[0]
        if len(arg) < 2 or arg[0] != "-":
            break
        dashes = 1
        if arg[1] == "-":
            dashes = 2
            if len(arg) == 2:  # "--" ends the flags
                rest.pop(0)
                break
        name = arg[dashes:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {arg}")
        rest.pop(0)
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        spec = _FLAGS.get(name)
        if spec is None:
            if name in ("h", "help"):
                raise HelpRequested()
            raise FlagError(f"flag provided but not defined: -{name}")
        field, is_bool, _ = spec
        if is_bool:
            if value is None or value in _TRUE:
                values[field] = True
            elif value in _FALSE:
                values[field] = False
            else:
                raise FlagError(f"invalid boolean value {value!r} for -{name}: parse error")
        else:
            if value is None:
                if not rest:
                    raise FlagError(f"flag needs an argument: -{name}")
                value = rest.pop(0)
            values[field] = value

    action = rest.pop(0) if rest else ""
    flags = ShimFlags(
        namespace=str(values.get("namespace", "")),
        id=str(values.get("id", "")),
        address=str(values.get("address", "")),
        publish_binary=str(values.get("publish_binary", "containerd")),
        bundle=str(values.get("bundle", "")),
        socket=str(values.get("socket", "")),
        debug=bool(values.get("debug", False)),
        version=bool(values.get("version", False)),
        action=action,
        info=bool(values.get("info", False)),
    )
    if flags.version or flags.info:
        return flags
    if action not in ACTIONS:
        raise FlagError(f'unknown action "{action}": want "start", "delete" or none (serve)')
    if rest:
        raise FlagError(f"unexpected arguments after the action: {' '.join(rest)}")
    if not flags.namespace:
        raise FlagError("shim namespace cannot be empty: -namespace is required")
    return flags


def serve_args(flags: ShimFlags) -> list[str]:
    """The flags for the serving process: the same ones, without the action."""
    out = ["-namespace", flags.namespace, "-id", flags.id, "-address", flags.address]
    if flags.publish_binary != "containerd":
        out += ["-publish-binary", flags.publish_binary]
    if flags.bundle:
        out += ["-bundle", flags.bundle]
    if flags.socket:
        out += ["-socket", flags.socket]
    if flags.debug:
        out.append("-debug")
    return out


def usage(prog: str) -> str:
    """Go-style usage text (``Usage of prog:`` and one entry per flag)."""
    lines = [f"Usage of {prog}:"]
    for name, (_, is_bool, text) in _FLAGS.items():
        lines.append(f"  -{name}" + ("" if is_bool else " string"))
        lines.append(f"    \t{text}")
    lines.append("Actions: start | delete | (none: serve)")
    return "\n".join(lines) + "\n"
