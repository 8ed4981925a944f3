"""Python stubs for the CRI API, generated at test time from Debian's api.proto.

Generated code is never committed: the stubs are built with grpcio-tools into
a cache keyed by the proto text and the grpcio-tools version, once per
machine. The gogoproto options (Go code generation only) are stripped first:
protoc would need gogo.proto on its include path for nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Final

from _peers import cri_api_proto

MODULE: Final = "shimtypes_cri_runtime_v1"
"""Stub module name: ``<MODULE>_pb2`` and ``<MODULE>_pb2_grpc`` (unique in ``sys.modules``)."""

_GOGO_IMPORT = re.compile(r'^import\s+"github\.com/gogo/protobuf/gogoproto/gogo\.proto";\s*$', re.M)
_GOGO_OPTION = re.compile(r"^option\s+\(gogoproto\.[a-z_]+\)\s*=\s*\w+;\s*$", re.M)


class StubError(Exception):
    """protoc failed on the CRI proto: its message is protoc's."""


def strip_gogo(text: str) -> str:
    """``api.proto`` without gogoproto's import and file options (fails if any field option remains)."""
    out = _GOGO_OPTION.sub("", _GOGO_IMPORT.sub("", text))
    if "gogoproto" in out:
        line = next(i for i, s in enumerate(out.splitlines(), 1) if "gogoproto" in s)
        raise StubError(f"api.proto line {line}: a gogoproto option this stripper does not know")
    return out


def cache_dir() -> Path:
    return Path(os.environ.get("SHIMTYPES_PEERS", "/var/cache/shimtypes-peers")) / "gen"


def _generate(proto_text: str, out: Path) -> None:
    from grpc_tools import protoc  # type: ignore[import-untyped]

    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / f"{MODULE}.proto").write_text(proto_text)
    include = Path(protoc.__file__).parent / "_proto"
    rc = protoc.main(
        ["protoc", f"-I{tmp}", f"-I{include}", f"--python_out={tmp}", f"--grpc_python_out={tmp}", str(tmp / f"{MODULE}.proto")]
    )
    if rc != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StubError(f"protoc exited {rc} on {cri_api_proto()} (stripped copy in {out})")
    try:
        tmp.rename(out)
    except OSError:  # a concurrent run got there first: theirs is as good
        shutil.rmtree(tmp, ignore_errors=True)


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@cache
def cri_modules() -> tuple[ModuleType, ModuleType]:
    """``(pb2, pb2_grpc)`` for ``runtime.v1``, generated into the cache if missing."""
    import grpc_tools

    text = strip_gogo(cri_api_proto().read_text())
    version = getattr(grpc_tools, "__version__", "") or _grpc_tools_version()
    key = hashlib.sha256(f"{version}\0{text}".encode()).hexdigest()[:16]
    out = cache_dir() / f"cri-api-{key}"
    if not (out / f"{MODULE}_pb2_grpc.py").exists():
        _generate(text, out)
    pb2 = _load(f"{MODULE}_pb2", out / f"{MODULE}_pb2.py")
    return pb2, _load(f"{MODULE}_pb2_grpc", out / f"{MODULE}_pb2_grpc.py")


def _grpc_tools_version() -> str:
    from importlib.metadata import version

    return version("grpcio-tools")
