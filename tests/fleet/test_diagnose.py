"""`wardwatch diagnose` against a real sshd on loopback, started by the test with its own
host key, config, port and authorized_keys.

- root logs in with a key and runs the REAL agent of this checkout (a small wrapper on
  the PATH sshd gives the session); systemd cannot run here, so `systemctl` and
  `journalctl` are small stand-ins on that PATH (and the log-file fallback is real);
- a test user created for the run (removed afterwards) logs in with a password; its
  `wardwatch-agent` prints a check in the documented JSON format with WAN rows.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sshhosts import keygen
from support import REPO, free_port, need, process

from agent.report import STATUS
from fleet import diagnose as dg
from fleet.diagnose_cmd import render
from fleet.errors import EXIT_UNREACHABLE, FleetError

SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
AuthorizedKeysFile {authorized_keys}
PidFile {root}/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root {user}
LogLevel VERBOSE
Match User root
  SetEnv PATH={root_bin}:/usr/local/bin:/usr/bin:/bin
Match User {user}
  SetEnv PATH={user_bin}:/usr/local/bin:/usr/bin:/bin
"""

FAKE_CHECK = {
    "host": "pc-test-01",
    "ok": False,
    "items": [
        {"area": "hardware", "key": "memory", "subject": "Memory (RAM)", "status": "pass", "found": "8.0 GiB",
         "needed": "≥ 4.0 GiB", "detail": ""},
        {"area": "wan", "key": "dichvucong", "subject": "dichvucong (portal)", "status": "pass", "found": "31 ms",
         "needed": "", "detail": ""},
        {"area": "wan", "key": "vdi-gateway", "subject": "vdi-gateway (gateway)", "status": "fail",
         "found": "loss 40%", "needed": "< 5%", "detail": "degraded"},
    ],
    "collectors": {"hardware": {"success": True, "duration_seconds": 0.02, "error": None},
                   "wan": {"success": True, "duration_seconds": 1.5, "error": None}},
}


def script(path: Path, text: str) -> None:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)


def fingerprint_by_openssh(pub: Path) -> str:
    out = subprocess.run([need("ssh-keygen"), "-l", "-f", str(pub)], capture_output=True, text=True, check=True)
    return out.stdout.split()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diagnose")
    # what the test user's session reads must be readable by it: a world-readable dir of its own
    shared = Path(tempfile.mkdtemp(prefix=f"wardwatch-diag-{os.getpid()}-"))
    shared.chmod(0o755)
    user = f"wwd{os.getpid()}"[:30]
    password = "Đúng-" + secrets.token_urlsafe(12)
    host_key, other_key, client_key = keygen(tmp / "host_key"), keygen(tmp / "other_host_key"), keygen(tmp / "id")
    (tmp / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    root_bin, user_bin = tmp / "bin", shared / "bin"
    root_bin.mkdir()
    user_bin.mkdir()
    # the real agent of this checkout
    script(root_bin / "wardwatch-agent", f'cd {REPO} && exec {sys.executable} -m agent "$@"\n')
    # stand-ins for systemd; a flag file turns the journal off to test the log-file fallback
    script(root_bin / "systemctl", 'if [ "$1 $2" = "is-active wardwatch-agent" ]; then echo active; exit 0; fi\n'
                                   "exit 4\n")
    script(root_bin / "journalctl",
           f'[ -e {tmp}/no-journal ] && {{ echo "-- No entries --"; exit 0; }}\n'
           'echo "2024-05-20T09:00:00+0700 pc wardwatch-agent[812]: metrics at http://0.0.0.0:10713"\n'
           'echo "2024-05-20T09:00:05+0700 pc wardwatch-agent[812]: collector wan failed: timeout"\n')
    (shared / "check.json").write_text(json.dumps(FAKE_CHECK))
    script(user_bin / "wardwatch-agent", f"cat {shared}/check.json; exit 1\n")
    script(user_bin / "systemctl", "echo failed; exit 3\n")
    home = shared / "home"
    home.mkdir()
    subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh", user], check=True)
    try:
        shutil.chown(home, user)
        subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)
        port = free_port()
        conf = tmp / "sshd_config"
        conf.write_text(SSHD_CONFIG.format(port=port, host_key=host_key, authorized_keys=tmp / "authorized_keys",
                                           root=tmp, user=user, root_bin=root_bin, user_bin=user_bin))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        known = tmp / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} {' '.join(host_key.with_suffix('.pub').read_text().split()[:2])}\n")
        with process([need("sshd"), "-D", "-e", "-f", str(conf)], port=port, log=tmp / "sshd.log"):
            yield {"tmp": tmp, "port": port, "user": user, "password": password, "host_key": host_key,
                   "other_key": other_key, "client_key": client_key, "known": known, "root_bin": root_bin}
    finally:
        subprocess.run(["userdel", user], check=False, capture_output=True)
        shutil.rmtree(shared, ignore_errors=True)


