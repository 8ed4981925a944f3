"""What containerd writes on ``start``'s stdin, and what the shim answers.

Up to 2.2 stdin is the runtime options as a ``google.protobuf.Any`` (or
nothing); 2.3 always writes a ``BootstrapParams`` (instance_id=1,
namespace=2, ..., extensions=8 wrapping ``Any``s, socket_dir=9). Both
decode as the other (fields 1 and 2 are length-delimited in each), so the
kind is decided the way containerd's reference sheet says: params whose
``instance_id`` and ``namespace`` are this invocation's ``-id`` and
``-namespace``. Bytes that carry fields an ``Any`` has not and name another
instance are refused, never read as options.

Sans-IO and hand-decoded: ``start`` imports neither protobuf nor ``typing``.
"""

from __future__ import annotations

import os

from impl._varint import varint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "OPTIONS_FILE",
    "StartInput",
    "StdinError",
    "encode_any",
    "encode_bootstrap_result",
    "encode_runtime_info",
    "parse_start_stdin",
    "read_fields",
    "read_options_file",
    "write_options_file",
]

OPTIONS_FILE: Final = "shim-options.pb"
"""The runtime options ``start`` received, kept in the bundle (an encoded ``Any``) for the serving shim and ``delete``."""

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class StdinError(ValueError):
    """``start``'s stdin is neither runtime options nor this shim's bootstrap parameters."""


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise StdinError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise StdinError("varint longer than 10 bytes")


def read_fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """The message's fields in wire order: ``(number, wire type, int or bytes)``; ``StdinError`` if malformed."""
    out: list[tuple[int, int, int | bytes]] = []
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise StdinError("field number 0")
        value: int | bytes
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            if pos + size > end:
                raise StdinError(f"field {number}: length {size} runs past the end")
            value, pos = bytes(data[pos : pos + size]), pos + size
        elif wire == _I64 or wire == _I32:
            width = 8 if wire == _I64 else 4
            if pos + width > end:
                raise StdinError(f"field {number}: truncated fixed-width value")
            value, pos = int.from_bytes(data[pos : pos + width], "little"), pos + width
        else:
            raise StdinError(f"field {number}: unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _text(number: int, value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise StdinError(f"field {number} is not length-delimited")
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise StdinError(f"field {number} is not UTF-8") from None


def _decode_any(data: bytes) -> tuple[str, bytes]:
    type_url, value = "", b""
    for number, _wire, v in read_fields(data):
        if number == 1:
            type_url = _text(1, v)
        elif number == 2:
            if not isinstance(v, bytes):
                raise StdinError("Any.value is not length-delimited")
            value = v
    return type_url, value


class StartInput:
    """What stdin held: ``options`` (``(type_url, value)`` or ``None``) and whether it was ``BootstrapParams``."""

    __slots__ = ("bootstrap", "extensions", "options", "socket_dir")

    def __init__(
        self,
        *,
        bootstrap: bool = False,
        options: tuple[str, bytes] | None = None,
        extensions: tuple[tuple[str, bytes], ...] = (),
        socket_dir: str = "",
    ) -> None:
        self.bootstrap = bootstrap
        self.options = options
        self.extensions = extensions
        self.socket_dir = socket_dir

    def __repr__(self) -> str:
        return (
            f"StartInput(bootstrap={self.bootstrap!r}, options={self.options!r}, "
            f"extensions={self.extensions!r}, socket_dir={self.socket_dir!r})"
        )


def parse_start_stdin(data: bytes, id: str, namespace: str) -> StartInput:
    """Classify and decode ``start``'s stdin for the shim ``-id id -namespace namespace``.

    ``BootstrapParams`` when fields 1 and 2 are ``id`` and ``namespace``:
    its options are the first extension's ``Any``. Otherwise the options
    ``Any`` itself. ``StdinError`` for malformed bytes, and for params that
    name another instance (fields an ``Any`` has not, with 1 and 2 not ours).
    """
    if not data:
        return StartInput()
    fields = read_fields(data)
    first = {n: v for n, _, v in reversed(fields) if n in (1, 2)}
    last = {n: v for n, _, v in fields if n in (1, 2)}
    if (
        isinstance(last.get(1), bytes)
        and isinstance(last.get(2), bytes)
        and last[1] == id.encode()
        and last[2] == namespace.encode()
        and first == last
    ):
        extensions: list[tuple[str, bytes]] = []
        socket_dir = ""
        for number, _, value in fields:
            if number == 8:
                if not isinstance(value, bytes):
                    raise StdinError("BootstrapParams.extensions is not length-delimited")
                for n, _, v in read_fields(value):
                    if n == 1:
                        if not isinstance(v, bytes):
                            raise StdinError("Extension.value is not length-delimited")
                        extensions.append(_decode_any(v))
            elif number == 9:
                socket_dir = _text(9, value)
        return StartInput(
            bootstrap=True,
            options=extensions[0] if extensions else None,
            extensions=tuple(extensions),
            socket_dir=socket_dir,
        )
    foreign = sorted({n for n, _, _ in fields if n not in (1, 2)})
    if foreign and any(n in (3, 4, 5, 6, 7, 8, 9) for n in foreign):
        raise StdinError(
            f"stdin looks like BootstrapParams (fields {foreign}) for another instance, "
            f"not -id {id!r} -namespace {namespace!r}"
        )
    return StartInput(options=_decode_any(data))


def _len_field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | _LEN) + varint(len(payload)) + payload


def encode_any(type_url: str, value: bytes) -> bytes:
    """A ``google.protobuf.Any``, encoded."""
    out = b""
    if type_url:
        out += _len_field(1, type_url.encode())
    if value:
        out += _len_field(2, value)
    return out


def encode_bootstrap_result(version: int, address: str, protocol: str = "ttrpc") -> bytes:
    """containerd 2.3's ``BootstrapResult{version=1, address=2, protocol=3}``."""
    return varint(1 << 3 | _VARINT) + varint(version) + _len_field(2, address.encode()) + _len_field(3, protocol.encode())


def encode_runtime_info(name: str, version: str, revision: str = "", options: bytes | None = None) -> bytes:
    """``containerd.types.RuntimeInfo{name=1, version=2 {version=1, revision=2}, options=3}`` for ``-info``.

    ``options`` is the encoded ``Any`` read from stdin, echoed back as is.
    """
    ver = _len_field(1, version.encode()) if version else b""
    if revision:
        ver += _len_field(2, revision.encode())
    out = _len_field(1, name.encode()) + _len_field(2, ver)
    if options:
        out += _len_field(3, options)
    return out


def write_options_file(bundle: str, options: tuple[str, bytes] | None) -> None:
    """Keep the options in ``bundle`` for the serving shim and ``delete`` (removed when there are none)."""
    path = os.path.join(bundle, OPTIONS_FILE)
    if options is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, encode_any(*options))
    finally:
        os.close(fd)
    os.rename(tmp, path)


def read_options_file(bundle: str) -> tuple[str, bytes] | None:
    """The options ``start`` kept in ``bundle``, or ``None``."""
    try:
        fd = os.open(os.path.join(bundle, OPTIONS_FILE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        data = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return _decode_any(data)
