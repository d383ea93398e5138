import os
import sys
from pathlib import Path

# tests/ for the helper modules, after the repository itself: tests/agent must never pass
# for the agent package when a single test file is run.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]
# Commands installed beside the interpreter (ansible-playbook, ansible-lint, ... in the test
# venv) are found without activating the venv.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def pytest_sessionstart(session) -> None:  # noqa: ARG001
    import pytest
    from printing import SNMPREC_DIR

    if not any(SNMPREC_DIR.glob("*.snmprec")):
        pytest.exit(f"{SNMPREC_DIR}: no printer recordings (*.snmprec); the tests read real printers' SNMP "
                    "answers from shared/fixtures beside this clone, or from $WARDWATCH_FIXTURES", returncode=2)
