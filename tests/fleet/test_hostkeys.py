"""First contact with the PCs' SSH host keys (`wardwatch inventory hostkeys`), against real
sshd "PCs" on 127.0.0.x: unknown -> shown with its fingerprint -> confirmed -> recorded, and
then accepted by rollout and diagnose; a changed key refused with both fingerprints.

Expected fingerprints come from OpenSSH itself (`ssh-keygen -lf` on the host's public key
file), never from wardwatch's own code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import sshhosts
from support import REPO, need, wait_until

from fleet.hostkeys.known_hosts import host_name, lookup

NAMES = ["pc1", "pc2", "pc3"]  # pc3: nothing listens (a PC that is off)


def fingerprint_by_openssh(pub: Path) -> str:
    out = subprocess.run([need("ssh-keygen"), "-lf", str(pub)], capture_output=True, text=True, check=True)
    return out.stdout.split()[1]


@pytest.fixture(scope="module")
def pcs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"hostkeys{os.getpid()}")
    with sshhosts.fleet(tmp, NAMES, down={"pc3"}) as f:
        inv = sshhosts.inventory(f, tmp / "inventory" / "hosts.yml",
                                 communes={"phuc_xa": ["pc1", "pc2"], "truc_bach": ["pc3"]},
                                 group_vars={"wardwatch_agent_service_manager": "none"})  # no systemd here
        yield {"fleet": f, "inv": inv, "hosts": {h.name: h for h in f.hosts}}


def wardwatch(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleet", *args], input=stdin, capture_output=True, text=True,
                          cwd=REPO, timeout=300, env={**os.environ, **(env or {})})


def hostkeys(pcs, known: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return wardwatch("inventory", "hostkeys", "-i", str(pcs["inv"]), "--known-hosts", str(known), "--lang", "en",
                     "--timeout", "5", *args, stdin=stdin)


def rollout_preflight(pcs, known: Path, tmp: Path, *args: str, temp: Path | None = None
                      ) -> subprocess.CompletedProcess:
    return wardwatch("rollout", "-i", str(pcs["inv"]), "--known-hosts", str(known), "--state-dir", str(tmp / "state"),
                     "--playbook", "preflight", "--ssh-retries", "0", "--no-live", "--lang", "en", *args,
                     env={"TMPDIR": str(temp)} if temp else None)


def row(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.split()[:1] == [name])


def name_of(h: sshhosts.SshHost) -> str:
    return f"[{h.address}]:{h.port}"


def test_first_contact_unknown_confirmed_recorded_then_used(pcs, tmp_path):
    known = tmp_path / "config" / "known_hosts"
    hosts = pcs["hosts"]
    fp = {n: fingerprint_by_openssh(hosts[n].host_key.with_suffix(".pub")) for n in ("pc1", "pc2")}

    # Before: rollout says the keys are not enrolled, not that they mismatch.
    r = rollout_preflight(pcs, known, tmp_path, "--commune", "phuc_xa")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "pc1: UNREACHABLE — " in r.stdout and "host key not enrolled yet" in r.stdout, r.stdout
    assert "run wardwatch inventory hostkeys" in r.stdout
    assert "mismatch" not in r.stdout and "không khớp" not in r.stdout and "CHANGED" not in r.stdout

    # Shown with their fingerprints; the operator confirms pc1 only.
    r = hostkeys(pcs, known, "--commune", "phuc_xa", stdin="y\nn\n")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"NEW            ssh-ed25519 {fp['pc1']}" in row(r.stdout, "pc1"), r.stdout
    assert f"NEW            ssh-ed25519 {fp['pc2']}" in row(r.stdout, "pc2"), r.stdout
    assert f"Record the key of pc1 (ssh-ed25519 {fp['pc1']})? [y/N]" in r.stdout
    assert "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" in r.stdout
    assert "Recorded 1 key(s)" in r.stdout and "1 not confirmed" in r.stdout
    # recorded the OpenSSH way: ssh-keygen finds pc1 under [address]:port, and pc2 not at all
    for n, present in (("pc1", True), ("pc2", False)):
        found = subprocess.run([need("ssh-keygen"), "-F", name_of(hosts[n]), "-f", str(known)], capture_output=True,
                               text=True)
        assert (found.returncode == 0) is present, found.stdout
    assert hosts["pc1"].host_key.with_suffix(".pub").read_text().split()[1] in known.read_text()
    assert oct(known.stat().st_mode & 0o777) == "0o600" and oct(known.parent.stat().st_mode & 0o777) == "0o700"

    # Again, with --yes: pc1 is already recorded (unchanged), pc2 is recorded now.
    before = known.read_text()
    r = hostkeys(pcs, known, "--commune", "phuc_xa", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"recorded       ssh-ed25519 {fp['pc1']}" in row(r.stdout, "pc1"), r.stdout
    assert "Recorded 1 key(s)" in r.stdout and "1 already there" in r.stdout
    assert known.read_text().startswith(before) and known.read_text().count("\n") == 2

    # rollout and diagnose now connect to both, checking the recorded keys.
    temp = Path(tempfile.mkdtemp(prefix="hk-"))  # short: SSH control sockets live under it
    try:
        r = rollout_preflight(pcs, known, tmp_path, "--commune", "phuc_xa", temp=temp)
        assert r.returncode == 0, r.stdout + r.stderr
        # the run's SSH master connections ended with it, and their directory is gone
        assert list(temp.iterdir()) == []
        wait_until(lambda: str(temp) not in subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                                           text=True).stdout, timeout=10, what="SSH masters to end")
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    r = wardwatch("diagnose", "pc2", "-i", str(pcs["inv"]), "--identity", str(pcs["fleet"].client_key),
                  "--known-hosts", str(known), "--lang", "en", "-q")
    assert r.returncode != 4 and "host key" not in r.stderr.lower(), r.stdout + r.stderr
    # the agent is not installed on these fresh PCs: diagnose got past SSH to say so
    assert "wardwatch-agent is not installed on the PC" in r.stderr or "matches known_hosts" in r.stdout


def test_a_changed_key_is_refused_with_both_fingerprints(pcs, tmp_path):
    known = tmp_path / "known_hosts"
    hosts = pcs["hosts"]
    impostor = pcs["fleet"].tmp / "other_host_key"
    known.write_text(hosts["pc1"].known_hosts_line(impostor))
    before = known.read_text()
    recorded = fingerprint_by_openssh(impostor.with_suffix(".pub"))
    sent = fingerprint_by_openssh(hosts["pc1"].host_key.with_suffix(".pub"))
    for extra in ((), ("--yes",)):
        r = hostkeys(pcs, known, "--limit", "pc1", *extra, stdin="y\n")
        assert r.returncode == 4, r.stdout + r.stderr
        assert "CHANGED" in row(r.stdout, "pc1")
        line = next(x for x in r.stderr.splitlines() if x.startswith("pc1:"))
        assert "HOST KEY CHANGED" in line and "man-in-the-middle" in line
        assert f"{known} has ssh-ed25519 {recorded} ({known}:1), the PC sent ssh-ed25519 {sent}" in line, line
        assert f"ssh-keygen -R '{name_of(hosts['pc1'])}' -f {known}" in line
        assert "Record the key" not in r.stdout
        assert known.read_text() == before  # never replaced

    # rollout: unreachable, as a changed key (possible attack) with both fingerprints
    r = rollout_preflight(pcs, known, tmp_path, "--limit", "pc1")
    assert r.returncode == 3, r.stdout + r.stderr
    assert f"HOST KEY CHANGED, possible attack: recorded {recorded} ({known}:1), the PC sent {sent}" in r.stdout
    assert "not enrolled" not in r.stdout
    # diagnose: the same refusal
    r = wardwatch("diagnose", "pc1", "-i", str(pcs["inv"]), "--identity", str(pcs["fleet"].client_key),
                  "--known-hosts", str(known), "--lang", "en", "-q")
    assert r.returncode == 4 and "HAS CHANGED" in r.stderr and recorded in r.stderr and sent in r.stderr
    assert known.read_text() == before


def test_a_pc_that_does_not_answer_and_declining_everything(pcs, tmp_path):
    known = tmp_path / "known_hosts"
    r = hostkeys(pcs, known, "--district", "test")  # no answer on stdin: nothing is confirmed
    assert r.returncode == 3, r.stdout + r.stderr
    assert "UNREACHABLE" in row(r.stdout, "pc3") and "cannot connect" in row(r.stdout, "pc3")
    assert "Recorded 0 key(s)" in r.stdout and "2 not confirmed" in r.stdout and "1 unreachable" in r.stdout
    assert not known.exists()
    r = wardwatch("inventory", "hostkeys", "-i", str(pcs["inv"]), "--known-hosts", str(known), "--lang", "en",
                  "--commune", "nowhere")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "unknown commune 'nowhere'" in r.stderr


def test_lookup_reads_hashed_entries_as_openssh_writes_them(pcs, tmp_path):
    """`ssh-keygen -H` hashes the names; the recorded key is still found, and a wildcard entry too."""
    h = pcs["hosts"]["pc1"]
    known = tmp_path / "known_hosts"
    known.write_text(h.known_hosts_line())
    subprocess.run([need("ssh-keygen"), "-H", "-f", str(known)], check=True, capture_output=True)
    assert known.read_text().startswith("|1|")
    name = host_name(h.address, h.port)
    assert [e.fingerprint for e in lookup(known, name)] == [fingerprint_by_openssh(h.host_key.with_suffix(".pub"))]
    assert lookup(known, host_name(h.address, 22)) == []
    pub = h.host_key.with_suffix(".pub").read_text().split()
    known.write_text(f"[127.0.0.*]:{h.port},!{name} {pub[0]} {pub[1]}\n* {pub[0]} {pub[1]}\n")
    assert [e.line for e in lookup(known, name)] == [2]
    assert [e.line for e in lookup(known, host_name("127.0.0.99", h.port))] == [1, 2]
