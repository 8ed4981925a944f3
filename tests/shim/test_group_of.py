"""group_of: a bundle's shim group from its spec annotations; a bad spec is one error naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from impl.shim._start import GROUP_ANNOTATIONS, group_of


def _bundle(tmp_path: Path, config: bytes) -> str:
    (tmp_path / "config.json").write_bytes(config)
    return str(tmp_path)


@pytest.mark.parametrize("key", GROUP_ANNOTATIONS)
def test_each_group_annotation_names_the_group(tmp_path: Path, key: str) -> None:
    spec = {"ociVersion": "1.0.2", "annotations": {key: "pod-1"}}
    assert group_of(_bundle(tmp_path, json.dumps(spec).encode())) == "pod-1"


def test_runc_annotation_wins_over_cri(tmp_path: Path) -> None:
    runc, cri = GROUP_ANNOTATIONS
    spec = {"annotations": {cri: "sandbox", runc: "group"}}
    assert group_of(_bundle(tmp_path, json.dumps(spec).encode())) == "group"


@pytest.mark.parametrize(
    "annotations",
    [None, [], "x", {"io.containerd.runc.v2.group": ""}, {"io.containerd.runc.v2.group": 7}],
)
def test_no_usable_annotation_means_no_group(tmp_path: Path, annotations: object) -> None:
    spec = {"annotations": annotations, "note": "io.containerd.runc.v2.group"}
    assert group_of(_bundle(tmp_path, json.dumps(spec).encode())) == ""


def test_missing_config_means_no_group(tmp_path: Path) -> None:
    assert group_of(str(tmp_path)) == ""


@pytest.mark.parametrize(
    "config", [b"{io.containerd.runc.v2.group", b'["io.containerd.runc.v2.group"]', b'"io.kubernetes.cri.sandbox-id"']
)
def test_a_spec_that_is_no_json_object_is_one_error_naming_the_file(tmp_path: Path, config: bytes) -> None:
    bundle = _bundle(tmp_path, config)
    with pytest.raises(ValueError, match="config.json: not an OCI spec") as info:
        group_of(bundle)
    assert str(tmp_path / "config.json") in str(info.value)
