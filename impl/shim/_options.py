"""``ShimOptions``: how the runner makes a runtime's short-lived processes cheap.

A plain class (no ``typing``, no ``collections`` at run time): the ``start``
and ``delete`` processes build it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Literal

__all__ = ["SERVING_MODES", "ShimOptions"]

SERVING_MODES = ("zygote", "fork", "exec")
"""The ways ``start`` can make the serving process (see ``ShimOptions.serving``)."""


class ShimOptions:
    """Optional behaviour of ``run`` that any runtime can choose; immutable.

    ``serving``: ``None`` (default) makes ``start`` call
    ``init(...).start_shim(opts)``, the runtime's own. Otherwise ``start``
    does the standard thing itself, without calling ``init`` (so without
    importing ``shimtypes`` or ``typing``): bind the socket, make the serving
    process, write ``./address``. The serving process is made by

    - ``"exec"``: re-executing this program (the Go shims' pattern);
    - ``"fork"``: forking ``start`` itself (saves the interpreter start);
    - ``"zygote"``: a pre-imported fork server per program and environment
      (``impl.shim.zygote``), started by the first ``start``; until it
      answers, as ``"fork"``. Saves the serving path's imports too.

    ``SHIMTYPES_ZYGOTE=0`` in the environment downgrades ``zygote`` to
    ``fork``; ``SHIMTYPES_ZYGOTE=exec`` makes every mode ``exec``. Forking
    runs the serving process in a process whose ``main`` ran without the
    serve arguments: only for programs that do the same before ``run``
    whatever the action.

    ``preload``: modules a zygote imports besides the serving path (the
    runtime's task service, say), so the shims it forks find them imported.

    ``cleanup``: the ``delete`` action without ``init``: called with
    ``(bundle, namespace, id)``, returns ``(pid, exit_status, exited_at_ns)``
    which the runner encodes as the ``DeleteResponse`` without protobuf.
    ``None`` (default) calls ``init(...).cleanup()``.
    """

    __slots__ = ("cleanup", "preload", "serving")

    serving: Literal["zygote", "fork", "exec"] | None
    preload: tuple[str, ...]
    cleanup: Callable[[str, str, str], tuple[int, int, int]] | None

    def __init__(
        self,
        *,
        serving: Literal["zygote", "fork", "exec"] | None = None,
        preload: Sequence[str] = (),
        cleanup: Callable[[str, str, str], tuple[int, int, int]] | None = None,
    ) -> None:
        if serving is not None and serving not in SERVING_MODES:
            raise ValueError(f"ShimOptions.serving: {serving!r} is not one of {', '.join(SERVING_MODES)} or None")
        object.__setattr__(self, "serving", serving)
        object.__setattr__(self, "preload", tuple(preload))
        object.__setattr__(self, "cleanup", cleanup)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ShimOptions is immutable (setting {name!r})")

    def __repr__(self) -> str:
        return f"ShimOptions(serving={self.serving!r}, preload={self.preload!r}, cleanup={self.cleanup!r})"
