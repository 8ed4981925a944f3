"""Our hand-written .proto files against containerd 1.6's own.

Debian's golang-github-containerd-containerd-dev ships containerd's .proto
sources; protoc compiles them to descriptors, and every message, enum and
service we generate in a ``containerd.*`` package must match field for field:
name, number, type, label and referenced type. (The ttrpc framing messages have
no .proto in Go ttrpc 1.1.1; the interop tests cover them on the wire.)
"""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor

import shimtypes.pb

GOCODE = Path("/usr/share/gocode/src")
CONTAINERD = GOCODE / "github.com/containerd/containerd"
CONTAINERD_PROTOS = (
    "runtime/v2/task/shim.proto",
    "api/events/task.proto",
    "api/services/ttrpc/events/v1/events.proto",
    "api/services/events/v1/events.proto",
    "api/services/introspection/v1/introspection.proto",
    "api/services/version/v1/version.proto",
    "api/types/platform.proto",
    "api/types/mount.proto",
    "api/types/task/task.proto",
    "runtime/v2/runc/options/oci.proto",
)

NEWER_THAN_1_6 = frozenset(
    {
        # containerd 2.x only, written from the reference sheet's field tables;
        # tests/shim/test_bootstrap.py checks them on the wire.
        ".containerd.types.RuntimeInfo",
        ".containerd.types.RuntimeInfo.AnnotationsEntry",
        ".containerd.types.RuntimeVersion",
        ".containerd.runtime.bootstrap.v1.Extension",
        ".containerd.runtime.bootstrap.v1.BootstrapParams",
        ".containerd.runtime.bootstrap.v1.BootstrapResult",
        ".containerd.runtime.bootstrap.v1.BootstrapResult.MetadataEntry",
        ".containerd.runtime.bootstrap.v1.LogLevel",
    }
)


def _our_files() -> list[FileDescriptor]:
    files = []
    for info in pkgutil.iter_modules(shimtypes.pb.__path__):
        if info.name.endswith("_pb2"):
            module = importlib.import_module(f"shimtypes.pb.{info.name}")
            files.append(module.DESCRIPTOR)
    return files


def _as_proto(fd: FileDescriptor) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    fd.CopyToProto(proto)
    return proto


def _walk_messages(
    prefix: str, messages: list[descriptor_pb2.DescriptorProto]
) -> Iterator[tuple[str, descriptor_pb2.DescriptorProto]]:
    for message in messages:
        name = f"{prefix}.{message.name}"
        yield name, message
        yield from _walk_messages(name, list(message.nested_type))


@pytest.fixture(scope="module")
def containerd_descriptors(tmp_path_factory: pytest.TempPathFactory) -> descriptor_pb2.FileDescriptorSet:
    protoc = shutil.which("protoc")
    assert protoc, "protoc missing: scripts/setup-system installs protobuf-compiler"
    assert CONTAINERD.is_dir(), (
        f"{CONTAINERD} missing: scripts/setup-system installs golang-github-containerd-containerd-dev"
    )
    out = tmp_path_factory.mktemp("protos") / "containerd.pb"
    subprocess.run(
        [
            protoc,
            f"-I{GOCODE}",
            f"-I{GOCODE / 'github.com/gogo/protobuf'}",
            f"-I{GOCODE / 'github.com/gogo/googleapis'}",
            "-I/usr/include",
            "--include_imports",
            f"--descriptor_set_out={out}",
            *(f"github.com/containerd/containerd/{p}" for p in CONTAINERD_PROTOS),
        ],
        check=True,
    )
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _index(
    files: list[descriptor_pb2.FileDescriptorProto],
) -> tuple[
    dict[str, descriptor_pb2.DescriptorProto],
    dict[str, descriptor_pb2.EnumDescriptorProto],
    dict[str, descriptor_pb2.ServiceDescriptorProto],
]:
    messages: dict[str, descriptor_pb2.DescriptorProto] = {}
    enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
    services: dict[str, descriptor_pb2.ServiceDescriptorProto] = {}
    for f in files:
        for name, message in _walk_messages(f".{f.package}", list(f.message_type)):
            messages[name] = message
            for enum in message.enum_type:
                enums[f"{name}.{enum.name}"] = enum
        for enum in f.enum_type:
            enums[f".{f.package}.{enum.name}"] = enum
        for service in f.service:
            services[f".{f.package}.{service.name}"] = service
    return messages, enums, services


# Wire-identical stand-ins: our status message lives in package ttrpc so that it
# never collides with googleapis' google.rpc.Status in the default pool.
EQUIVALENT_TYPES = {".ttrpc.Status": ".google.rpc.Status"}


def _fields(message: descriptor_pb2.DescriptorProto) -> list[tuple[str, int, int, int, str]]:
    return sorted(
        (f.name, f.number, f.type, f.label, EQUIVALENT_TYPES.get(f.type_name, f.type_name))
        for f in message.field
    )


def _ours() -> list[descriptor_pb2.FileDescriptorProto]:
    return [p for p in map(_as_proto, _our_files()) if p.package.startswith("containerd.")]


def test_our_containerd_packages_are_checked() -> None:
    packages = {p.package for p in _ours()}
    assert {
        "containerd.task.v2",
        "containerd.types",
        "containerd.v1.types",
        "containerd.events",
        "containerd.services.events.ttrpc.v1",
    } <= packages


def test_messages_match_containerd(containerd_descriptors: descriptor_pb2.FileDescriptorSet) -> None:
    theirs, _, _ = _index(list(containerd_descriptors.file))
    ours, _, _ = _index(_ours())
    assert ours
    for name, message in ours.items():
        if name in NEWER_THAN_1_6:
            continue
        assert name in theirs, f"{name}: no such message in containerd 1.6"
        assert _fields(message) == _fields(theirs[name]), f"{name}: fields differ from containerd"


def test_enums_match_containerd(containerd_descriptors: descriptor_pb2.FileDescriptorSet) -> None:
    _, theirs, _ = _index(list(containerd_descriptors.file))
    _, ours, _ = _index(_ours())
    assert ".containerd.v1.types.Status" in ours
    for name, enum in ours.items():
        if name in NEWER_THAN_1_6:
            continue
        assert name in theirs, f"{name}: no such enum in containerd 1.6"
        assert sorted((v.name, v.number) for v in enum.value) == sorted(
            (v.name, v.number) for v in theirs[name].value
        ), f"{name}: values differ"


def test_services_match_containerd(containerd_descriptors: descriptor_pb2.FileDescriptorSet) -> None:
    _, _, theirs = _index(list(containerd_descriptors.file))
    _, _, ours = _index(_ours())
    assert ".containerd.task.v2.Task" in ours
    for name, service in ours.items():
        assert name in theirs, f"{name}: no such service in containerd 1.6"
        mine = sorted((m.name, m.input_type, m.output_type) for m in service.method)
        assert mine == sorted((m.name, m.input_type, m.output_type) for m in theirs[name].method), name


def test_every_containerd_task_message_is_generated(
    containerd_descriptors: descriptor_pb2.FileDescriptorSet,
) -> None:
    theirs, _, _ = _index(list(containerd_descriptors.file))
    ours, _, _ = _index(_ours())
    wanted = {n for n in theirs if n.startswith((".containerd.task.v2.", ".containerd.events.Task"))}
    assert wanted, "containerd descriptors lack the task API"
    assert wanted <= set(ours), f"missing: {sorted(wanted - set(ours))}"
