"""The per-call context a raw handler receives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from shimtypes import PeerCredentials

__all__ = ["MethodContext", "metadata_mapping"]

_EMPTY: Mapping[str, Sequence[str]] = MappingProxyType({})


def metadata_mapping(pairs: Sequence[tuple[str, str]]) -> Mapping[str, Sequence[str]]:
    """Lower-cased keys, every value kept in arrival order."""
    if not pairs:
        return _EMPTY
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        key = key.lower()
        values = out.get(key)
        if values is None:
            out[key] = [value]
        else:
            values.append(value)
    return out


class MethodContext:
    """Satisfies ``shimtypes.TTRPCMethodContext``; plain slots for speed."""

    __slots__ = ("service", "method", "metadata", "deadline", "peer")

    service: str
    method: str
    metadata: Mapping[str, Sequence[str]]
    deadline: float | None
    """``time.monotonic()`` value after which the server cancels the handler."""
    peer: PeerCredentials | None

    def __init__(
        self,
        service: str,
        method: str,
        metadata: Mapping[str, Sequence[str]],
        deadline: float | None,
        peer: PeerCredentials | None,
    ) -> None:
        self.service = service
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.peer = peer

    def __repr__(self) -> str:
        return (
            f"MethodContext(service={self.service!r}, method={self.method!r}, "
            f"metadata={dict(self.metadata)!r}, deadline={self.deadline!r}, peer={self.peer!r})"
        )
