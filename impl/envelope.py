"""What containerd refuses in an event envelope, checked in one place.

The host's exchange refuses a forwarded envelope with the problem as an
InvalidArgument; a shim checks before sending, so a bad event is reported
where it was made. Plain string and attribute checks, no imports: a shim's
start path may load this.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from shimtypes.pb.events_pb2 import Envelope

__all__ = ["IDENTIFIER_MAX", "envelope_problem", "identifier_problem"]

IDENTIFIER_MAX = 76
"""containerd's ``identifiers.Validate`` limit (namespaces, topic components)."""

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_SEPARATORS = frozenset("._-")


def identifier_problem(s: str) -> str | None:
    """Why ``s`` is not a containerd identifier (alphanumeric runs joined by single
    ``.``, ``_`` or ``-``, at most 76 characters); None if it is one."""
    if not s:
        return "must not be empty"
    if len(s) > IDENTIFIER_MAX:
        return f"is longer than {IDENTIFIER_MAX} characters"
    previous_separator = True  # no separator first
    for c in s:
        if c in _ALNUM:
            previous_separator = False
        elif c in _SEPARATORS and not previous_separator:
            previous_separator = True
        else:
            return "must be letters and digits, with single '.', '_' or '-' between them"
    if previous_separator:
        return "must be letters and digits, with single '.', '_' or '-' between them"
    return None


def envelope_problem(envelope: Envelope, *, require_event: bool = False) -> str | None:
    """Why containerd would refuse ``envelope`` (``exchange.Forward``); None if fine.

    containerd checks the namespace and every topic component as identifiers
    and needs a timestamp. ``require_event``: also refuse an envelope with no
    event (a shim's publisher, since containerd cannot decode one).
    """
    if problem := identifier_problem(envelope.namespace):
        hint = " (envelope has no namespace)" if not envelope.namespace else ""
        return f"invalid namespace {envelope.namespace!r}: {problem}{hint}"
    topic = envelope.topic
    if not topic.startswith("/") or len(topic) < 2:
        return f"invalid topic {topic!r}: must start with '/' and have a component"
    for component in topic[1:].split("/"):
        if problem := identifier_problem(component):
            return f"invalid topic {topic!r}: component {component!r} {problem}"
    if require_event and (not envelope.HasField("event") or not envelope.event.type_url):
        return f"envelope for {topic} has no event"
    ts = envelope.timestamp
    if not envelope.HasField("timestamp") or (ts.seconds == 0 and ts.nanos == 0):
        return f"invalid envelope for {topic}: zero timestamp (timestamp must be set)"
    return None