def wardwatch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleet", "diagnose", *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **(env or {})}, timeout=120)


def as_root(s, *extra: str) -> subprocess.CompletedProcess:
    return wardwatch("127.0.0.1", "--port", str(s["port"]), "--user", "root", "--identity", str(s["client_key"]),
                     "--known-hosts", str(s["known"]), "--lang", "en", *extra)


def one_line(r: subprocess.CompletedProcess) -> str:
    assert r.stdout == "" and "Traceback" not in r.stderr, r.stderr
    errors = [x for x in r.stderr.splitlines() if x.startswith("wardwatch:")]
    assert len(errors) == 1, r.stderr
    return errors[0]


def test_known_key_shows_the_real_agent_check_service_and_log(sshd):
    r = as_root(sshd)
    local = subprocess.run([sys.executable, "-m", "agent", "check", "--format", "json", "--lang", "en"],
                           capture_output=True, text=True, cwd=REPO, timeout=60)
    expected = json.loads(local.stdout)
    assert r.returncode == (0 if expected["ok"] else 1), r.stderr
    out = r.stdout
    fp = fingerprint_by_openssh(sshd["host_key"].with_suffix(".pub"))
    assert f"Host key: ssh-ed25519 {fp} (matches known_hosts)" in out
    assert "Service wardwatch-agent: running (active)" in out
    # the same machine: the remote check has the rows of the local one, with the same verdicts
    for item in expected["items"]:
        status = STATUS["en"][item["status"]]
        assert any(line.strip().startswith(f"[{status}]") and item["subject"] in line for line in out.splitlines()), \
            (item, out)
    assert "hardware: ok" in out
    assert "Recent log lines (journal, 2 lines):" in out and "collector wan failed: timeout" in out
    # this checkout's agent runs on its default config: the PC's own view of the WAN says no targets are set
    wan = out.split("WAN targets, as this PC sees them:", 1)[1]
    assert "no targets configured" in wan.split("\n\n", 1)[0]
    assert "diagnose 127.0.0.1: running wardwatch-agent check" in r.stderr  # progress


def test_log_file_when_the_journal_is_empty(sshd):
    log = sshd["tmp"] / "agent.log"
    log.write_text("".join(f"line {i}\n" for i in range(50)))
    flag = sshd["tmp"] / "no-journal"
    flag.touch()
    try:
        r = as_root(sshd, "--log-file", str(log), "--log-lines", "5", "--lang", "vi", "-q")
    finally:
        flag.unlink()
    assert f"Nhật ký gần đây ({log}, 5 dòng):" in r.stdout
    assert "  line 49" in r.stdout and "line 44" not in r.stdout and r.stderr == ""


def test_password_login_and_the_pc_s_view_of_its_wan(sshd):
    env = {"DIAG_PW": sshd["password"]}
    r = wardwatch("127.0.0.1", "--port", str(sshd["port"]), "--user", sshd["user"], "--password-env", "DIAG_PW",
                  "--known-hosts", str(sshd["known"]), "--lang", "en", env=env)
    assert r.returncode == 1, r.stderr  # the fake PC's check fails and its service is "failed"
    out = r.stdout
    assert "Service wardwatch-agent: FAILED" in out
    wan = out.split("WAN targets, as this PC sees them:")[1].split("\n\n")[0]
    assert "[PASS]    dichvucong (portal): 31 ms" in wan
    assert "[FAIL]    vdi-gateway (gateway): loss 40% (needs < 5%) — degraded" in wan
    assert "Memory (RAM)" not in wan and "[PASS]    Memory (RAM): 8.0 GiB" in out
    assert "Result: FAIL — 2 item(s) need attention" in out
    assert sshd["password"] not in out + r.stderr


