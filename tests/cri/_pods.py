"""Per-test pods on one handler: created through CRI, always stopped and removed.

Each pod gets its own cgroup parent below the daemon's, so a test can find
its containers' cgroups (cgroupfs driver: ``<parent>/<container id>``).
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._client import CRIClient, CRIError, ContainerSpec, ContainerState, Pod, PodSpec
from _containerd import CGROUP_ROOT, wait_until

from ._daemon import APP_IMAGE, CRIDaemon


class Pods:
    """Pods (and their containers) one test made, on ``handler``."""

    def __init__(self, daemon: CRIDaemon, client: CRIClient, handler: str, test: str) -> None:
        self.daemon, self.cri, self.handler = daemon, client, handler
        self._tag = "".join(c if c.isalnum() else "-" for c in test.lower())[:40].strip("-")
        self.pods: list[Pod] = []
        self.containers: dict[str, Pod] = {}
        """Container id -> its pod, for every container made through ``container``."""

    def pod(self, name: str = "pod", *, share_pid: bool = False) -> Pod:
        uid = uuid.uuid4().hex
        spec = PodSpec(
            name=f"{self._tag}-{name}-{uid[:6]}",
            handler=self.handler,
            cgroup_parent=f"{self.daemon.cgroup_parent}/pod{uid}",
            log_directory=str(self.daemon.log_dir / uid),
            share_pid=share_pid,
            uid=uid,
        )
        pod = self.cri.run_pod(spec)
        self.pods.append(pod)
        return pod

    def container(
        self,
        pod: Pod,
        name: str,
        command: Sequence[str],
        *,
        start: bool = True,
        tty: bool = False,
        stdin: bool = False,
        memory_limit: int = 0,
        env: Mapping[str, str] | None = None,
    ) -> str:
        spec = ContainerSpec(name, command, APP_IMAGE, tty=tty, stdin=stdin, memory_limit=memory_limit, env=env or {})
        id = self.cri.create_container(pod, spec)
        self.containers[id] = pod
        if start:
            self.cri.start_container(id)
        return id

    def stop_container(self, id: str, timeout: int, *, deadline: float = 60) -> None:
        self.cri.stop_container(id, timeout, deadline=deadline)

    def stop_pod(self, pod: Pod) -> None:
        self.cri.stop_pod(pod.id)

    def wait_state(self, id: str, state: str, timeout: float = 20) -> ContainerState:
        last: list[ContainerState] = []

        def reached() -> bool:
            last[:] = [self.cri.container_status(id)]
            return last[0].state == state

        wait_until(reached, timeout, f"container {id[:12]} to be {state} (last: {last})")
        return last[0]

    def cgroup(self, id: str, controller: str) -> Path:
        """The container's cgroup directory in one v1 hierarchy."""
        return CGROUP_ROOT / controller / self.containers[id].spec.cgroup_parent.lstrip("/") / id

    def log_file(self, id: str) -> Path:
        return Path(self.cri.container_status(id).log_path)

    def teardown(self) -> list[str]:
        """Stop and remove every pod; the errors, as text."""
        errors: list[str] = []
        for pod in reversed(list(self.pods)):
            try:
                self.stop_pod(pod)
                self.cri.remove_pod(pod.id)
                self.pods.remove(pod)
            except CRIError as err:
                errors.append(f"pod {pod.spec.name}: {err}")
        return errors

    def kill_container_processes(self) -> list[int]:
        """SIGKILL whatever still runs in this case's containers' cgroups (after a known gap left it)."""
        killed: list[int] = []
        for id in self.containers:
            try:
                pids = [int(p) for p in (self.cgroup(id, "pids") / "cgroup.procs").read_text().split()]
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
        return killed
