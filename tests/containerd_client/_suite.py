"""containerd's own ``integration/client`` tests, built offline and run against one runtime.

``build`` compiles the test binary (scripts/build-ctrd-client-tests, cached); ``run`` starts
it as root with its own daemon, root, state, socket, namespace and ``$TMPDIR`` all under a
fresh directory, ``TEST_RUNTIME`` set, and ``containerd-shim-pyrunc-v1`` then the pinned
containerd 1.6.20 (``_peers``: its daemon and Go shim) on the daemon's PATH; ``parse`` turns
``go test -v`` output into per-test results; ``leftovers`` lists what a run left behind
(processes, shim sockets, mounts, runc state, cgroups), scoped to that run.

By hand: ``.venv/bin/python -m tests.containerd_client`` builds, runs both runtimes and
prints the table.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from _peers import containerd_peer
from impl.shim import socket_address

from ._image import write_test_image

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-ctrd-client-tests"
PATCHES = Path(__file__).resolve().parent / "patches"
SOURCE = ("bookworm", "1.6.20~ds1-1+deb12u3")
"""The containerd whose tests we build: the installed one (Debian 12's containerd)."""

RUNC = "io.containerd.runc.v2"
PYRUNC = "io.containerd.pyrunc.v1"
PYRUNC_SHIM = "containerd-shim-pyrunc-v1"

_NETWORK = "pulls or fetches an image other than busybox:1.32 from a registry (no network here)"
_PULL = "tests pulling itself from ghcr.io (no network here)"
_CRIU = "checkpoint/restore needs CRIU, which is not installed"
EXCLUDED: Mapping[str, str] = {
    "TestImagePull": _PULL,
    "TestImagePullWithDiscardContent": _PULL,
    "TestImagePullAllPlatforms": _NETWORK + " (k8s.gcr.io/pause:3.6, all platforms)",
    "TestImagePullSomePlatforms": _NETWORK + " (k8s.gcr.io/pause:3.6)",
    "TestImagePullSchema1": _NETWORK + " (gcr.io/google_containers/pause:3.0, schema 1)",
    "TestImagePullWithConcurrencyLimit": _PULL,
    "TestImagePullSchema1WithEmptyLayers": _NETWORK + " (gcr.io/google-containers/busybox, schema 1)",
    "TestUserNamespaces": _NETWORK + " (ghcr.io/containerd/alpine:3.14.0)",
    "TestExportAndImportMultiLayer": _NETWORK + " (ghcr.io/containerd/volume-copy-up:2.1)",
    "TestImageIsUnpacked": _NETWORK + " (k8s.gcr.io/pause:3.6)",
    "TestImagePullWithDistSourceLabel": _NETWORK + " (k8s.gcr.io/pause:3.6)",
    "TestImageUsage": _NETWORK + " (k8s.gcr.io/pause:3.6, all platforms)",
    "TestImageSupportedBySnapshotter_Error": _NETWORK + " (a Windows image)",
    "TestLeaseResources": _NETWORK + " (k8s.gcr.io/pause:3.6)",
    "TestContentClient": "content-store suite, no runtime involved; its CommitErrorState subtest fails about one"
    " run in five on either runtime (abort: unlinkat <root>/.../ingest/<digest>: directory not empty)",
    "TestCheckpointRestorePTY": _CRIU,
    "TestCheckpointRestore": _CRIU,
    "TestCheckpointRestoreNewContainer": _CRIU,
    "TestCheckpointLeaveRunning": _CRIU,
    "TestCheckpointRestoreWithImagePath": _CRIU,
    "TestCheckpointOnPauseStatus": _CRIU,
}

ZYGOTE_IDLE = 2
"""pyrunc's fork server outlives its last shim by this many seconds (default 30)."""

SUMMARY = pytest.StashKey[str]()
"""Where the pytest run leaves its summary (tests that differ, counts, times) for the terminal."""

RUN_TIMEOUT = 10 * 60
"""The binary's own -test.timeout; the harness kills it a minute later."""


@dataclass(frozen=True)
class Result:
    name: str
    outcome: str  # PASS, FAIL, SKIP, or NORESULT (started but never reported: a crash or timeout)
    seconds: float


NORESULT = Result("", "NORESULT", 0.0)
"""What a test that never ran counts as."""


@dataclass
class Run:
    runtime: str
    tmp: Path
    namespace: str
    results: dict[str, Result] = field(default_factory=dict)
    returncode: int | None = None
    seconds: float = 0.0
    output: str = ""
    sid: int = 0

    @property
    def address(self) -> str:
        return str(self.tmp / "c.sock")


def build() -> Path:
    """The cached test binary (built on the first call: about a minute on two cores)."""
    suite, version = SOURCE
    proc = subprocess.run(
        [str(BUILD_SCRIPT), suite, version, str(PATCHES)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT.name} failed ({proc.returncode}):\n{proc.stderr[-8000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def list_tests(binary: Path) -> list[str]:
    """Every top-level test in the binary (-test.short: TestMain starts no daemon for a list)."""
    out = subprocess.run(
        [str(binary), "-test.short", "-test.list", "^Test"], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.split() if line.startswith("Test")]


def selected(all_tests: Iterable[str]) -> list[str]:
    return [t for t in all_tests if t not in EXCLUDED]


def _shim_script() -> Path:
    beside = Path(sys.executable).parent / PYRUNC_SHIM
    if not beside.exists():
        raise RuntimeError(f"{beside}: the {PYRUNC_SHIM} console script is not installed (scripts/setup-venv)")
    return beside


def run(binary: Path, runtime: str, tests: Sequence[str], tmp: Path, path_first: Sequence[Path] = ()) -> Run:
    """Run ``tests`` against ``runtime`` with everything of the run under ``tmp``
    (``path_first``: directories looked up before any other, e.g. a stand-in ``containerd``)."""
    r = Run(runtime=runtime, tmp=tmp, namespace=f"ctrdc-{uuid.uuid4().hex[:8]}")
    (tmp / "tmp").mkdir(parents=True)
    bindir = tmp / "bin"
    bindir.mkdir()
    (bindir / PYRUNC_SHIM).symlink_to(_shim_script())
    archive = tmp / "busybox.oci.tar"
    write_test_image(archive)
    env = dict(os.environ)
    env.update(
        SHIMTYPES_ZYGOTE_IDLE=str(ZYGOTE_IDLE),
        TMPDIR=str(tmp / "tmp"),
        TEST_RUNTIME=runtime,
        # the pinned 1.6.20 daemon and Go shim (the tests' own version), whatever the system has installed
        PATH=":".join(
            [*map(str, path_first), str(bindir), str(containerd_peer("1.6").bin), env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")]
        ),
    )
    cmd = [
        str(binary),
        "-test.root",
        "-test.v",
        f"-test.timeout={RUN_TIMEOUT}s",
        "-test.run",
        "^(" + "|".join(re.escape(t) for t in tests) + ")$",
        "-address", r.address,
        "-root", str(tmp / "root"),
        "-state", str(tmp / "state"),
        "-namespace", r.namespace,
        "-test-image-archive", str(archive),
    ]  # fmt: skip
    log = tmp / "go-test.out"
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        r.sid = proc.pid
        try:
            r.returncode = proc.wait(timeout=RUN_TIMEOUT + 60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            r.returncode = proc.wait()
    r.seconds = time.monotonic() - start
    _settle(r)
    r.output = log.read_text(errors="replace")
    r.results = parse(r.output)
    return r


_START = re.compile(r"^=== RUN\s+(Test\S+)$", re.M)
_END = re.compile(r"^--- (PASS|FAIL|SKIP): (Test\S+) \(([0-9.]+)s\)$", re.M)


def parse(output: str) -> dict[str, Result]:
    """Top-level test results of ``go test -v`` output (subtests are indented and ignored)."""
    results = {m[1]: Result(m[1], "NORESULT", 0.0) for m in _START.finditer(output) if "/" not in m[1]}
    for m in _END.finditer(output):
        results[m[2]] = Result(m[2], m[1], float(m[3]))
    return results


def go_test_log(output: str, name: str, limit: int = 6000) -> str:
    """The lines ``go test -v`` printed for test ``name`` (its RUN/CONT sections and result block)."""
    lines: list[str] = []
    inside = False
    for line in output.splitlines():
        if line.startswith(("=== ", "--- ")):
            words = line.split()
            inside = len(words) > 2 and (words[2] == name or words[2].startswith(name + "/"))
        elif line and not line.startswith(" "):
            inside = False
        if inside:
            lines.append(line)
    return "\n".join(lines)[-limit:]


# --- what a run may leave behind -------------------------------------------------------------

_SHIM_SOCKET = re.compile(r"/run/containerd/s/[0-9a-f]{64}")
_NAMESPACE = re.compile(r'namespace=("?)([A-Za-z0-9._-]+)\1')


def namespaces_used(r: Run) -> set[str]:
    """The run's namespaces, as its daemon logged them (tests derive several from -namespace)."""
    found = {m[2] for m in _NAMESPACE.finditer(r.output)}
    return found | {r.namespace}


def _processes(r: Run) -> list[tuple[int, str]]:
    """Live processes of this run: in its session, or naming its directory on their command line."""
    mine: list[tuple[int, str]] = []
    needle = str(r.tmp).encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields[0] == b"Z":
            continue
        sid = int(fields[3])
        if (r.sid and sid == r.sid) or needle in cmdline:
            mine.append((int(entry.name), cmdline.replace(b"\0", b" ").decode(errors="replace").strip()))
    return mine


def _settle(r: Run, timeout: float = ZYGOTE_IDLE + 10) -> None:
    """Bounded wait for the run's processes that serve no container (pyrunc's idle zygote) to exit.

    Shims (``-id`` on their command line) are not waited for: one still there is a leak.
    """
    deadline = time.monotonic() + timeout
    while any(" -id " not in cmd for _pid, cmd in _processes(r)) and time.monotonic() < deadline:
        time.sleep(0.1)


def _mounts(r: Run) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    prefix = str(r.tmp) + "/"
    return [p for p in points if p.startswith(prefix)]


def _runc_state(r: Run) -> list[Path]:
    roots = [Path("/run/containerd/runc"), r.tmp / "tmp" / "runc-test"]
    left: list[Path] = []
    for ns in namespaces_used(r):
        for root in roots:
            d = root / ns
            if d.is_dir():
                left.extend(sorted(d.iterdir()))
    return left


def _cgroup_namespaces(r: Run) -> list[Path]:
    """The per-namespace cgroup directories (``/<ns>`` in each hierarchy) runc made for the run."""
    base = Path("/sys/fs/cgroup")
    if not base.is_dir():
        return []
    hierarchies = [p for p in base.iterdir() if p.is_dir() and not p.is_symlink()]
    found = [h / ns for ns in namespaces_used(r) for h in hierarchies]
    return [d for d in found if d.is_dir()]


def _cgroups(r: Run) -> list[Path]:
    """Container cgroups left in the run's namespaces (the empty namespace level itself is runc's habit)."""
    return [c for d in _cgroup_namespaces(r) for c in sorted(d.iterdir()) if c.is_dir()]


@dataclass(frozen=True)
class Leftover:
    what: str
    container: str | None  # the container id it belongs to, when known


_ID_ARG = re.compile(r" -id (\S+)")


def leftovers(r: Run) -> list[Leftover]:
    """Everything the run left behind, each with the container it belongs to (empty: clean)."""
    found = [Leftover(f"process {pid}: {cmd}", m[1] if (m := _ID_ARG.search(cmd)) else None) for pid, cmd in _processes(r)]
    found += [Leftover(f"shim socket {s}", id) for s, id in sorted(_shim_sockets(r).items()) if os.path.exists(s)]
    found += [Leftover(f"mount {m}", Path(m).parent.name if m.endswith("/rootfs") else None) for m in _mounts(r)]
    found += [Leftover(f"runc state {p}", p.name) for p in _runc_state(r)]
    found += [Leftover(f"cgroup {p}", p.name) for p in _cgroups(r)]
    bundles = r.tmp / "state" / "io.containerd.runtime.v2.task"
    if bundles.is_dir():
        found += [Leftover(f"bundle {b}", b.name) for b in sorted(bundles.glob("*/*"))]
    return found


def _container_ids(r: Run) -> set[str]:
    """Container ids the tests use: mostly the test's name (subtests: "/" becomes "_")."""
    ids = set(r.results)
    ids |= {m[1].replace("/", "_") for m in re.finditer(r"^=== RUN\s+(Test\S+)$", r.output, re.M)}
    return ids | {"c" * 64}  # TestShimSockLength


def _shim_sockets(r: Run) -> dict[str, str | None]:
    """Every socket a shim of this run could have made (containerd names them by a hash of address,
    namespace and id), whether or not the output mentions it, and any the output names; each with
    its container id where known."""
    sockets: dict[str, str | None] = {
        f"/run/containerd/s/{os.path.basename(s)}": None for s in _SHIM_SOCKET.findall(r.output)
    }
    for ns in namespaces_used(r):
        for id in _container_ids(r):
            sockets[f"/run/containerd/s/{os.path.basename(socket_address(r.address, ns, id))}"] = id
    return sockets


def clean_up(r: Run) -> None:
    """Remove what the run left (its own processes, mounts, runc state, cgroups) and its directory."""
    for _ in range(3):
        procs = _processes(r)
        if not procs:
            break
        for pid, _cmd in procs:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)  # killed processes need a moment to be reaped before the next scan
    for ns in namespaces_used(r):
        for root in (Path("/run/containerd/runc"), r.tmp / "tmp" / "runc-test"):
            d = root / ns
            if d.is_dir():
                for c in d.iterdir():
                    subprocess.run(["runc", "--root", str(d), "delete", "--force", c.name], capture_output=True)
                try:
                    d.rmdir()
                except OSError:
                    pass
    for m in sorted(_mounts(r), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    for d in _cgroup_namespaces(r):
        for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            try:
                sub.rmdir()
            except OSError:
                pass
        try:
            d.rmdir()
        except OSError:
            pass
    for s in _shim_sockets(r):
        try:
            os.unlink(s)
        except OSError:
            pass
    subprocess.run(["rm", "-rf", "--one-file-system", str(r.tmp)], capture_output=True)


def new_tmp() -> Path:
    """A short directory (unix socket paths under it stay far below 108 bytes)."""
    return Path(tempfile.mkdtemp(prefix="ctrdc-", dir="/tmp"))


def table(runs: Sequence[Run], tests: Sequence[str], *, excluded: bool = True) -> str:
    """A markdown table: one row per test, one result (and time) column per run."""
    head = "| test | " + " | ".join(r.runtime for r in runs) + " |"
    rows = [head, "|" + "---|" * (len(runs) + 1)]
    for t in tests:
        cells = []
        for r in runs:
            res = r.results.get(t)
            cells.append("NOTRUN" if res is None else f"{res.outcome} {res.seconds:.2f}s")
        rows.append(f"| {t} | " + " | ".join(cells) + " |")
    for t, why in EXCLUDED.items() if excluded else ():
        rows.append(f"| {t} | " + " | ".join("excluded" for _ in runs) + f" | {why}")
    counts = []
    for r in runs:
        by = {o: sum(1 for x in r.results.values() if x.outcome == o) for o in ("PASS", "FAIL", "SKIP", "NORESULT")}
        counts.append(f"{r.runtime}: " + ", ".join(f"{n} {o}" for o, n in by.items()) + f"; {r.seconds:.0f}s wall")
    return "\n".join(rows + ["", *counts])
