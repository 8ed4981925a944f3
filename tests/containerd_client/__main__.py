"""By hand: ``.venv/bin/python -m tests.containerd_client [RUNTIME...]``.

Builds (cached) and runs containerd's client tests against each runtime (default: runc.v2
and pyrunc), prints the per-test table and what each run left behind, then cleans up.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared helpers (_peers)

from . import _suite  # noqa: E402


def main(argv: list[str]) -> int:
    runtimes = argv or [_suite.RUNC, _suite.PYRUNC]
    start = time.monotonic()
    binary = _suite.build()
    print(f"binary: {binary} ({time.monotonic() - start:.0f}s)", flush=True)
    tests = _suite.selected(_suite.list_tests(binary))
    runs = []
    for runtime in runtimes:
        r = _suite.run(binary, runtime, tests, _suite.new_tmp())
        runs.append(r)
        left = _suite.leftovers(r)
        kept = f"/tmp/ctrdc-last-{runtime}.out"
        with open(kept, "w") as f:
            f.write(r.output)
        print(f"{runtime}: exit {r.returncode} in {r.seconds:.0f}s (output: {kept}); left behind: {[x.what for x in left] or 'nothing'}", flush=True)
        _suite.clean_up(r)
    print(_suite.table(runs, tests))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
