import os
import sys
from pathlib import Path

# tests/ for the helper modules, after the repository itself: tests/agent must never pass
# for the agent package when a single test file is run.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]
# Commands installed beside the interpreter (ansible-playbook, ansible-lint, ... in the test
# venv) are found without activating the venv.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

# As PID 1 (a container, unshare --pid), the tests go on in a child and PID 1 only reaps orphans.
from pid1 import pytest_configure  # noqa: E402, F401


def pytest_sessionstart(session) -> None:  # noqa: ARG001
    import pytest
    from printing import SNMPREC_DIR

    if not any(SNMPREC_DIR.glob("*.snmprec")):
        pytest.exit(f"{SNMPREC_DIR}: no printer recordings (*.snmprec); the tests read real printers' SNMP "
                    "answers from shared/fixtures beside this clone, or from $WARDWATCH_FIXTURES", returncode=2)



def _ssh_control_dir() -> str | None:
    """Ansible keeps an SSH master per PC for 60 s after each play (ControlPersist), by default under
    ~/.ansible/cp: the tests' rollouts keep theirs in a directory of their own, stopped at the end."""
    import tempfile

    if "ANSIBLE_SSH_CONTROL_PATH_DIR" in os.environ:
        return None
    # A UNIX socket path holds at most 107 bytes: ansible adds 41 (/%C) to this directory.
    base = tempfile.gettempdir()
    d = tempfile.mkdtemp(prefix="ww-ssh-", dir=base if len(base) < 50 else "/tmp")
    os.environ["ANSIBLE_SSH_CONTROL_PATH_DIR"] = d
    return d


SSH_CONTROL_DIR = _ssh_control_dir()


def pytest_unconfigure(config) -> None:  # noqa: ARG001
    import shutil
    import subprocess

    if SSH_CONTROL_DIR is None or not os.path.isdir(SSH_CONTROL_DIR):
        return
    for sock in Path(SSH_CONTROL_DIR).iterdir():
        subprocess.run(["ssh", "-O", "exit", "-o", f"ControlPath={sock}", "wardwatch-test-host"],
                       capture_output=True, timeout=30, check=False)
    shutil.rmtree(SSH_CONTROL_DIR, ignore_errors=True)
