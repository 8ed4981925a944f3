"""A small typed CRI client (grpcio) over the stubs generated at test time.

The tests speak in the dataclasses below; protobuf messages stay inside
this module (the stubs only exist once ``_stubs`` has generated them, so
mypy never sees them). An RPC failure is a ``CRIError`` naming the method,
the gRPC code and containerd's message.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import grpc

from ._stubs import cri_modules

CONTAINER_STATES: Final = ("CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED", "CONTAINER_UNKNOWN")
POD_STATES: Final = ("SANDBOX_READY", "SANDBOX_NOTREADY")


class CRIError(Exception):
    """A CRI call failed."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{method}: {code.name}: {details}")
        self.method, self.code, self.details = method, code, details


@dataclass(frozen=True)
class PodSpec:
    name: str
    handler: str
    cgroup_parent: str
    log_directory: str
    share_pid: bool = False
    namespace: str = "shimtypes"
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    command: Sequence[str]
    image: str
    tty: bool = False
    stdin: bool = False
    memory_limit: int = 0
    """Bytes; 0 = no limit."""
    log_path: str = ""
    """Relative to the pod's log directory; default ``<name>.log``."""
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Pod:
    id: str
    spec: PodSpec


@dataclass(frozen=True)
class PodState:
    id: str
    name: str
    state: str
    handler: str


@dataclass(frozen=True)
class ContainerState:
    id: str
    name: str
    pod_id: str
    """Only from ``list_containers`` (ContainerStatus does not carry it)."""
    state: str
    exit_code: int
    reason: str
    log_path: str


@dataclass(frozen=True)
class ExecResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


@dataclass(frozen=True)
class Usage:
    """One container's cpu (cumulative ns) and memory (working set bytes); 0 when CRI has none."""

    id: str
    cpu_ns: int
    memory: int


@dataclass(frozen=True)
class PodUsage:
    id: str
    cpu_ns: int
    memory: int
    containers: Mapping[str, Usage]


@dataclass(frozen=True)
class Resources:
    memory_limit: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    cpu_shares: int = 0


