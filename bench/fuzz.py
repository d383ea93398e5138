"""Fuzzing every parser of outside input under atheris: executions and speed per
target, beside the 1,000,000-execution target (--quick: 2,000, a smoke run)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from support import REPO

from bench.common import Row


def run(quick: bool) -> list[Row]:
    from fuzz.targets import TARGETS

    runs = 2_000 if quick else 1_000_000
    rows = []
    for name in TARGETS:
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, str(REPO / "fuzz/run.py"), name, f"-runs={runs}", "-print_final_stats=1"],
                           capture_output=True, text=True, timeout=6 * 3600, cwd=REPO)
        elapsed = time.monotonic() - t0
        if p.returncode != 0:
            raise RuntimeError(f"fuzz target {name} crashed (input kept in fuzz/artifacts/):\n{p.stderr[-3000:]}")
        done = re.search(r"stat::number_of_executed_units:\s+(\d+)", p.stderr)
        execs = float(done.group(1)) if done else float(runs)
        rows.append(Row("fuzz", f"{name}: executions, no crash", execs, "execs", "target", float(runs), "higher"))
        rows.append(Row("fuzz", f"{name}: speed", execs / elapsed, "execs/s", "-", None, "higher"))
    return rows
