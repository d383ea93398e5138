"""The README's commands, run as written (a shell in a copy of this clone, `python3` and `bash` from
the machine's PATH, not the tests' venv), and scripts/run-agent.sh when its port is taken."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support import REPO, copy_clone, free_port, stop, wait_until

README = (REPO / "README.md").read_text(encoding="utf-8")
INSTALL_TIMEOUT = 900  # a venv and the agent's install, on a loaded machine

# Every command the README shows, and how this file runs it (or why it does not).
RUN_HERE = {
    "bash scripts/run-agent.sh": "test_run_agent_as_written",
    "WARDWATCH_PORT=10714 bash scripts/run-agent.sh": "test_run_agent_as_written (another free port)",
    ".venv/bin/pip install .": "test_run_agent_as_written (what run-agent.sh runs)",
    ".venv/bin/wardwatch-agent": "test_agent_commands_in_the_clone",
    ".venv/bin/wardwatch-agent check --lang en": "test_agent_commands_in_the_clone",
    ". .venv/bin/activate": "test_agent_commands_in_the_clone",
    "python3 scripts/update-readme.py": "test_repository_tools_as_written",
    "python3 bench/run.py": "test_repository_tools_as_written (--help: the benchmarks are bench/, not tests)",
    "python3 fuzz/run.py": "test_repository_tools_as_written",
    "python3 fuzz/run.py --list": "test_repository_tools_as_written",
    "python3 dashboards/generate.py": "test_repository_tools_as_written (--check: the same generator, writing nothing)",
}
NOT_RUN = {
    "bash scripts/test.sh": "the test suite itself",
    "bash .ci/run": "the test suite itself",
    ".venv/bin/wardwatch": "the operators' command: tests/fleet run it from this venv",
    "python3 -m venv .venv": "the tests' own venv is made this way (scripts/test.sh)",
    ".venv/bin/pip install '.[fleet]'": "the tests' own venv is made this way, with [test]",
    ".venv/bin/pip install '.[test]'": "the tests' own venv is made this way",
    ".venv/bin/pip install '.[windows]'": "[test] holds the same packages; tests/fleet/test_installed.py reads the "
                                          "windows extra's requirements from the built wheel",
    ".venv/bin/pip install '.[remote-write]'": "cramjam is in [test]: the tests' venv has it",
    ".venv/bin/pip install '.[snmpv3]'": "cryptography is in [test]: the tests' venv has it",
}
SYNOPSIS = re.compile(r"^(wardwatch|wardwatch-agent) ")  # usage lines with [OPTIONS]; the commands have their tests


def readme_commands() -> set[str]:
    cmds = set()
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        cmds |= {line.split("  #")[0].strip() for line in block.splitlines()} - {""}
    cmds |= {span.strip() for span in re.findall(r"`([^`\n]+)`", README)
             if re.match(r"(bash |python3 |\.venv/bin/|\. \.venv|WARDWATCH_PORT=|pip )", span)}
    return {c for c in cmds if not SYNOPSIS.match(c)}


def test_every_readme_command_is_run_or_said_why_not():
    assert readme_commands() == set(RUN_HERE) | set(NOT_RUN)


def machine_env(**extra: str) -> dict[str, str]:
    """The environment of a shell on this machine: without the tests' venv on PATH."""
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    return env | extra


class Output:
    """A process's merged output, read as it comes."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.text = ""
        self._t = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._t.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.text += line

    def join(self) -> str:
        self._t.join(30)
        return self.text


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return copy_clone(tmp_path_factory.mktemp("clone"))


@pytest.fixture(scope="module")
def agent_run(clone):
    """`WARDWATCH_PORT=<free> bash scripts/run-agent.sh` until it shows metrics, then Ctrl-C (SIGINT to
    the process group this test started)."""
    port = free_port()
    proc = subprocess.Popen(["bash", "scripts/run-agent.sh"], cwd=clone, env=machine_env(WARDWATCH_PORT=str(port)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out = Output(proc)
    try:
        wait_until(lambda: re.search(r"^wardwatch_collector_success\{", out.text, re.M) or proc.poll() is not None,
                   timeout=INSTALL_TIMEOUT, what=lambda: f"metrics from run-agent.sh:\n{out.text[-3000:]}")
        assert proc.poll() is None, out.join()[-3000:]
        os.killpg(proc.pid, 2)  # Ctrl-C
        proc.wait(30)
    finally:
        stop(proc)
    return port, out.join(), proc.returncode


def test_run_agent_as_written(agent_run, clone):
    port, out, _ = agent_run
    assert "== wardwatch-agent check (tiếng Việt)" in out and "== wardwatch-agent check --lang en" in out
    assert f"== metrics: http://127.0.0.1:{port}/metrics" in out
    assert re.search(r'^wardwatch_collector_success\{collector="hardware"\} 1\.0$', out, re.M), out[-3000:]
    assert (clone / ".venv/bin/wardwatch-agent").exists()


def test_run_agent_with_its_port_taken_stops_at_once_with_the_agents_error(agent_run, clone):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = subprocess.run(["bash", "scripts/run-agent.sh"], cwd=clone, env=machine_env(WARDWATCH_PORT=str(port)),
                           capture_output=True, text=True, timeout=INSTALL_TIMEOUT, start_new_session=True)
    assert p.returncode == 1, p.stdout[-2000:] + p.stderr[-2000:]
    assert f"wardwatch-agent: cannot listen on 127.0.0.1:{port}: Address already in use" in p.stderr
    assert "the agent stopped at start (exit 1)" in p.stderr
    assert "== metrics" not in p.stdout  # no header for metrics that will never come


def test_agent_commands_in_the_clone(agent_run, clone):
    p = subprocess.run([".venv/bin/wardwatch-agent", "check", "--lang", "en"], cwd=clone, env=machine_env(),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode in (0, 1), p.stderr  # 1: this machine fails a check (no printer, ...); 2 would be bad input
    assert "Printers" in p.stdout or "Printer “" in p.stdout
    p = subprocess.run(["bash", "-c", ". .venv/bin/activate && command -v wardwatch-agent"], cwd=clone,
                       env=machine_env(), capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == str(clone / ".venv/bin/wardwatch-agent")


def test_repository_tools_as_written(agent_run, clone):
    # The clone's .venv is the agent's (run-agent.sh): enough for the README's generator.
    before = (clone / "README.md").read_text(encoding="utf-8")
    p = subprocess.run(["python3", "scripts/update-readme.py"], cwd=clone, env=machine_env(), capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert (clone / "README.md").read_text(encoding="utf-8") == before
    # This checkout's .venv is the one scripts/test.sh makes: the benchmarks' and the fuzzer's.
    if Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        pytest.skip("the tests do not run from this checkout's .venv (scripts/test.sh makes it)")
    p = subprocess.run(["python3", "bench/run.py", "--help"], cwd=REPO, env=machine_env(), capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and "--only" in p.stdout, p.stderr
    p = subprocess.run(["python3", "fuzz/run.py", "--list"], cwd=REPO, env=machine_env(), capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and "targets: config" in p.stdout, p.stderr
    p = subprocess.run(["python3", "dashboards/generate.py", "--check"], cwd=REPO, env=machine_env(),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