class CRIClient:
    """``RuntimeService`` and ``ImageService`` on one channel to ``endpoint`` (``unix://...``)."""

    def __init__(self, endpoint: str, *, timeout: float = 30) -> None:
        self._pb, grpc_mod = cri_modules()
        self._channel = grpc.insecure_channel(endpoint)
        self._rt: Any = grpc_mod.RuntimeServiceStub(self._channel)
        self._img: Any = grpc_mod.ImageServiceStub(self._channel)
        self.timeout = timeout
        self._pod_configs: dict[str, Any] = {}

    def close(self) -> None:
        self._channel.close()

    def _call(self, stub: Any, method: str, request: Any, timeout: float | None = None) -> Any:
        try:
            return getattr(stub, method)(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as err:
            raise CRIError(method, err.code(), err.details() or "") from None

    # -- runtime ---------------------------------------------------------------------

    def wait_ready(self, timeout: float) -> None:
        """Until CRI answers ``Version`` (after a daemon (re)start)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.version()
                return
            except CRIError as err:
                if time.monotonic() > deadline:
                    raise AssertionError(f"CRI not ready after {timeout}s: {err}") from None
                time.sleep(0.05)

    def version(self) -> tuple[str, str]:
        r = self._call(self._rt, "Version", self._pb.VersionRequest())
        return str(r.runtime_name), str(r.runtime_version)

    def image_present(self, ref: str) -> bool:
        r = self._call(self._img, "ImageStatus", self._pb.ImageStatusRequest(image=self._pb.ImageSpec(image=ref)))
        return bool(r.HasField("image"))

    def run_pod(self, spec: PodSpec) -> Pod:
        pb = self._pb
        mode = pb.NamespaceMode.Value
        pid = mode("POD") if spec.share_pid else mode("CONTAINER")
        ns = pb.NamespaceOption(network=mode("NODE"), pid=pid, ipc=mode("POD"))
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=spec.name, uid=spec.uid, namespace=spec.namespace, attempt=0),
            log_directory=spec.log_directory,
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=spec.cgroup_parent,
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns),
            ),
        )
        r = self._call(self._rt, "RunPodSandbox", pb.RunPodSandboxRequest(config=config, runtime_handler=spec.handler), 60)
        self._pod_configs[r.pod_sandbox_id] = config
        return Pod(str(r.pod_sandbox_id), spec)

    def stop_pod(self, pod_id: str, *, deadline: float = 60) -> None:
        self._call(self._rt, "StopPodSandbox", self._pb.StopPodSandboxRequest(pod_sandbox_id=pod_id), deadline)

    def remove_pod(self, pod_id: str, *, deadline: float = 60) -> None:
        self._call(self._rt, "RemovePodSandbox", self._pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id), deadline)
        self._pod_configs.pop(pod_id, None)

    def pod_status(self, pod_id: str) -> PodState:
        r = self._call(self._rt, "PodSandboxStatus", self._pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id))
        return self._pod_state(r.status)

    def list_pods(self) -> list[PodState]:
        r = self._call(self._rt, "ListPodSandbox", self._pb.ListPodSandboxRequest())
        return [self._pod_state(p) for p in r.items]

    def _pod_state(self, p: Any) -> PodState:
        return PodState(str(p.id), str(p.metadata.name), POD_STATES[p.state], str(p.runtime_handler))

    def create_container(self, pod: Pod, spec: ContainerSpec) -> str:
        pb = self._pb
        resources = pb.LinuxContainerResources(memory_limit_in_bytes=spec.memory_limit)
        config = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=spec.name, attempt=0),
            image=pb.ImageSpec(image=spec.image),
            command=list(spec.command),
            log_path=spec.log_path or f"{spec.name}.log",
            envs=[pb.KeyValue(key=k, value=v) for k, v in spec.env.items()],
            tty=spec.tty,
            stdin=spec.stdin,
            linux=pb.LinuxContainerConfig(resources=resources),
        )
        request = pb.CreateContainerRequest(
            pod_sandbox_id=pod.id, config=config, sandbox_config=self._pod_configs[pod.id]
        )
        return str(self._call(self._rt, "CreateContainer", request, 60).container_id)

    def start_container(self, id: str) -> None:
        self._call(self._rt, "StartContainer", self._pb.StartContainerRequest(container_id=id), 60)

    def run_container(self, pod: Pod, spec: ContainerSpec) -> str:
        id = self.create_container(pod, spec)
        self.start_container(id)
        return id

    def stop_container(self, id: str, timeout: int = 0, *, deadline: float = 60) -> None:
        self._call(self._rt, "StopContainer", self._pb.StopContainerRequest(container_id=id, timeout=timeout), deadline)

    def remove_container(self, id: str) -> None:
        self._call(self._rt, "RemoveContainer", self._pb.RemoveContainerRequest(container_id=id), 60)

    def container_status(self, id: str) -> ContainerState:
        r = self._call(self._rt, "ContainerStatus", self._pb.ContainerStatusRequest(container_id=id))
        s = r.status
        return ContainerState(
            str(s.id), str(s.metadata.name), "", CONTAINER_STATES[s.state], int(s.exit_code), str(s.reason),
            str(s.log_path),
        )  # fmt: skip

    def list_containers(self, pod_id: str = "") -> list[ContainerState]:
        pb = self._pb
        f = pb.ContainerFilter(pod_sandbox_id=pod_id)
        r = self._call(self._rt, "ListContainers", pb.ListContainersRequest(filter=f))
        return [
            ContainerState(str(c.id), str(c.metadata.name), str(c.pod_sandbox_id), CONTAINER_STATES[c.state], 0, "", "")
            for c in r.containers
        ]

    def exec_sync(self, id: str, command: Sequence[str], timeout: int = 10) -> ExecResult:
        request = self._pb.ExecSyncRequest(container_id=id, cmd=list(command), timeout=timeout)
        r = self._call(self._rt, "ExecSync", request, timeout + 30)
        return ExecResult(bytes(r.stdout), bytes(r.stderr), int(r.exit_code))

    def exec_url(self, id: str, command: Sequence[str], *, tty: bool, stdin: bool) -> str:
        """The streaming server URL for an exec (stdout always; stderr unless ``tty``)."""
        request = self._pb.ExecRequest(
            container_id=id, cmd=list(command), tty=tty, stdin=stdin, stdout=True, stderr=not tty
        )
        return str(self._call(self._rt, "Exec", request).url)

    def update_resources(self, id: str, resources: Resources) -> None:
        pb = self._pb
        linux = pb.LinuxContainerResources(
            memory_limit_in_bytes=resources.memory_limit,
            cpu_period=resources.cpu_period,
            cpu_quota=resources.cpu_quota,
            cpu_shares=resources.cpu_shares,
        )
        self._call(self._rt, "UpdateContainerResources", pb.UpdateContainerResourcesRequest(container_id=id, linux=linux))

    # -- stats -------------------------------------------------------------------------

    @staticmethod
    def _usage(s: Any) -> Usage:
        return Usage(
            str(s.attributes.id), int(s.cpu.usage_core_nano_seconds.value), int(s.memory.working_set_bytes.value)
        )

    def container_stats(self, id: str) -> Usage:
        r = self._call(self._rt, "ContainerStats", self._pb.ContainerStatsRequest(container_id=id))
        return self._usage(r.stats)

    def list_container_stats(self, pod_id: str) -> list[Usage]:
        pb = self._pb
        f = pb.ContainerStatsFilter(pod_sandbox_id=pod_id)
        r = self._call(self._rt, "ListContainerStats", pb.ListContainerStatsRequest(filter=f))
        return [self._usage(s) for s in r.stats]

    def pod_stats(self, pod_id: str) -> PodUsage:
        r = self._call(self._rt, "PodSandboxStats", self._pb.PodSandboxStatsRequest(pod_sandbox_id=pod_id))
        s = r.stats
        linux = s.linux
        containers = {str(c.attributes.id): self._usage(c) for c in linux.containers}
        return PodUsage(
            str(s.attributes.id), int(linux.cpu.usage_core_nano_seconds.value),
            int(linux.memory.working_set_bytes.value), containers,
        )  # fmt: skip
