"""Session fixture: one private containerd per pinned version (1.6, 1.7, 2.1) for the ctr scenarios.

``containerd`` is parametrized over ``_peers.VERSIONS`` at session scope, so
pytest runs every e2e case of one version on one daemon before starting the
next. containerd's log, which also carries every shim's log lines (shims
write to the bundle's ``log`` FIFO, which containerd copies to its stderr),
is attached to each failing test's report (``watch_log``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from _containerd import Containerd, install_busybox, missing_requirement, new_tmp, running, watch_log
from _peers import VERSIONS, containerd_peer


@pytest.fixture(scope="session", params=VERSIONS, ids=lambda v: f"containerd-{v}")
def containerd(request: pytest.FixtureRequest) -> Iterator[Containerd]:
    reason = missing_requirement()
    if reason is not None:
        pytest.skip(f"e2e: {reason}")
    daemon = Containerd(containerd_peer(request.param), new_tmp("shimtypes-e2e-"))
    install_busybox(daemon.rootfs)
    with running(daemon):
        yield daemon


@pytest.fixture
def ctrd(containerd: Containerd, request: pytest.FixtureRequest) -> Containerd:
    """The version's containerd; its log since the test began goes into a failure's report."""
    watch_log(containerd, request.node)
    return containerd
