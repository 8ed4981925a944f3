"""Runtime options set where CRI users set them: the runtime's ``options`` table in containerd's config.

``ctr`` has no flag for ``NoNewKeyring``; a CRI runtime handler's
``[...runtimes.NAME.options]`` sends it (and ``BinaryName``) to the shim as
``containerd.runc.v1.Options``. The handlers (``_daemon.OPTIONS_HANDLERS``)
run the Go runc shim of the daemon's version and pyrunc with the same options;
``BinaryName`` is a runc that records its argv and execs the real one, so
runc's real command line is what is checked, the same for both.
"""

from __future__ import annotations

import pytest

from ._daemon import OPTIONS_HANDLERS, CRIDaemon
from ._pods import Pods


def _runc_calls(daemon: CRIDaemon, id: str) -> list[list[str]]:
    """The recorded runc command lines that name ``id`` (argv without the program)."""
    if not daemon.runc_argv.exists():
        return []
    return [line.split() for line in daemon.runc_argv.read_text().splitlines() if id in line.split()]


@pytest.mark.parametrize("handler", OPTIONS_HANDLERS)
def test_no_new_keyring_reaches_runc_create(pods: Pods, cri_daemon: CRIDaemon, handler: str) -> None:
    pod = pods.pod()
    app = pods.container(pod, "app", ["/bin/sleep", "inf"])
    for id in (pod.id, app):
        calls = _runc_calls(cri_daemon, id)  # BinaryName: the recorder ran for it
        creates = [c for c in calls if "create" in c]
        assert len(creates) == 1, calls
        create = creates[0]
        assert "--no-new-keyring" in create[create.index("create") :], create
        assert "start" in {word for call in calls for word in call}, calls
