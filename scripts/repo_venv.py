"""The repository's own tools (bench/run.py, fuzz/run.py, scripts/update-readme.py) need wardwatch
with its test tools, which `bash scripts/test.sh` installs into the clone's .venv. Started with
another Python (the README's `python3 ...`), they start again with the .venv's, and find the
commands installed there (ansible-inventory, promtool's companions...) on PATH."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"


def use_repo_venv() -> None:
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() != VENV.resolve():
        if python.exists():
            os.execv(str(python), [str(python), *sys.argv])  # noqa: S606 - the same script, another Python
        if sys.prefix == sys.base_prefix:  # another virtualenv is trusted to hold what is needed
            sys.exit(f"{sys.argv[0]}: {VENV} is missing; `bash scripts/test.sh` makes it with what this needs "
                     f"(or: python3 -m venv .venv && .venv/bin/pip install -e '.[fleet,test]')")
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])
