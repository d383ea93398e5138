"""The agent's service on fresh PCs, through `wardwatch rollout` to real sshd "PCs" on 127.0.0.x:

- `--check` on a fresh PC with `wardwatch_agent_service_manager: systemd` succeeds and changes
  nothing (no file, no user);
- preflight refuses systemd mode where systemd is not PID 1, in one line, before anything
  is installed;
- `none` (no systemd): the agent runs as its own unprivileged user under a supervisor that
  starts it again after a crash, and the @reboot line in /etc/cron.d starts it after a reboot.

The test machine does not run systemd: a "systemd PC" is one whose root holds
run/systemd/system (preflight_systemd_dir), the directory sd_booted(3) looks for.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sshhosts
from support import REPO, http_get, wait_until


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="module")
def world():
    # the unprivileged agent must be able to reach its files: not under pytest's private tmp
    with sshhosts.agent_world("svc") as (tmp, run_user), sshhosts.agent_world("chk") as (_, check_user):
        wheels = sshhosts.build_wheelhouse(tmp / "wheels")
        with sshhosts.fleet(tmp / "fleet", ["pc1", "pc2", "pc3"]) as f:
            yield {"fleet": f, "tmp": tmp, "wheels": wheels, "hosts": {h.name: h for h in f.hosts},
                   "run_user": run_user, "check_user": check_user}


def write_inventory(w, name: str, host_vars: dict[str, dict], service_manager: str, user: str) -> Path:
    return sshhosts.inventory(
        w["fleet"], w["tmp"] / name / "hosts.yml", communes={"phuc_xa": sorted(host_vars)},
        group_vars={
            "wardwatch_agent_wheelhouse": str(w["wheels"]),
            "wardwatch_agent_service_manager": service_manager,
            "wardwatch_agent_user": user,
            "wardwatch_min_spec": {"min_memory_mb": 256, "min_disk_free_mb": 100, "min_cpu_cores": 1},
            "virtual_client_kind": "none",
            "virtual_client_linux_method": "dpkg",
        },
        host_vars=host_vars)


def rollout(w, inv: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    state = inv.parent / "state"
    r = subprocess.run([sys.executable, "-m", "fleet", "rollout", "-i", str(inv), "--state-dir", str(state),
                        "--known-hosts", str(w["fleet"].known_hosts), "--ssh-retries", "0", "--lang", "en",
                        "--no-live", "--serial", "100%", *args], cwd=REPO, capture_output=True, text=True, timeout=900)
    files = list(state.glob("rollout/*/hosts.json"))
    return r, (json.loads(files[0].read_text())["hosts"] if files else {})


def tree(root: Path) -> dict[str, tuple[float, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime, p.stat().st_mode) for p in sorted(root.rglob("*"))
            if "sshd" not in p.name}


UNIT = Path("/etc/systemd/system/wardwatch-agent.service")


def test_check_on_a_fresh_pc_with_systemd_changes_nothing(world):
    w = world
    pc = w["hosts"]["pc2"]
    (pc.root / "run/systemd/system").mkdir(parents=True)  # this PC "runs systemd"
    inv = write_inventory(w, "check", {"pc2": {"preflight_systemd_dir": str(pc.root / "run/systemd/system")}},
                          "systemd", w["check_user"])
    unit_before = UNIT.exists()
    before = tree(pc.root)
    r, last = rollout(w, inv, "--check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pc2  CHANGED" in r.stdout and "dry run --check: nothing was changed" in r.stdout, r.stdout
    assert tree(pc.root) == before
    assert not user_exists(w["check_user"])
    assert UNIT.exists() == unit_before
    assert last == {}
    # what it would have done is in the run's output: the agent's user, the unit, the directories
    stdout = sorted((inv.parent / "state").glob("rollout/*/artifacts/*/stdout"))[-1].read_text()
    assert "TASK [wardwatch_agent : Create the agent's system user]" in stdout
    assert "TASK [wardwatch_agent : Install the systemd unit]" in stdout


def test_preflight_refuses_systemd_where_it_is_not_pid_1(world):
    w = world
    pc = w["hosts"]["pc3"]
    inv = write_inventory(w, "nosystemd", {"pc3": {"preflight_systemd_dir": str(pc.root / "run/systemd/system")}},
                          "systemd", w["check_user"])
    before = tree(pc.root)
    r, last = rollout(w, inv)
    assert r.returncode == 1, r.stdout + r.stderr
    reason = last["pc3"]["reason"]
    assert last["pc3"]["status"] == "failed" and last["pc3"]["failed_task"] == "Assert this PC meets the minimum spec"
    assert reason == ("pc3: systemd không phải PID 1, không chạy được dịch vụ systemd/systemd is not PID 1 here: "
                      "wardwatch_agent_service_manager systemd cannot run the agent (use none)"), reason
    assert tree(pc.root) == before and not user_exists(w["check_user"])  # nothing was installed


def agent_pids(supervisor: int) -> list[int]:
    path = Path(f"/proc/{supervisor}/task/{supervisor}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])  # real uid
    raise AssertionError(pid)


def gone_or_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_without_systemd_the_agent_runs_as_its_user_and_comes_back(world):
    w = world
    pc = w["hosts"]["pc1"]
    inv = write_inventory(w, "none", {"pc1": {}}, "none", w["run_user"])
    r, last = rollout(w, inv)
    assert r.returncode == 0, r.stdout + r.stderr
    assert last["pc1"]["status"] == "changed"
    uid = pwd.getpwnam(w["run_user"]).pw_uid
    assert uid != 0
    pidfile = pc.root / "var/lib/wardwatch/agent.pid"
    metrics = f"http://{pc.address}:{pc.agent_port}/metrics"

    def running() -> tuple[int, int] | None:
        """(supervisor, agent) once the agent answers /metrics."""
        try:
            supervisor = int(pidfile.read_text())
            children = agent_pids(supervisor)
            http_get(metrics)
        except (OSError, ValueError):
            return None
        return (supervisor, children[0]) if len(children) == 1 else None

    supervisor, agent = wait_until(running, timeout=60, what="the agent under its supervisor")
    assert uid_of(supervisor) == uid and uid_of(agent) == uid
    cmdline = Path(f"/proc/{agent}/cmdline").read_bytes().split(b"\0")
    assert str(pc.root / "opt/wardwatch/venv/bin/wardwatch-agent").encode() in cmdline and b"run" in cmdline
    assert (pc.root / "var/lib/wardwatch").stat().st_uid == uid
    config = pc.root / "etc/wardwatch/agent.yml"
    assert config.stat().st_uid == 0 and config.stat().st_gid == pwd.getpwnam(w["run_user"]).pw_gid
    assert oct(config.stat().st_mode & 0o777) == "0o640"

    # A crash: the supervisor starts the agent again (5 s later), as the same user.
    os.kill(agent, signal.SIGKILL)
    supervisor2, agent2 = wait_until(lambda: (s := running()) and s[1] != agent and s, timeout=60,
                                     what="the agent started again after a crash")
    assert supervisor2 == supervisor and uid_of(agent2) == uid
    assert "the agent stopped (status 137), starting it again in 5 s" in \
        (pc.root / "var/log/wardwatch/agent.log").read_text()

    # A reboot: every process gone, the pidfile left behind; cron runs the @reboot line.
    cron = (pc.root / "etc/cron.d/wardwatch-agent").read_text()
    line = next(ln for ln in cron.splitlines() if ln.startswith("@reboot "))
    assert line.startswith("@reboot root start-stop-daemon --start ")
    os.kill(supervisor, signal.SIGKILL)
    os.kill(agent2, signal.SIGKILL)
    wait_until(lambda: gone_or_zombie(supervisor) and gone_or_zombie(agent2), timeout=15, what="the processes gone")
    if Path(f"/proc/{supervisor}").exists():  # a zombie nobody reaps (pytest as PID 1): as after a reboot,
        pidfile.unlink()                        # no process has that number any more
    with pytest.raises(OSError):
        http_get(metrics)
    subprocess.run(["sh", "-c", line.split(" ", 2)[2]], check=True, timeout=60)
    supervisor3, agent3 = wait_until(running, timeout=60, what="the agent after the @reboot line")
    assert supervisor3 != supervisor and uid_of(supervisor3) == uid and uid_of(agent3) == uid

    # Uninstall stops the supervisor and the agent, and removes the @reboot line.
    r, last = rollout(w, inv, "--playbook", "uninstall")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_until(lambda: gone_or_zombie(supervisor3) and gone_or_zombie(agent3), timeout=30, what="the agent stopped")
    assert not (pc.root / "etc/cron.d/wardwatch-agent").exists()
    assert shlex.split(line)  # the line was a well-formed command
