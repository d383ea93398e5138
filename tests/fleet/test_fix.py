"""`wardwatch fix` end to end: real sshd "PCs" on 127.0.0.x (each a directory with its own sshd
and host key), a real cupsd holding their print queues, real ansible-runner running the fix
role, and the PC's REAL agent (this checkout's, reached over SSH as `wardwatch diagnose`
reaches it) saying before and after whether the problem is there.

The broken state is made with CUPS's own commands: `cupsdisable -r REASON` pauses a queue
with a reason, `lp` puts a job in it; the agent calls a job stuck after
thresholds.printer_queue_stuck_after (1 s here). What counts as fixed comes from CUPS
(lpstat: "enabled", no job left) and from the agent's check status "pass".
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sshhosts
import yaml
from printing import cupsd
from support import REPO, free_port, need, process

from fleet.fix.actions import ACTIONS

SECRET = f"push-secret-{os.getpid()}-do-not-log"
QUEUE, OTHER = "Mot-Cua-1", "Ke_Toan"  # a name like a job id ("QUEUE-JOBID") on purpose
ROLE = REPO / "playbooks" / "roles" / "fix"


def script(path: Path, text: str) -> None:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)


@contextlib.contextmanager
def pc_sshd(host: sshhosts.SshHost, authorized: Path, tmp: Path, path_dir: Path):
    """sshhosts' sshd, with the PC's PATH starting at `path_dir` (where its wardwatch-agent is)."""
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    conf = tmp / f"sshd_{host.name}.conf"
    conf.write_text(sshhosts.SSHD_CONFIG.format(port=host.port, address=host.address, host_key=host.host_key,
                                                authorized_keys=authorized, root=host.root)
                    + f"SetEnv PATH={path_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n")
    with process([need("sshd"), "-D", "-e", "-f", str(conf)], port=host.port, host=host.address,
                 log=tmp / f"sshd_{host.name}.log"):
        yield


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"fix{os.getpid()}")
    client = sshhosts.keygen(tmp / "client_key")
    authorized = tmp / "authorized_keys"
    authorized.write_text(client.with_suffix(".pub").read_text())
    impostor = sshhosts.keygen(tmp / "other_host_key")
    hosts = []
    for i, name in enumerate(["pc1", "pc2"]):
        addr = sshhosts.address(i)
        root = tmp / "pcs" / name
        root.mkdir(parents=True)
        hosts.append(sshhosts.SshHost(name, addr, free_port(addr), root, sshhosts.keygen(tmp / f"host_key_{name}"),
                                      free_port(addr)))
    known = tmp / "known_hosts"  # pc2's recorded key is not the one it has: a changed key
    known.write_text(hosts[0].known_hosts_line() + hosts[1].known_hosts_line(impostor))
    bindir = tmp / "bin"
    bindir.mkdir()
    script(bindir / "wardwatch-agent", f'cd {REPO} && exec {sys.executable} -m agent "$@"\n')
    with cupsd(tmp) as cups, contextlib.ExitStack() as stack:
        cups.add_queue(QUEUE, description="Máy in một cửa")
        cups.add_queue(OTHER)
        for h in hosts:
            conf = h.root / "etc" / "wardwatch"
            conf.mkdir(parents=True)
            (conf / "agent.yml").write_text(yaml.safe_dump({
                "collectors": {"printers": {"cups_server": cups.server}, "wan": {"enabled": False},
                               "scanners": {"enabled": False}, "vclient": {"enabled": False}},
                "thresholds": {"printer_queue_stuck_after": "1s"}}))
            stack.enter_context(pc_sshd(h, authorized, tmp, bindir))
        fleet = sshhosts.Fleet(tmp, hosts, client, known)
        inv = sshhosts.inventory(
            fleet, tmp / "inventory" / "hosts.yml", communes={"phuc_xa": ["pc1", "pc2"]},
            group_vars={"wardwatch_agent_push_password": SECRET, "fix_cups_server": cups.server},
            host_vars={h.name: {"wardwatch_agent_config_dir": str(h.root / "etc" / "wardwatch")} for h in hosts})
        yield {"tmp": tmp, "cups": cups, "inv": inv, "known": known, "hosts": hosts, "state": tmp / "state"}


def fix(w, *args: str, known: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleet", "fix", *args, "-i", str(w["inv"]), "--lang", "en",
                           "--state-dir", str(w["state"]), "--known-hosts", str(known or w["known"])],
                          cwd=REPO, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def one_error(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("wardwatch:")]
    assert len(lines) == 1, r.stdout + r.stderr
    return lines[0]


def lpstat(w, *args: str) -> str:
    return w["cups"].run("lpstat", *args, check=False).stdout


def paused(w, queue: str) -> bool:
    return f"printer {queue} disabled" in lpstat(w, "-p", queue)


def jobs(w, queue: str) -> list[str]:
    return [ln for ln in lpstat(w, "-o", queue).splitlines() if ln.startswith(f"{queue}-")]


def break_queue(w, queue: str = QUEUE) -> None:
    """Paused with a reason, one job waiting in it for longer than the agent's 1 s."""
    c = w["cups"]
    c.run("cupsdisable", "-r", "Kẹt giấy / paper jam", queue)
    c.run("lp", "-d", queue, str(REPO / "README.md"))
    assert paused(w, queue) and len(jobs(w, queue)) == 1
    time.sleep(1.5)