def test_wrong_password_is_one_clear_line_without_the_password(sshd):
    wrong = "Sai-" + secrets.token_urlsafe(8)
    r = wardwatch("127.0.0.1", "--port", str(sshd["port"]), "--user", sshd["user"], "--password-env", "DIAG_PW",
                  "--known-hosts", str(sshd["known"]), "--lang", "en", env={"DIAG_PW": wrong})
    assert r.returncode == 4
    line = one_line(r)
    assert f"authentication of {sshd['user']}@127.0.0.1:{sshd['port']} failed: wrong password or key" in line
    assert "password from $DIAG_PW" in line
    assert wrong not in r.stdout + r.stderr and sshd["password"] not in r.stdout + r.stderr
    r = wardwatch("127.0.0.1", "--port", str(sshd["port"]), "--user", sshd["user"], "--password-env", "NOT_SET_X",
                  "--known-hosts", str(sshd["known"]), "--lang", "vi")
    assert r.returncode == 2 and "biến môi trường NOT_SET_X (--password-env) chưa được đặt" in one_line(r)


def test_changed_host_key_is_always_refused(sshd, tmp_path):
    known = tmp_path / "known_hosts"
    other = sshd["other_key"].with_suffix(".pub").read_text().split()
    known.write_text(f"[127.0.0.1]:{sshd['port']} {other[0]} {other[1]}\n")
    before = known.read_text()
    expected = fingerprint_by_openssh(sshd["other_key"].with_suffix(".pub"))
    got = fingerprint_by_openssh(sshd["host_key"].with_suffix(".pub"))
    for extra in ((), ("--accept-new",)):
        r = wardwatch("127.0.0.1", "--port", str(sshd["port"]), "--user", "root", "--identity",
                      str(sshd["client_key"]), "--known-hosts", str(known), "--lang", "en", *extra)
        assert r.returncode == 4
        line = one_line(r)
        assert f"HOST KEY OF 127.0.0.1:{sshd['port']} HAS CHANGED" in line
        assert f"has ssh-ed25519 {expected}, the host sent ssh-ed25519 {got}" in line
        assert f"ssh-keygen -R '[127.0.0.1]:{sshd['port']}'" in line
        assert known.read_text() == before


def test_unknown_host_key_needs_accept_new_which_records_it(sshd, tmp_path):
    known = tmp_path / "ssh" / "known_hosts"
    args = ("127.0.0.1", "--port", str(sshd["port"]), "--user", "root", "--identity", str(sshd["client_key"]),
            "--known-hosts", str(known), "--lang", "en", "-q")
    fp = fingerprint_by_openssh(sshd["host_key"].with_suffix(".pub"))
    r = wardwatch(*args)
    assert r.returncode == 4
    line = one_line(r)
    assert f"host key of 127.0.0.1:{sshd['port']} is not enrolled yet in {known} (ssh-ed25519 {fp})" in line
    assert "run wardwatch inventory hostkeys" in line and "--accept-new" in line and not known.exists()
    r = wardwatch(*args, "--accept-new")
    assert r.returncode in (0, 1), r.stderr
    assert f"Host key: ssh-ed25519 {fp} (NEW, just recorded in {known})" in r.stdout
    # recorded the OpenSSH way: ssh-keygen finds it under [host]:port
    found = subprocess.run([need("ssh-keygen"), "-F", f"[127.0.0.1]:{sshd['port']}", "-f", str(known)],
                           capture_output=True, text=True)
    assert found.returncode == 0 and sshd["host_key"].with_suffix(".pub").read_text().split()[1] in found.stdout
    assert oct(known.stat().st_mode & 0o777) == "0o600"
    r = wardwatch(*args)
    assert f"Host key: ssh-ed25519 {fp} (matches known_hosts)" in r.stdout


def test_agent_missing_is_one_line(sshd):
    agent = sshd["root_bin"] / "wardwatch-agent"
    hidden = agent.with_name("agent.hidden")
    agent.rename(hidden)
    try:
        r = as_root(sshd)
    finally:
        hidden.rename(agent)
    assert r.returncode == 1
    assert "wardwatch-agent is not installed on the PC" in one_line(r)


def test_a_typo_in_the_pc_s_config_is_one_line(sshd, tmp_path):
    """The PC's check prints no JSON (the real agent refuses a config with a typo): one line
    saying so with the agent's own reason, exit 1 (docs/diagnose.md), no traceback."""
    config = tmp_path / "agent.yml"
    config.write_text("collectors:\n  hardwar:\n    enabled: true\n")  # the typo: hardwar
    r = as_root(sshd, "--agent-config", str(config), "-q")
    assert r.returncode == 1, r.stderr
    line = one_line(r)
    assert line.startswith("wardwatch: 127.0.0.1: wardwatch-agent check gave no JSON (exit 2): "), line
    assert "hardwar" in line and str(config) in line, line


@pytest.mark.parametrize(("output", "code"), [("", 0), ("not json at all", 3), ('["a list"]', 0),
                                               ('{"items": "not a list"}', 1)])
