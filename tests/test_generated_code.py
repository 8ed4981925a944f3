"""The committed protobuf modules and ttrpc bindings are exactly what proto/ regenerates to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_committed_ttrpc_bindings_match_protos(tmp_path: Path) -> None:
    regen = (ROOT / "scripts/regen-protos").read_text()
    assert f'TTRPC_PROTOS="{" ".join(TTRPC_PROTOS)}"' in regen, "keep this list in step with scripts/regen-protos"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
         f"--plugin=protoc-gen-ttrpcpy={ROOT / 'scripts/protoc-gen-ttrpcpy'}", f"--ttrpcpy_out={tmp_path}",
         *(str(ROOT / f"proto/shimtypes/pb/{name}.proto") for name in TTRPC_PROTOS)],
        check=True, env=env, capture_output=True,
    )
    bindings = ROOT / "impl/ttrpc/_bindings"
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == sorted(f"{name}_ttrpc.py" for name in TTRPC_PROTOS)
    assert generated == sorted(p.name for p in bindings.glob("*_ttrpc.py")), "run scripts/regen-protos"
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


def test_generated_service_names_agree_with_the_hand_written_constants() -> None:
    """shimtypes (which imports no impl) and the host's gRPC bindings spell the same wire names."""
    from impl.server import INTROSPECTION_SERVICE, VERSION_SERVICE
    from impl.ttrpc import services
    from shimtypes import EVENTS_SERVICE_NAME, TASK_SERVICE_NAME

    assert services.TASK_NAME == TASK_SERVICE_NAME
    assert services.EVENTS_NAME == EVENTS_SERVICE_NAME
    assert services.INTROSPECTION_NAME == INTROSPECTION_SERVICE
    assert services.VERSION_NAME == VERSION_SERVICE
