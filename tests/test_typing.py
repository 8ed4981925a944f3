"""Type tests: integrator-style code under mypy --strict and pyright strict.

``tests/typecases/check_*.py`` are only type-checked, never run (typeshed's
``test_cases`` style). A line that must be rejected ends in
``# type: ignore[code]  # pyright: ignore[rule]``; both checkers report an
ignore that suppresses nothing, so an implementation that is wrongly
accepted fails the run. Accepted implementations are passed to
``expects_<protocol>(...)`` calls without an ignore.

The teeth tests re-check a copy in which every ignore is removed and every
accepted ``expects_`` line gets one, and require each checker to flag exactly
those lines with exactly those codes: every expected-error line is proven to
be an error, every accepted line to be accepted.

A case file may declare ``# requires: impl.x, impl.y``; while such a module
is missing, its file is left out of the runs and its tests are skipped.
Each checker runs once per session, over the cases and the copies together.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.typing

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "tests" / "typecases"
TIMEOUT = 600

_MYPY_IGNORE = re.compile(r"#\s*type:\s*ignore(\[[^\]]*\])?")
_PYRIGHT_IGNORE = re.compile(r"#\s*pyright:\s*ignore(\[[^\]]*\])?")
_REQUIRES = re.compile(r"^#\s*requires:\s*(.+)$")
_ACCEPTED = re.compile(r"^\s*expects_\w+\(.*\)$")
_MYPY_LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?P<sev>error|note): (?P<msg>.*?)(?:  \[(?P<code>[a-z0-9-]+)\])?$")

_MYPY_UNUSED = "unused-ignore"
_PYRIGHT_UNUSED = "reportUnnecessaryTypeIgnoreComment"
_ADDED_IGNORE = "  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]"


def _codes(bracket: str | None) -> frozenset[str]:
    if not bracket:
        return frozenset()
    return frozenset(c.strip() for c in bracket[1:-1].split(",") if c.strip())


@dataclass(frozen=True, slots=True)
class Case:
    """One case file and what its comments promise."""

    path: Path
    requires: tuple[str, ...]
    mypy_expected: Mapping[int, frozenset[str]]
    pyright_expected: Mapping[int, frozenset[str]]
    accepted: tuple[int, ...]

    @property
    def name(self) -> str:
        return self.path.name

    def missing(self) -> list[str]:
        out: list[str] = []
        for mod in self.requires:
            try:
                found = importlib.util.find_spec(mod) is not None
            except ImportError:
                found = False
            if not found:
                out.append(mod)
        return out


def _comments(text: str) -> dict[int, str]:
    """Real comments by line (so docstrings that mention ignores are not ignores)."""
    lines = text.splitlines()
    out: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = lines[tok.start[0] - 1][tok.start[1] :]
    return out


def _parse_case(path: Path) -> Case:
    text = path.read_text()
    comments = _comments(text)
    requires: list[str] = []
    for comment in comments.values():
        if m := _REQUIRES.match(comment):
            requires.extend(s.strip() for s in m.group(1).split(",") if s.strip())
    mypy_expected: dict[int, frozenset[str]] = {}
    pyright_expected: dict[int, frozenset[str]] = {}
    accepted: list[int] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        comment = comments.get(lineno, "")
        if m := _MYPY_IGNORE.search(comment):
            mypy_expected[lineno] = _codes(m.group(1))
        if m := _PYRIGHT_IGNORE.search(comment):
            pyright_expected[lineno] = _codes(m.group(1))
        code = line[: len(line) - len(comment)].rstrip()
        if lineno not in mypy_expected and lineno not in pyright_expected and _ACCEPTED.match(code):
            accepted.append(lineno)
    return Case(path, tuple(requires), mypy_expected, pyright_expected, tuple(accepted))


CASE_FILES = sorted(CASES.glob("check_*.py"))
ALL_CASES = [_parse_case(p) for p in CASE_FILES]


def _available() -> list[Case]:
    return [c for c in ALL_CASES if not c.missing()]


def _skip_if_missing(case: Case) -> None:
    missing = case.missing()
    if missing:
        pytest.skip(f"{case.name} needs {', '.join(missing)}, which is not importable yet")


def _mutate(case: Case, dest: Path) -> None:
    """Drop every ignore; give every accepted ``expects_`` line an unneeded one."""
    out: list[str] = []
    accepted = set(case.accepted)
    text = case.path.read_text()
    comments = _comments(text)
    for lineno, line in enumerate(text.splitlines(), 1):
        if lineno in case.mypy_expected or lineno in case.pyright_expected or lineno in accepted:
            line = line[: len(line) - len(comments.get(lineno, ""))].rstrip()
        if lineno in accepted:
            line += _ADDED_IGNORE
        out.append(line)
    dest.write_text("\n".join(out) + "\n")


# -- running the checkers -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Diagnostic:
    path: Path
    line: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Checked:
    """One checker's single run over the cases and their mutated copies."""

    returncode: int
    output: str
    diagnostics: tuple[Diagnostic, ...]

    def at(self, path: Path) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.path == path]


