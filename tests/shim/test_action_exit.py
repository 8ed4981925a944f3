"""How ``start``/``delete`` processes end: exit handlers and stdio kept, the interpreter teardown skipped.

Run as the program, the runner leaves with ``os._exit`` after ``atexit``
handlers and a stdio flush; called in-process with ``argv``, it raises
``SystemExit`` like any ``sys.exit`` (a caller's process is never ended).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from impl.shim import ShimOptions, run

PROGRAM = '''
import atexit, sys
from impl.shim import ShimOptions, run

marks = sys.argv.pop(1)

def note(text, open=open, marks=marks):  # bound now: the teardown clears builtins and globals
    with open(marks, "a") as f:
        f.write(text + "\\n")

class Teardown:
    def __del__(self, note=note):
        note("teardown")

kept = Teardown()  # destroyed only by the interpreter's teardown
atexit.register(note, "atexit")
sys.stdout.write("buffered text, never flushed by hand")

def init(*args):
    raise AssertionError("delete with a cleanup option needs no init")

run("io.containerd.exittest.v1", init, options=ShimOptions(cleanup=lambda bundle, ns, id: (42, 137, 7)))
'''


def _cleanup(bundle: str, namespace: str, id: str) -> tuple[int, int, int]:
    return 42, 137, 7


def test_delete_process_runs_exit_handlers_flushes_and_skips_teardown(tmp_path: Path) -> None:
    program = tmp_path / "exitprog.py"
    program.write_text(PROGRAM)
    marks = tmp_path / "marks"
    proc = subprocess.run(
        [sys.executable, str(program), str(marks), "-namespace", "exit", "-address", str(tmp_path / "none.sock"),
         "-id", "exit1", "-bundle", str(tmp_path), "delete"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"buffered text, never flushed by hand"), "stdout flushed before _exit"
    assert len(proc.stdout) > len(b"buffered text, never flushed by hand"), "the DeleteResponse follows"
    assert marks.read_text().splitlines() == ["atexit"], "exit handlers ran, the teardown did not"


def test_in_process_run_with_argv_raises_system_exit(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    def init(*args: object) -> object:
        raise AssertionError("not called: cleanup needs no init")

    with pytest.raises(SystemExit) as exited:
        run(
            "io.containerd.exittest.v1",
            init,  # type: ignore[arg-type]
            argv=["-namespace", "exit", "-address", str(tmp_path / "none.sock"), "-id", "exit2",
                  "-bundle", str(tmp_path), "delete"],
            options=ShimOptions(cleanup=_cleanup),
        )
    assert exited.value.code == 0
    assert capsysbinary.readouterr().out, "the DeleteResponse was written"
