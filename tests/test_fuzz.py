"""A short atheris run of every fuzz target (the long runs are `bench/run.py --only fuzz`)."""

import os
import re
import subprocess
import sys

import pytest
from support import REPO

from fuzz.targets import TARGETS

RUNS = 500


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target_short_run(name, tmp_path):
    assert any((REPO / "fuzz/corpus" / name).iterdir()), f"no committed corpus for {name}"
    tmp, artifacts = tmp_path / "tmp", tmp_path / "artifacts"
    tmp.mkdir()
    artifacts.mkdir()
    p = subprocess.run([sys.executable, str(REPO / "fuzz/run.py"), name, f"-runs={RUNS}",
                        f"-artifact_prefix={artifacts}/"], capture_output=True, text=True, timeout=300, cwd=REPO,
                       env={**os.environ, "TMPDIR": str(tmp)})
    assert p.returncode == 0, p.stderr[-3000:]
    # libFuzzer counts the runs it was asked for, and may do one more (the empty input it tries first).
    done = re.search(r"^Done (\d+) runs", p.stderr, re.MULTILINE)
    assert done and RUNS <= int(done.group(1)) <= RUNS + 1, p.stderr[-3000:]
    assert list(artifacts.iterdir()) == []  # no crash
    assert list(tmp.iterdir()) == []  # the run's scratch directory is gone


def test_crash_artifacts_default_to_an_ignored_directory():
    """Without -artifact_prefix, libFuzzer would write crash-* into the current directory (the clone)."""
    p = subprocess.run(["git", "check-ignore", "-q", "fuzz/artifacts/config-crash-0"], cwd=REPO)
    assert p.returncode == 0
    committed = subprocess.run(["git", "ls-files", "crash-*", "leak-*", "timeout-*", "oom-*"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout
    assert committed == ""


def test_allowed_errors_are_one_line():
    for name, target in TARGETS.items():
        for seed in (REPO / "fuzz/corpus" / name).iterdir():
            try:
                target.parse(seed.read_bytes())
            except target.allowed as e:
                assert "\n" not in str(e), (name, seed.name, str(e))
