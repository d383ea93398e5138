"""The tests as PID 1 (a container, `unshare --pid --fork`, scripts/test.sh ending in `exec`): orphans
are reaped, and what a test leaves running is named and fails the run (tests/pid1.py)."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from support import REPO

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                                reason="a PID namespace needs root and unshare(1)")


def as_pid1(args: list[str], tmp_path, timeout: float) -> tuple[subprocess.CompletedProcess, list]:
    """pytest as PID 1 of a new PID namespace with its own /proc; TMPDIR is a fresh directory, and what
    is in it afterwards is returned (pytest's own tmp_path goes to --basetemp, elsewhere)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # The inner run keeps its own ansible SSH masters, and stops them (tests/conftest.py), not this run's.
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_SSH_CONTROL_PATH_DIR"}
    p = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-m", "pytest", "-q",
                        "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "basetemp"), *args],
                       cwd=REPO, env=env | {"TMPDIR": str(tmp), "PYTHONPATH": str(REPO / "tests")},
                       capture_output=True, text=True, timeout=timeout)
    return p, sorted(x.name for x in tmp.iterdir())


def test_orphans_are_reaped_and_what_is_left_running_fails_the_run(tmp_path):
    tests = tmp_path / "t"
    tests.mkdir()
    (tests / "test_inner.py").write_text(textwrap.dedent("""
        import os, subprocess, time

        def gone(pid):
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"

        def test_a_daemon_that_ends_is_reaped():
            # A daemon as start-stop-daemon --background leaves one: its parent is gone, PID 1 adopts it.
            out = subprocess.run(["sh", "-c", "sleep 0.3 >/dev/null 2>&1 & echo $!"], capture_output=True,
                                 text=True, check=True).stdout
            pid = int(out)
            deadline = time.monotonic() + 30
            while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
                assert os.getppid() == 1  # the tests run in PID 1's child
                time.sleep(0.05)
            assert not os.path.exists(f"/proc/{pid}")  # reaped, not a zombie

        def test_a_daemon_left_running():
            subprocess.run(["sh", "-c", "sh -c 'sleep 600; : left-behind-by-a-test' >/dev/null 2>&1 &"], check=True)

        def test_a_temporary_directory_left():
            import tempfile
            tempfile.mkdtemp(prefix="left-by-a-test-")
    """))
    p, tmp = as_pid1(["-p", "pid1", str(tests)], tmp_path, timeout=120)
    assert "3 passed" in p.stdout, p.stdout + p.stderr
    assert p.returncode == 3, p.stdout + p.stderr  # the tests passed, but something was left behind
    assert "left running after the tests" in p.stderr and "left-behind-by-a-test" in p.stderr, p.stderr
    [left] = tmp
    assert left.startswith("left-by-a-test-") and f"after the tests: {left}" in p.stderr, p.stderr


def test_rollout_end_to_end_as_pid1(tmp_path):
    """The rollout starts the agent with start-stop-daemon (a daemon PID 1 adopts) and stops it at the end."""
    p, tmp = as_pid1(["tests/fleet/test_rollout.py::test_rollout_end_to_end"], tmp_path, timeout=1200)
    assert p.returncode == 0, p.stdout[-5000:] + p.stderr[-3000:]
    assert "1 passed" in p.stdout
    assert "left running" not in p.stderr
    assert tmp == []  # nothing outside pytest's tmp_path