def audit(w) -> list[dict]:
    path = w["state"] / "fix.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


# --- refused before anything runs ---------------------------------------------------------

def test_an_action_outside_the_list_is_refused(world):
    r = fix(world, "pc1", "shell", "--yes")
    assert r.returncode == 2
    line = one_error(r)
    assert "'shell'" in line and all(a in line for a in ACTIONS)
    assert r.stdout == ""


@pytest.mark.parametrize("args", [
    ["pc1"],                                            # no action
    ["--commune", "phuc_xa", "printer-resume"],         # a commune without --yes
    ["pc1", "spooler-restart", "--printer", QUEUE],     # --printer with an action that takes none
    ["pc9", "printer-resume", "--yes"],                 # not a PC of the inventory
    ["pc1", "printer-resume", "--printer=-a", "--yes"],  # not a queue name (an option to cupsenable)
])
def test_bad_input_is_one_line_and_exit_2(world, args):
    r = fix(world, *args)
    assert r.returncode == 2, r.stdout + r.stderr
    one_error(r)


def test_no_confirmation_possible_without_yes_is_refused(world):
    break_queue(world, OTHER)
    try:
        r = fix(world, "pc1", "printer-resume", "--printer", OTHER)  # stdin is /dev/null: nobody to ask
        assert r.returncode == 2
        assert "--yes" in one_error(r)
        assert paused(world, OTHER) and len(jobs(world, OTHER)) == 1
    finally:
        world["cups"].run("cancel", "-a", OTHER)
        world["cups"].run("cupsenable", OTHER)


def test_a_changed_host_key_is_refused(world):
    break_queue(world)
    r = fix(world, "pc2", "printer-resume", "--yes")
    assert r.returncode == 4
    assert "HAS CHANGED" in one_error(r)
    assert paused(world, QUEUE) and len(jobs(world, QUEUE)) == 1  # nothing ran
    assert not any(e["host"] == "pc2" for e in audit(world))