def test_a_check_without_its_json_is_one_line(sshd, output, code):
    agent = sshd["root_bin"] / "wardwatch-agent"
    real = agent.with_name("agent.real")
    agent.rename(real)
    try:
        script(agent, f"printf '%s' '{output}'; exit {code}\n")
        r = as_root(sshd, "-q")
    finally:
        real.rename(agent)
    assert r.returncode == 1, r.stderr
    assert f"wardwatch-agent check gave no JSON (exit {code})" in one_line(r)


def test_inventory_names_the_pc(sshd, tmp_path):
    inv = tmp_path / "inventory.yml"
    inv.write_text(f"""all:
  children:
    district_ba_dinh:
      vars: {{wardwatch_district_name: "Ba Đình"}}
      children:
        commune_phuc_xa:
          vars: {{wardwatch_commune_name: "Phúc Xá"}}
          hosts:
            bd-phucxa-01: {{ansible_host: 127.0.0.1, ansible_port: {sshd['port']}, ansible_user: root}}
""")
    r = wardwatch("bd-phucxa-01", "--inventory", str(inv), "--identity", str(sshd["client_key"]),
                  "--known-hosts", str(sshd["known"]), "--lang", "en", "-q")
    assert r.returncode in (0, 1), r.stderr
    assert r.stdout.startswith(f"wardwatch — diagnosis of PC bd-phucxa-01 (127.0.0.1:{sshd['port']}, user root)")
    r = wardwatch("bd-khac-09", "--inventory", str(inv), "--known-hosts", str(sshd["known"]), "-q")
    assert r.returncode == 2 and "unknown host 'bd-khac-09'" in one_line(r)


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP listener on loopback that accepts and never says a word (no SSH banner)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(sock.accept()[0])

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        t.join(5)
        for c in held:
            c.close()
        sock.close()


def test_timeout_and_refused_are_one_line(tmp_path):
    known = tmp_path / "known_hosts"
    with silent_server() as port:
        r = wardwatch("127.0.0.1", "--port", str(port), "--known-hosts", str(known), "--timeout", "1", "--lang",
                      "en", "--user", "root", "-q")
    assert r.returncode == 3 and f"127.0.0.1:{port}: no answer within 1 s" in one_line(r)
    port = free_port()
    r = wardwatch("127.0.0.1", "--port", str(port), "--known-hosts", str(known), "--lang", "en", "--user", "root",
                  "-q")
    assert r.returncode == 3 and f"127.0.0.1:{port}: cannot connect (Connection refused)" in one_line(r)


def test_a_name_that_does_not_resolve(monkeypatch, tmp_path):
    # no DNS query leaves this machine: the resolver itself answers "unknown"
    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    target = dg.Target("pc-99", "pc-99.ubnd.invalid", 22, "root")
    with pytest.raises(FleetError) as e:
        dg.connect(target, known_hosts=tmp_path / "kh", lang="en")
    assert e.value.exit_code == EXIT_UNREACHABLE
    assert str(e.value) == "unknown host pc-99.ubnd.invalid (name does not resolve: Name or service not known)"


def test_sc_query_states():
    # `sc query` output as documented for Windows (learn.microsoft.com, sc.exe query)
    running = """
SERVICE_NAME: wardwatch-agent
        TYPE               : 10  WIN32_OWN_PROCESS
        STATE              : 4  RUNNING
                                (STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)
        WIN32_EXIT_CODE    : 0  (0x0)
"""
    assert dg.parse_sc_query(running) == "running"
    assert dg.parse_sc_query(running.replace("4  RUNNING", "1  STOPPED")) == "stopped"
    missing = "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\n\nThe specified service does not exist " \
              "as an installed service.\n"
    assert dg.parse_sc_query(missing) == "missing"
    assert dg.parse_sc_query("") == "unknown"


def test_render_in_vietnamese():
    d = dg.Diagnosis(dg.Target("pc-1", "127.0.0.1", 22, "root"), host_key="ssh-ed25519 SHA256:abc",
                     check=FAKE_CHECK, service="inactive", log_source="journal", log_lines=["a", "b"])
    text = render(d, "vi", Path("kh"))
    assert "Dịch vụ wardwatch-agent: ĐÃ DỪNG (inactive)" in text
    assert "[KHÔNG ĐẠT] vdi-gateway (gateway): loss 40% (cần < 5%) — degraded" in text
    assert "Kết quả: KHÔNG ĐẠT — 2 mục cần xử lý" in text
