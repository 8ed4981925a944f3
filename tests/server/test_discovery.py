"""Entry-point discovery in-process: deterministic order, failures reported."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from impl.plugin import Registry
from impl.server import discover

from ._helpers import write_distribution

_MODULES = ("st_disc_zeta", "st_disc_alpha")


def _module(name: str) -> str:
    return (
        "from impl.plugin import Registration\n"
        f"def _init(ic):\n    return {name!r}\n"
        f"A = Registration('io.shimtypes.disc.v1', '{name}-a', _init)\n"
        f"B = [Registration('io.shimtypes.disc.v1', '{name}-b', _init)]\n"
    )


@pytest.fixture
def dists(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Two distributions in two sys.path entries, entry points declared b-first."""
    zeta, alpha = tmp_path / "zeta", tmp_path / "alpha"
    write_distribution(
        zeta, "Zeta_Plugins", "1.0",
        {"b": "st_disc_zeta:B", "a": "st_disc_zeta:A", "broken": "st_disc_zeta:MISSING"},
        {"st_disc_zeta": _module("zeta")},
    )
    write_distribution(
        alpha, "alpha-plugins", "2.0", {"b": "st_disc_alpha:B", "a": "st_disc_alpha:A"},
        {"st_disc_alpha": _module("alpha")},
    )
    yield zeta, alpha
    for mod in _MODULES:
        sys.modules.pop(mod, None)


def _discover(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> tuple[list[str], list[str]]:
    with monkeypatch.context() as m:
        m.setattr(sys, "path", [*map(str, paths), *sys.path])
        registry = Registry()
        errors = discover(registry)
    ids = [r.id for r in registry if r.type == "io.shimtypes.disc.v1"]
    return ids, [str(e) for e in errors if "Zeta_Plugins" in str(e) or "alpha-plugins" in str(e)]


def test_order_is_by_distribution_then_entry_point_whatever_the_path(
    dists: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    zeta, alpha = dists
    first = _discover(monkeypatch, zeta, alpha)
    for mod in _MODULES:
        sys.modules.pop(mod, None)
    second = _discover(monkeypatch, alpha, zeta)
    assert first == second
    ids, errors = first
    assert ids == ["alpha-a", "alpha-b", "zeta-a", "zeta-b"]
    # The broken entry point is reported with its distribution, and hides nothing.
    assert len(errors) == 1
    assert errors[0].startswith("plugin entry point 'broken' (st_disc_zeta:MISSING) of distribution Zeta_Plugins 1.0: ")
    assert "MISSING" in errors[0]
