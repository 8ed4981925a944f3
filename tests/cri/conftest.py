"""Fixtures of the CRI suite: one private containerd per pinned version, both handlers.

``cri_daemon`` is parametrized over the pinned versions (session scope, so
pytest runs every case of one version before starting the next daemon);
``handler`` over ``runc`` and ``pyrunc``. Cases listed in ``_gaps.KNOWN_GAPS``
become strict expected failures. A failing case's report carries the
daemon's log (containerd's and every shim's) since the case began.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile

from collections.abc import Iterator
from pathlib import Path

import pytest

from _containerd import missing_requirement, mounts_under, wait_until, watch_log
from _peers import VERSIONS, containerd_peer, runc

from ._client import CRIClient, CRIError
from ._daemon import RUNC_ROOT, CRIDaemon
from ._gaps import gap_for
from ._pods import Pods

HANDLER_NAMES = ("runc", "pyrunc")
_HERE = Path(__file__).parent


def _params(item: pytest.Item) -> tuple[str, str] | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    version, handler = callspec.params.get("cri_daemon"), callspec.params.get("handler")
    if isinstance(version, str) and isinstance(handler, str):
        return version, handler
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.cri)
        params = _params(item)
        if params is None:
            continue
        gap = gap_for(getattr(item, "originalname", item.name), params[1], params[0])
        if gap is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"known gap (issue 9): {gap.why}"))


@pytest.fixture(scope="session", params=VERSIONS, ids=lambda v: f"containerd-{v}")
def cri_daemon(request: pytest.FixtureRequest) -> Iterator[CRIDaemon]:
    reason = missing_requirement()
    if reason is not None:
        pytest.skip(f"cri: {reason}")
    version: str = request.param
    tmp = Path(tempfile.mkdtemp(prefix="shimtypes-cri-"))
    daemon = CRIDaemon(containerd_peer(version), tmp, debug=os.environ.get("SHIMTYPES_CRI_DEBUG") == "1")
    try:
        daemon.setup()
        yield daemon
    finally:
        leftovers = _clean_up(daemon)
        shutil.rmtree(tmp, ignore_errors=True)
    assert not leftovers, f"containerd {version}: left behind after every pod was removed: {leftovers}"


def _clean_up(daemon: CRIDaemon) -> list[str]:
    """Remove every pod, stop the daemon, then reap whatever is left (named in the return value)."""
    leftovers: list[str] = []
    if daemon.proc is not None:
        client = CRIClient(daemon.endpoint, timeout=30)
        try:
            for pod in client.list_pods():
                for call in (client.stop_pod, client.remove_pod):
                    try:
                        call(pod.id)
                    except CRIError as err:
                        leftovers.append(f"pod {pod.name}: {err}")
        except CRIError as err:
            leftovers.append(str(err))
        finally:
            client.close()
    ids = set(daemon.bundles())
    sockets = daemon.shim_sockets()
    daemon.stop()
    try:
        wait_until(lambda: not daemon.shims(), 10, "the daemon's shims to exit")
    except AssertionError:
        for shim in daemon.shims():
            leftovers.append(f"shim pid {shim.pid} for {shim.id}")
            try:
                os.kill(shim.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for path in sockets:
        if os.path.exists(path):
            leftovers.append(f"shim socket {path}")
            os.unlink(path)
    for id in ids:
        leftovers.append(f"bundle {id}")
        if (RUNC_ROOT / id).exists():
            subprocess.run(["runc", "--root", str(RUNC_ROOT), "delete", "--force", id], capture_output=True, check=False)
    for point in sorted(mounts_under(daemon.tmp), key=len, reverse=True):
        leftovers.append(f"mount {point}")
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    daemon.remove_cgroup_parent()
    leftovers.extend(f"cgroup {d}" for d in daemon.cgroup_dirs())
    return leftovers


@pytest.fixture(scope="session")
def cri(cri_daemon: CRIDaemon) -> Iterator[CRIClient]:
    client = CRIClient(cri_daemon.endpoint)
    client.wait_ready(30)
    yield client
    client.close()


@pytest.fixture(params=HANDLER_NAMES)
def handler(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def pods(cri_daemon: CRIDaemon, cri: CRIClient, handler: str, request: pytest.FixtureRequest) -> Iterator[Pods]:
    """This case's pods on ``handler``; stopped and removed after it (a failure there fails the case)."""
    yield from _pods(cri_daemon, cri, handler, request)


def _pods(daemon: CRIDaemon, cri: CRIClient, handler: str, request: pytest.FixtureRequest) -> Iterator[Pods]:
    watch_log(daemon, request.node)
    cri.wait_ready(30)
    made = Pods(daemon, cri, handler, request.node.name)
    yield made
    if gap_for(request.node.originalname, handler, daemon.peer.version) is not None:
        # a gap (e.g. a kill that never completes) can keep CRI from ever stopping the pod:
        # clear the case's cgroups first so the daemon stays usable for the cases after it
        made.kill_container_processes()
    errors = made.teardown()
    if errors:
        pytest.fail("tearing down the case's pods: " + "; ".join(errors))


SLOW_KILL_RUNC = """#!/bin/sh
# runc, but "runc kill" answers 0.5 s after the signal went out: whatever the killed process's
# exit sets off in the shim happens while its Kill is still in flight
{runc} "$@"; rc=$?
for arg in "$@"; do if [ "$arg" = kill ]; then sleep 0.5; break; fi; done
exit $rc
"""


@pytest.fixture
def slow_kill_daemon(cri_daemon: CRIDaemon) -> Iterator[CRIDaemon]:
    """A daemon of ``cri_daemon``'s version, for one case, whose shims drive a slow-to-answer ``runc kill``."""
    real = runc()
    assert real is not None
    tmp = Path(tempfile.mkdtemp(prefix="shimtypes-cri-"))
    daemon = CRIDaemon(cri_daemon.peer, tmp, wrappers={"runc": SLOW_KILL_RUNC.format(runc=real)})
    try:
        daemon.setup()
        yield daemon
    finally:
        leftovers = _clean_up(daemon)
        shutil.rmtree(tmp, ignore_errors=True)
    assert not leftovers, f"slow-kill containerd {daemon.peer.version}: left behind: {leftovers}"


@pytest.fixture
def slow_kill_pods(slow_kill_daemon: CRIDaemon, handler: str, request: pytest.FixtureRequest) -> Iterator[Pods]:
    client = CRIClient(slow_kill_daemon.endpoint)
    try:
        yield from _pods(slow_kill_daemon, client, handler, request)
    finally:
        client.close()
