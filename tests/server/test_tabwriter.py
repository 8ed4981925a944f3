"""``tabwrite`` against Go's own text/tabwriter, with ctr's settings."""

from __future__ import annotations

import os
import shutil
import string
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.cli._table import tabwrite

GO_PROGRAM = """
package main

import (
	"io"
	"os"
	"text/tabwriter"
)

// Copy stdin through a tabwriter configured as ctr's plugins command does.
func main() {
	w := tabwriter.NewWriter(os.Stdout, 4, 8, 4, ' ', 0)
	if _, err := io.Copy(w, os.Stdin); err != nil {
		panic(err)
	}
	w.Flush()
}
"""


@pytest.fixture(scope="module")
def go_tabwriter() -> Iterator[Path]:
    go = shutil.which("go")
    if go is None:
        pytest.skip("go not installed")
    with tempfile.TemporaryDirectory(prefix="st-tabw-") as d:
        src = Path(d) / "main.go"
        src.write_text(GO_PROGRAM)
        # The build cache too is private and new (mkdtemp: 0700), never a guessable shared path.
        env = dict(os.environ, GO111MODULE="off", GOFLAGS="", GOCACHE=str(Path(d) / "gocache"))
        subprocess.run([go, "build", "-o", str(Path(d) / "tabw"), str(src)], check=True, env=env, timeout=120)
        yield Path(d) / "tabw"


def go(binary: Path, text: str) -> str:
    return subprocess.run([str(binary)], input=text, capture_output=True, text=True, check=True, timeout=30).stdout


_cell = st.text(string.ascii_letters + string.digits + " ./-_:,", max_size=14)
_line = st.lists(_cell, min_size=1, max_size=5).map("\t".join)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(_line, max_size=8), trailing_newline=st.booleans())
def test_same_bytes_as_go(go_tabwriter: Path, lines: list[str], trailing_newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if trailing_newline and lines else "")
    assert tabwrite(text) == go(go_tabwriter, text)


def test_ctr_layouts(go_tabwriter: Path) -> None:
    table = "TYPE\tID\tPLATFORMS\tSTATUS\t\nio.containerd.grpc.v1\tx\t-\tok\t\n"
    detail = "Type:\t a\nID:\t b\nRequires:\t\n\t io.x\n\t\t\t\nType:\t c\nError:\t\n\t Code:\t Unknown\n"
    for text in (table, detail):
        assert tabwrite(text) == go(go_tabwriter, text)