def test_an_unknown_host_key_is_refused(world, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text(world["hosts"][1].known_hosts_line())  # pc2's only: pc1 is not enrolled
    r = fix(world, "pc1", "printer-resume", "--yes", known=empty)
    assert r.returncode == 4
    line = one_error(r)
    assert "not enrolled" in line and "wardwatch inventory hostkeys" in line and "--accept-new" not in line
    assert paused(world, QUEUE)
    assert empty.read_text() == world["hosts"][1].known_hosts_line()  # nothing recorded


# --- the actions ---------------------------------------------------------------------------

def test_check_shows_what_would_change_and_changes_nothing(world):
    if not paused(world, QUEUE):
        break_queue(world)
    before = lpstat(world, "-p", "-o")
    r = fix(world, "pc1", "printer-resume", "--check")  # no --yes needed: nothing changes
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 PC: pc1" in r.stdout
    assert f"pc1: would change: cupsenable {QUEUE}" in r.stdout
    assert "the queue is paused" in r.stdout  # the agent's verdict before
    assert lpstat(world, "-p", "-o") == before
    entry = audit(world)[-1]
    assert entry["options"]["check"] is True and entry["after"] is None and entry["solved"] is None


def test_clear_jobs_then_resume_fix_the_printer(world):
    if not paused(world, QUEUE):
        break_queue(world)
    if not jobs(world, QUEUE):
        world["cups"].run("lp", "-d", QUEUE, str(REPO / "README.md"))
        time.sleep(1.5)
    break_queue(world, OTHER)  # another queue of the PC, paused: --printer leaves it alone
    n = len(audit(world))

    r = fix(world, "pc1", "printer-clear-jobs", "--printer", QUEUE, "--yes")
    assert jobs(world, QUEUE) == [] and paused(world, QUEUE)
    assert len(jobs(world, OTHER)) == 1
    assert f"pc1: changed: cancel -a {QUEUE}" in r.stdout, r.stdout + r.stderr
    # no stuck job any more, but the queue is still paused: the agent says so, and so does the command
    assert r.returncode == 1 and "pc1: NOT FIXED" in r.stdout
    after = audit(world)[-1]["after"]
    assert after["ok"] is False and "paused" in after["problems"][0] and "stuck" not in after["problems"][0]

    r = fix(world, "pc1", "printer-resume", "--printer", QUEUE, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"pc1: changed: cupsenable {QUEUE}" in r.stdout
    assert "pc1: FIXED" in r.stdout
    assert f"printer {QUEUE} is idle" in lpstat(world, "-p", QUEUE)
    assert paused(world, OTHER) and len(jobs(world, OTHER)) == 1

    entries = audit(world)[n:]
    assert [e["action"] for e in entries] == ["printer-clear-jobs", "printer-resume"]
    last = entries[-1]
    assert last["before"]["ok"] is False and last["after"] == {"ok": True, "problems": [], "error": ""}
    assert last["solved"] is True and last["result"] == "changed" and last["host"] == "pc1"
    assert last["options"]["printer"] == QUEUE and last["who"]


def test_resume_prints_the_stuck_job_and_leaves_no_stuck_queue(world):
    """Without --printer: every paused queue of the PC; the stuck job then prints."""
    if not paused(world, OTHER):
        break_queue(world, OTHER)
    r = fix(world, "pc1", "printer-resume", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pc1: FIXED" in r.stdout
    assert not paused(world, OTHER) and not paused(world, QUEUE)
    deadline = time.monotonic() + 30
    while jobs(world, OTHER) and time.monotonic() < deadline:  # file:/dev/null takes the job
        time.sleep(0.2)
    assert jobs(world, OTHER) == []


def test_the_confirmation_names_the_pc_and_the_action_and_no_keeps_everything(world):
    break_queue(world, OTHER)

    def answer(text: str) -> subprocess.CompletedProcess:
        master, slave = os.openpty()  # a terminal for stdin: the command asks
        try:
            proc = subprocess.Popen([sys.executable, "-m", "fleet", "fix", "pc1", "printer-resume", "--printer", OTHER,
                                     "-i", str(world["inv"]), "--lang", "en", "--state-dir", str(world["state"]),
                                     "--known-hosts", str(world["known"])], cwd=REPO, stdin=slave,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            os.write(master, text.encode())
            out, err = proc.communicate(timeout=300)
        finally:
            os.close(master)
            os.close(slave)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    n = len(audit(world))
    r = answer("n\n")
    assert f"Run 'printer-resume' (printer {OTHER}) on pc1? [y/N]" in r.stdout, r.stdout + r.stderr
    assert r.returncode == 1 and "Cancelled, nothing changed." in r.stdout
    assert paused(world, OTHER) and len(jobs(world, OTHER)) == 1 and len(audit(world)) == n
    r = answer("y\n")
    assert r.returncode == 0 and "pc1: FIXED" in r.stdout, r.stdout + r.stderr
    assert not paused(world, OTHER)


def test_a_commune_is_refused_whole_when_one_pc_has_a_changed_key(world):
    break_queue(world, OTHER)
    try:
        r = fix(world, "--commune", "phuc_xa", "printer-resume", "--yes")
        assert r.returncode == 4
        assert "pc2" in one_error(r) and "HAS CHANGED" in one_error(r)
        assert "2 PCs: pc1, pc2" in r.stdout
        assert paused(world, OTHER)  # pc1 untouched too
    finally:
        world["cups"].run("cancel", "-a", OTHER)
        world["cups"].run("cupsenable", OTHER)


def test_a_failed_action_says_so_and_is_audited(world):
    """No systemd on these PCs: restarting the agent's unit fails, and nothing claims it is fixed."""
    r = fix(world, "pc1", "agent-restart", "--yes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "pc1: run: FAILED" in r.stdout and "FIXED" not in r.stdout
    last = audit(world)[-1]
    assert (last["action"], last["result"], last["after"], last["solved"]) == ("agent-restart", "failed", None, None)


def test_the_audit_log_has_one_line_per_action_and_no_secret(world):
    entries = audit(world)
    assert entries and all(set(e) >= {"at", "who", "host", "action", "options", "result", "before", "after"}
                           for e in entries)
    assert all(e["at"].endswith("Z") for e in entries)
    runs = [e["run"] for e in entries]
    assert len(runs) == len(set(runs))  # one line per action run (one PC each here)
    assert stat.S_IMODE((world["state"] / "fix.jsonl").stat().st_mode) == 0o600
    for path in world["state"].rglob("*"):  # the log, and the runs' artifacts
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    r = subprocess.run([sys.executable, "-m", "fleet", "fix", "--history", "--limit", "2", "--lang", "en",
                        "--state-dir", str(world["state"])], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all("pc1" in x for x in lines)
    assert "agent-restart" in lines[-1] and "failed" in lines[-1]
    assert "printer-resume" in lines[-2] and lines[-2].endswith("fixed")


# --- the role ------------------------------------------------------------------------------

def test_the_role_allows_exactly_the_commands_actions_on_both_platforms():
    allow = yaml.safe_load((ROLE / "vars/main.yml").read_text())["fix_actions"]
    spec = yaml.safe_load((ROLE / "meta/argument_specs.yml").read_text())
    choices = spec["argument_specs"]["main"]["options"]["fix_action"]["choices"]
    assert allow == choices == list(ACTIONS)
    for action in ACTIONS:
        for platform in ("linux", "windows"):
            assert (ROLE / "tasks" / f"{action.replace('-', '_')}_{platform}.yml").is_file()


def test_each_runbook_names_the_exact_fix_command():
    """The runbook of every alert an action answers names `wardwatch fix <instance> ACTION`, which the
    command accepts as written (the runbooks' PC is the alert's `instance`: the inventory name)."""
    import re

    from fleet.cli import build_parser
    from fleet.fix.command import parse_words

    for action in ACTIONS.values():
        assert action.alerts, action.name
        for alert in action.alerts:
            text = (REPO / "alerts" / "runbooks" / f"{alert}.md").read_text()
            wanted = f"wardwatch fix <instance> {action.name}" if alert != "NoWorkingPrinter" \
                else f"wardwatch fix <pc> {action.name}"
            if alert == "NoWorkingPrinter" and not action.takes_printer:
                continue
            commands = re.findall(r"`(wardwatch fix [^`]+)`", text)
            mine = [c for c in commands if c.startswith(wanted)]
            assert mine, f"{alert}.md does not name {wanted}"
            for c in mine:
                if action.takes_printer:
                    assert c.endswith("--printer <printer>"), c
                args = build_parser().parse_args(c.replace("<instance>", "pc1").replace("<pc>", "pc1")
                                                 .replace("<printer>", "Mot_Cua").split()[1:])
                assert parse_words(args)[1] is action
