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

    ``shim_version``: the shim API version ``start`` announces. 2 (default)
    answers the bare address every containerd accepts; 3 (containerd 2.x
    only: 1.6 and 1.7 refuse it) answers ``{"version":3,...}`` JSON, or a
    ``BootstrapResult`` with version 3 to a 2.3 caller, and containerd then
    calls ``containerd.task.v3.Task``. ``SHIMTYPES_SHIM_VERSION`` in the
    environment overrides it for one install.

    ``before_serve``: called in the serving process with the bundle path,
    once logging is set up and before anything is served (joining the shim
    cgroup the runtime options name, say); raising stops the shim.
    """

    __slots__ = ("before_serve", "cleanup", "preload", "serving", "shim_version")

    serving: Literal["zygote", "fork", "exec"] | None
    preload: tuple[str, ...]
    cleanup: Callable[[str, str, str], tuple[int, int, int]] | None
    shim_version: int
    before_serve: Callable[[str], None] | None

    def __init__(
        self,
        *,
        serving: Literal["zygote", "fork", "exec"] | None = None,
        preload: Sequence[str] = (),
        cleanup: Callable[[str, str, str], tuple[int, int, int]] | None = None,
        shim_version: int = 2,
        before_serve: Callable[[str], None] | None = None,
    ) -> None:
        if serving is not None and serving not in SERVING_MODES:
            raise ValueError(f"ShimOptions.serving: {serving!r} is not one of {', '.join(SERVING_MODES)} or None")
        object.__setattr__(self, "serving", serving)
        object.__setattr__(self, "preload", tuple(preload))
        if shim_version not in (2, 3):
            raise ValueError(f"ShimOptions.shim_version: {shim_version!r} is not 2 or 3")
        object.__setattr__(self, "cleanup", cleanup)
        object.__setattr__(self, "shim_version", shim_version)
        object.__setattr__(self, "before_serve", before_serve)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ShimOptions is immutable (setting {name!r})")

    def __repr__(self) -> str:
        return (
            f"ShimOptions(serving={self.serving!r}, preload={self.preload!r}, "
            f"cleanup={self.cleanup!r}, shim_version={self.shim_version!r})"
        )
