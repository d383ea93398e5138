"""A short atheris run of every fuzz target (the long runs are `bench/run.py --only fuzz`)."""

import subprocess
import sys

import pytest
from support import REPO

from fuzz.targets import TARGETS


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target_short_run(name):
    assert any((REPO / "fuzz/corpus" / name).iterdir()), f"no committed corpus for {name}"
    p = subprocess.run([sys.executable, str(REPO / "fuzz/run.py"), name, "-runs=500"], capture_output=True,
                       text=True, timeout=300, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Done 500 runs" in p.stderr


def test_allowed_errors_are_one_line():
    for name, target in TARGETS.items():
        for seed in (REPO / "fuzz/corpus" / name).iterdir():
            try:
                target.parse(seed.read_bytes())
            except target.allowed as e:
                assert "\n" not in str(e), (name, seed.name, str(e))
