"""``RuncOptions``: containerd's runc options (``containerd.runc.v1.Options``), decoded by hand.

What containerd users set under ``[...runtimes.NAME.options]`` (or ``ctr
run --runc-binary/--runc-root/--no-pivot``): sent in ``Create``'s options
and on ``start``'s stdin, kept in the bundle by ``start``. Decoded without
protobuf so the ``delete`` action (which needs the binary and root) stays
light; field numbers are those of containerd's ``runc/options/oci.proto``.

containerd 1.x's client sends the older ``containerd.linux.runc.CreateOptions``
(``runtime/linux/runctypes``) instead to a runtime whose name does not start
with ``io.containerd.runc`` (``WithShimCgroup``, ``WithNoNewKeyring``, ...):
its fields that mean the same are read too, the rest ignored.
"""

from __future__ import annotations

__all__ = ["CREATE_OPTIONS_TYPE", "OPTIONS_TYPE", "RuncOptions"]

OPTIONS_TYPE = "containerd.runc.v1.Options"
CREATE_OPTIONS_TYPE = "containerd.linux.runc.CreateOptions"

# field number -> (attribute, kind)
_FIELDS = {
    1: ("no_pivot_root", bool),
    2: ("no_new_keyring", bool),
    3: ("shim_cgroup", str),
    4: ("io_uid", int),
    5: ("io_gid", int),
    6: ("binary_name", str),
    7: ("root", str),
    8: ("criu_path", str),
    9: ("systemd_cgroup", bool),
    10: ("criu_image_path", str),
    11: ("criu_work_path", str),
}

_CREATE_FIELDS = {
    1: ("no_pivot_root", bool),
    8: ("no_new_keyring", bool),
    9: ("shim_cgroup", str),
    10: ("io_uid", int),
    11: ("io_gid", int),
    12: ("criu_work_path", str),
    13: ("criu_image_path", str),
}
"""``CreateOptions`` fields that ``Options`` has too (open_tcp, terminal, cgroups_mode, ... are not kept)."""


class RuncOptions:
    """The options pyrunc honours; defaults are containerd's (all unset)."""

    __slots__ = tuple(name for name, _ in _FIELDS.values())

    no_pivot_root: bool
    no_new_keyring: bool
    shim_cgroup: str
    io_uid: int
    io_gid: int
    binary_name: str
    root: str
    criu_path: str
    systemd_cgroup: bool
    criu_image_path: str
    criu_work_path: str

    def __init__(self, **values: object) -> None:
        for name, kind in _FIELDS.values():
            setattr(self, name, values.pop(name, kind()))
        if values:
            raise TypeError(f"RuncOptions: unknown options {sorted(values)}")

    @classmethod
    def from_any(cls, options: tuple[str, bytes] | None) -> RuncOptions:
        """Decode ``(type_url, value)``; other option types (or none) give the defaults.

        ``ValueError`` names the field of a malformed value.
        """
        out = cls()
        if options is None:
            return out
        type_url, value = options
        type_name = type_url.rsplit("/", 1)[-1]
        fields = {OPTIONS_TYPE: _FIELDS, CREATE_OPTIONS_TYPE: _CREATE_FIELDS}.get(type_name)
        if fields is None:
            return out
        from impl.shim import read_fields

        for number, wire, raw in read_fields(value):
            spec = fields.get(number)
            if spec is None:
                continue
            name, kind = spec
            if kind is str:
                if not isinstance(raw, bytes):
                    raise ValueError(f"{type_name}.{name}: not a string")
                setattr(out, name, raw.decode(errors="strict"))
            else:
                if not isinstance(raw, int) or wire != 0:
                    raise ValueError(f"{type_name}.{name}: not a varint")
                setattr(out, name, bool(raw) if kind is bool else raw & 0xFFFFFFFF)
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuncOptions) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__
        )

    def __repr__(self) -> str:
        set_ = ", ".join(f"{n}={getattr(self, n)!r}" for n, k in _FIELDS.values() if getattr(self, n) != k())
        return f"RuncOptions({set_})"
