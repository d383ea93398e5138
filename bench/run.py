"""Runs every benchmark of the project and prints one table of figures beside their
references, with ratios from the same run.

    python3 bench/run.py            every benchmark
    python3 bench/run.py --quick    shorter runs (CI smoke)
    python3 bench/run.py --only scrape
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from scripts.repo_venv import use_repo_venv  # noqa: E402

use_repo_venv()  # `python3 bench/run.py` runs in the clone's .venv, with its commands on PATH

from bench.common import Row  # noqa: E402

# The explicit list of benchmarks: module bench.<name> with run(quick: bool) -> list[Row].
BENCHES = (
    "scrape",
    "load",
    "printers",
    "wan",
    "remote_write",
    "inventory",
    "rollout",
    "readiness",
    "weekly",
    "city_tier",
    "fuzz",
    "alerts",
    "soak",
)


def table(rows: list[Row]) -> str:
    head = ("benchmark", "figure", "wardwatch", "unit", "reference", "ref value", "ratio")
    body = []
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        ref = f"{r.ref:.4g}" if r.ref is not None else "-"
        body.append((r.bench, r.figure, f"{r.ours:.4g}", r.unit, r.reference, ref, ratio))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in body]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="shorter runs")
    p.add_argument("--only", action="append", choices=BENCHES, help="run only these benchmarks")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = p.parse_args()
    rows: list[Row] = []
    failed = []
    for name in args.only or BENCHES:
        t0 = time.monotonic()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        try:
            rows += importlib.import_module(f"bench.{name}").run(args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"== {name} done in {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ | {"ratio": r.ratio} for r in rows], indent=2))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
