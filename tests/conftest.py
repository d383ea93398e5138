import os
import sys
from pathlib import Path

# tests/ for the helper modules, after the repository itself: tests/agent must never pass
# for the agent package when a single test file is run.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]
# Commands installed beside the interpreter (ansible-playbook, ansible-lint, ... in the test
# venv) are found without activating the venv.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
