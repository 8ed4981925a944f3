"""``shim_context``: what ``init`` is told about this invocation, from the flags and environment."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from shimtypes._shim import ShimContext

    from ._flags import ShimFlags

__all__ = ["TTRPC_ADDRESS_ENV", "shim_context"]

TTRPC_ADDRESS_ENV = "TTRPC_ADDRESS"
"""Where containerd's ttrpc events service listens (set by containerd for every shim)."""


def shim_context(flags: ShimFlags) -> ShimContext:
    """The ``ShimContext`` for ``flags``: the bundle is ``-bundle`` or the working directory."""
    from shimtypes._shim import ShimContext

    return ShimContext(
        id=flags.id,
        namespace=flags.namespace,
        bundle=os.path.abspath(flags.bundle or os.getcwd()),
        address=flags.address,
        ttrpc_address=os.environ.get(TTRPC_ADDRESS_ENV, ""),
        containerd_binary=flags.publish_binary,
        debug=flags.debug,
    )