@dataclass(frozen=True, slots=True)
class Workspace:
    cases: tuple[Case, ...]
    copies: Mapping[str, Path]
    """Case name -> its mutated copy (named ``teeth_<name>``: distinct modules)."""
    cache: Path

    def files(self) -> list[Path]:
        return [c.path for c in self.cases] + [self.copies[c.name] for c in self.cases]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # The repository itself, so the checks never depend on how it was installed.
    env["MYPYPATH"] = str(REPO)
    env["PYRIGHT_PYTHON_IGNORE_WARNINGS"] = "1"
    env.pop("MYPY_FORCE_COLOR", None)
    return env


def _run_mypy(files: list[Path], cache: Path) -> Checked:
    cmd = [
        sys.executable, "-m", "mypy",
        "--config-file", str(CASES / "mypy.ini"),
        "--cache-dir", str(cache),
        "--no-pretty", "--no-error-summary", "--show-error-codes", "--no-color-output",
        *map(str, files),
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    diags: list[Diagnostic] = []
    for raw in proc.stdout.splitlines():
        m = _MYPY_LINE.match(raw)
        if m and m["sev"] == "error":
            path = (REPO / m["file"]).resolve()
            diags.append(Diagnostic(path, int(m["line"]), m["code"] or "", m["msg"]))
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not diags):
        pytest.fail(f"mypy crashed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return Checked(proc.returncode, proc.stdout + proc.stderr, tuple(diags))


def _pyright() -> str:
    here = shutil.which("pyright", path=str(Path(sys.executable).parent))
    found = here or shutil.which("pyright")
    if found is None:
        pytest.fail("pyright is not installed (pip install -e '.[dev]')")
    return found


def _pyright_json(args: list[str], *, pythonpath: bool = True) -> tuple[int, dict[str, object], str]:
    env = _env()
    if pythonpath:
        cmd = [_pyright(), "--pythonpath", sys.executable, "--outputjson", *args]
    else:
        # ``--verifytypes`` resolves no package with ``--pythonpath`` (pyright 1.1.414):
        # it finds this interpreter as the first ``python`` on PATH instead.
        cmd = [_pyright(), "--outputjson", *args]
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    start = proc.stdout.find("{")
    try:
        data = json.loads(proc.stdout[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        pytest.fail(f"pyright gave no JSON (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode, data, proc.stdout + proc.stderr


def _run_pyright(files: list[Path]) -> Checked:
    rc, data, output = _pyright_json(["-p", str(CASES / "pyrightconfig.json"), *map(str, files)])
    diags: list[Diagnostic] = []
    raw_diags = data.get("generalDiagnostics", [])
    assert isinstance(raw_diags, list)
    for d in raw_diags:
        if d["severity"] in ("error", "warning"):
            path = Path(d["file"]).resolve()
            diags.append(Diagnostic(path, d["range"]["start"]["line"] + 1, d.get("rule", ""), d["message"]))
    if rc not in (0, 1):
        pytest.fail(f"pyright failed (exit {rc}):\n{output}")
    return Checked(rc, output, tuple(diags))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    cases = tuple(_available())
    if not cases:
        pytest.skip("no case file is checkable")
    dest = tmp_path_factory.mktemp("typecases-teeth")
    copies: dict[str, Path] = {}
    for case in cases:
        copies[case.name] = (dest / f"teeth_{case.name}").resolve()
        _mutate(case, copies[case.name])
    return Workspace(cases, copies, tmp_path_factory.mktemp("mypy-cache"))


@pytest.fixture(scope="module")
def mypy_checked(workspace: Workspace) -> Checked:
    return _run_mypy(workspace.files(), workspace.cache)


@pytest.fixture(scope="module")
def pyright_checked(workspace: Workspace) -> Checked:
    return _run_pyright(workspace.files())


def _format(diags: list[Diagnostic]) -> str:
    return "\n".join(f"  {d.path.name}:{d.line}: [{d.code}] {d.message}" for d in diags)


def _teeth_problems(
    run: Checked, workspace: Workspace, expected: Callable[[Case], Mapping[int, frozenset[str]]], unused: str
) -> list[str]:
    got: dict[tuple[str, int], set[str]] = {}
    for d in run.diagnostics:
        got.setdefault((d.path.name, d.line), set()).add(d.code)
    want: dict[tuple[str, int], set[str]] = {}
    for case in workspace.cases:
        name = workspace.copies[case.name].name
        for lineno, codes in expected(case).items():
            want[(name, lineno)] = set(codes)
        for lineno in case.accepted:
            want[(name, lineno)] = {unused}
    return [
        f"{f}:{n}: expected {sorted(want.get((f, n), set()))}, got {sorted(got.get((f, n), set()))}"
        for f, n in sorted(set(got) | set(want))
        if f.startswith("teeth_") and got.get((f, n)) != want.get((f, n))
    ]


def _stray(run: Checked, workspace: Workspace) -> list[Diagnostic]:
    """Diagnostics outside the mutated copies: in a case, or in shimtypes/impl themselves."""
    copies = set(workspace.copies.values())
    return [d for d in run.diagnostics if d.path not in copies]


# -- the case files themselves ----------------------------------------------


def test_case_files_exist() -> None:
    names = {p.name for p in CASE_FILES}
    for expected in (
        "check_task_service.py",
        "check_services.py",
        "check_servers.py",
        "check_shim.py",
        "check_cri.py",
        "check_plugin_types.py",
        "check_messages.py",
        "check_impl_plugin.py",
        "check_impl_loader.py",
        "check_impl_ttrpc.py",
        "check_impl_shim.py",
    ):
        assert expected in names


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_case_has_rejections_and_acceptances(case: Case) -> None:
    """Each file must really contain expected errors, with explicit codes."""
    assert case.mypy_expected, f"{case.name}: no '# type: ignore[...]' line"
    assert case.pyright_expected, f"{case.name}: no '# pyright: ignore[...]' line"
    assert case.accepted, f"{case.name}: no accepted expects_...(...) line"
    for lineno, codes in {**case.mypy_expected, **case.pyright_expected}.items():
        assert codes, f"{case.name}:{lineno}: an ignore without an error code"
    # A rejection only mypy sees must say why pyright does not.
    lines = case.path.read_text().splitlines()
    for lineno in set(case.mypy_expected) ^ set(case.pyright_expected):
        context = "\n".join(lines[max(0, lineno - 4) : lineno - 1])
        assert "Known gap" in context, f"{case.name}:{lineno}: only one checker is expected to reject"


def test_task_service_cases_cover_all_17_methods() -> None:
    text = (CASES / "check_task_service.py").read_text()
    methods = (
        "state create start delete pids pause resume checkpoint kill exec resize_pty "
        "close_io update wait stats connect shutdown"
    ).split()
    for method in methods:
        assert f"async def {method}(self, request:" in text, method
        assert re.search(rf'"""No {method}\."""', text), f"no Missing case for {method}"
        assert re.search(rf'"""{method}: ', text), f"no wrongly-typed case for {method}"


# -- mypy --strict -----------------------------------------------------------


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_mypy_strict(case: Case, mypy_checked: Checked) -> None:
    _skip_if_missing(case)
    errors = mypy_checked.at(case.path.resolve())
    assert not errors, f"mypy --strict on {case.name}:\n{_format(errors)}"


def test_mypy_nothing_else_reported(mypy_checked: Checked, workspace: Workspace) -> None:
    stray = _stray(mypy_checked, workspace)
    assert not stray, _format(stray)


def test_mypy_teeth(mypy_checked: Checked, workspace: Workspace) -> None:
    """Without its ignore every expected-error line fails; with one, every accepted line does."""
    assert mypy_checked.returncode == 1, mypy_checked.output
    problems = _teeth_problems(mypy_checked, workspace, lambda c: c.mypy_expected, _MYPY_UNUSED)
    assert not problems, "\n".join(problems)


# -- pyright strict ----------------------------------------------------------


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_pyright_strict(case: Case, pyright_checked: Checked) -> None:
    _skip_if_missing(case)
    errors = pyright_checked.at(case.path.resolve())
    assert not errors, f"pyright strict on {case.name}:\n{_format(errors)}"


def test_pyright_nothing_else_reported(pyright_checked: Checked, workspace: Workspace) -> None:
    stray = _stray(pyright_checked, workspace)
    assert not stray, _format(stray)


def test_pyright_teeth(pyright_checked: Checked, workspace: Workspace) -> None:
    assert pyright_checked.returncode == 1, pyright_checked.output
    problems = _teeth_problems(pyright_checked, workspace, lambda c: c.pyright_expected, _PYRIGHT_UNUSED)
    assert not problems, "\n".join(problems)


# -- pyright --verifytypes ---------------------------------------------------


@pytest.mark.parametrize("package", ["shimtypes", "impl", "impl.shim"])
def test_verifytypes_complete(package: str) -> None:
    """What integrators see: every public symbol fully and unambiguously typed."""
    _, data, output = _pyright_json(["--verifytypes", package, "--ignoreexternal"], pythonpath=False)
    completeness = data.get("typeCompleteness")
    assert isinstance(completeness, dict), output
    score = completeness["completenessScore"]
    failing: list[str] = []
    for symbol in completeness.get("symbols", []):
        for diag in symbol.get("diagnostics", []):
            if diag.get("severity") == "error":
                file = Path(diag["file"])
                shown = file.relative_to(REPO) if file.is_relative_to(REPO) else file
                where = f"{shown}:{diag['range']['start']['line'] + 1}"
                failing.append(f"  {symbol['name']} ({where}): {' '.join(diag['message'].split())}")
    assert score == 1 and not failing, (
        f"{package}: type completeness {score:.1%}; not fully typed:\n" + "\n".join(failing)
    )
