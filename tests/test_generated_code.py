"""The committed protobuf modules and ttrpc bindings are exactly what proto/ regenerates to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_committed_pb_modules_match_protos(tmp_path: Path) -> None:
    protos = sorted((ROOT / "proto/shimtypes/pb").glob("*.proto"))
    assert protos
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
         f"--python_out={tmp_path}", f"--mypy_out={tmp_path}", *map(str, protos)],
        check=True, env=env, capture_output=True,
    )
    generated = sorted(p.name for p in (tmp_path / "shimtypes/pb").iterdir())
    committed = sorted(p.name for p in (ROOT / "shimtypes/pb").iterdir() if "_pb2" in p.name)
    assert generated == committed, "run scripts/regen-protos"
    for name in generated:
        fresh = (tmp_path / "shimtypes/pb" / name).read_text()
        assert fresh == (ROOT / "shimtypes/pb" / name).read_text(), f"{name} is stale: run scripts/regen-protos"


TTRPC_PROTOS = ("task", "events", "introspection", "version")
"""The .proto files whose services are served or called over ttrpc (as scripts/regen-protos lists them)."""

GRPC_PROTOS = ("introspection", "events_service", "version")
"""The .proto files whose services the host serves over gRPC with generated helpers (scripts/regen-protos)."""


@pytest.mark.parametrize(
    ("variable", "protos", "option", "committed", "suffix"),
    [
        ("TTRPC_PROTOS", TTRPC_PROTOS, None, "impl/ttrpc/_bindings", "_ttrpc.py"),
        ("GRPC_PROTOS", GRPC_PROTOS, "grpc", "impl/server/_bindings", "_grpc.py"),
    ],
    ids=["ttrpc", "grpc"],
)
def test_committed_bindings_match_protos(
    tmp_path: Path, variable: str, protos: tuple[str, ...], option: str | None, committed: str, suffix: str
) -> None:
    regen = (ROOT / "scripts/regen-protos").read_text()
    assert f'{variable}="{" ".join(protos)}"' in regen, "keep this list in step with scripts/regen-protos"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
         f"--plugin=protoc-gen-ttrpcpy={ROOT / 'scripts/protoc-gen-ttrpcpy'}", f"--ttrpcpy_out={tmp_path}",
         *([f"--ttrpcpy_opt={option}"] if option else []),
         *(str(ROOT / f"proto/shimtypes/pb/{name}.proto") for name in protos)],
        check=True, env=env, capture_output=True,
    )
    bindings = ROOT / committed
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == sorted(f"{name}{suffix}" for name in protos)
    assert generated == sorted(p.name for p in bindings.glob(f"*{suffix}")), "run scripts/regen-protos"
    for name in generated:
        fresh = (tmp_path / name).read_text()
        assert fresh == (bindings / name).read_text(), f"{name} is stale: run scripts/regen-protos"


def test_ttrpc_bindings_cover_every_rpc_in_the_protos() -> None:
    """Every rpc of a generated proto has a spec, a Protocol method and a client method."""
    import importlib
    import re

    for name in TTRPC_PROTOS:
        text = (ROOT / f"proto/shimtypes/pb/{name}.proto").read_text()
        module = importlib.import_module(f"impl.ttrpc._bindings.{name}_ttrpc")
        for service, body in re.findall(r"service (\w+) \{(.*?)\}", text, re.S):
            rpcs = re.findall(r"rpc (\w+)\(", body)
            assert rpcs, service
            spec = getattr(module, re.sub(r"(?<!^)(?=[A-Z])", "_", service).upper())
            assert list(spec.methods) == rpcs
            client = getattr(module, f"{service}Client")
            for rpc in rpcs:
                snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", rpc).lower()
                assert callable(getattr(client, snake)), f"{service}Client.{snake}"


def test_protoc_plugin_refuses_streaming_methods(tmp_path: Path) -> None:
    """A streaming rpc is an error naming it, never a silently missing binding."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
         f"--plugin=protoc-gen-ttrpcpy={ROOT / 'scripts/protoc-gen-ttrpcpy'}", f"--ttrpcpy_out={tmp_path}",
         str(ROOT / "proto/shimtypes/pb/events_service.proto")],
        env=env, capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "containerd.services.events.v1.Events/Subscribe streams" in result.stderr


def test_grpc_bindings_refuse_client_streaming(tmp_path: Path) -> None:
    """gRPC helpers cover unary and server-streaming methods; anything else is an error naming it."""
    (tmp_path / "proto").mkdir()
    (tmp_path / "proto/up.proto").write_text(
        'syntax = "proto3";\npackage t.v1;\nmessage M {}\nservice Up {\n  rpc Send(stream M) returns (M);\n}\n'
    )
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{tmp_path / 'proto'}",
         f"--plugin=protoc-gen-ttrpcpy={ROOT / 'scripts/protoc-gen-ttrpcpy'}", f"--ttrpcpy_out={tmp_path}",
         "--ttrpcpy_opt=grpc", str(tmp_path / "proto/up.proto")],
        env=env, capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "t.v1.Up/Send streams from the client" in result.stderr
    assert not list(tmp_path.glob("*.py"))


def test_generated_service_names_agree_with_the_hand_written_constants() -> None:
    """shimtypes (which imports no impl) and the host's gRPC bindings spell the same wire names."""
    from impl.server import INTROSPECTION_SERVICE, VERSION_SERVICE
    from impl.ttrpc import services
    from shimtypes import EVENTS_SERVICE_NAME, TASK_SERVICE_NAME

    assert services.TASK_NAME == TASK_SERVICE_NAME
    assert services.EVENTS_NAME == EVENTS_SERVICE_NAME
    assert services.INTROSPECTION_NAME == INTROSPECTION_SERVICE
    assert services.VERSION_NAME == VERSION_SERVICE
