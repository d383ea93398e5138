"""`wardwatch rollout` end to end: real sshd "PCs" on 127.0.0.x, real ansible-runner,
the real roles installing the agent (from a wheelhouse of this checkout) and a small
real .deb from a local HTTP "district cache", then the agents' /metrics."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sshhosts
from support import REPO, free_port, http_get, wait_for

SECRET = f"push-secret-{os.getpid()}-do-not-log"
NAMES = ["pc1", "pc2", "pc3", "pc4", "pc5"]
PACKAGE = "wardwatch-test-vclient"
# pc3 takes the production path: apt installs the .deb system-wide (a harmless package
# with one script under /opt, purged after the test); the others use dpkg --root.
APT_PC = "pc3"


def purge_system_package() -> None:
    if subprocess.run(["dpkg-query", "-W", PACKAGE], capture_output=True).returncode == 0:
        subprocess.run(["dpkg", "--purge", PACKAGE], capture_output=True, check=True)


def wardwatch(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleet", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=check)


@pytest.fixture(scope="module")
def world():
    with sshhosts.agent_world("rollout") as (tmp, user):
        yield from _world(tmp, user)


def _world(tmp: Path, user: str):
    cache = tmp / "cache"  # the district cache: the client's .deb and the agent's wheels
    wheels = sshhosts.build_wheelhouse(cache / "wheels")
    deb = sshhosts.build_deb(cache)
    sha = hashlib.sha256(deb.read_bytes()).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(cache))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    requests: list[str] = []
    orig = handler.func.log_message
    handler.func.log_message = lambda self, fmt, *a: requests.append(self.path)  # count downloads
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    purge_system_package()
    try:
        with sshhosts.fleet(tmp, NAMES, wrong_key={"pc4"}, down={"pc5"}) as f:
            yield {"fleet": f, "tmp": tmp, "wheels": wheels, "deb": deb, "sha": sha, "requests": requests,
                   "cache_url": f"http://127.0.0.1:{srv.server_address[1]}/", "state": tmp / "state", "user": user}
    finally:
        purge_system_package()
        handler.func.log_message = orig
        srv.shutdown()
        srv.server_close()


def write_inventory(w, host_vars=None) -> Path:
    apt = {"virtual_client_linux_method": "apt", "virtual_client_dpkg_root": "/", "virtual_client_debconf": [],
           "virtual_client_download_dir": str(w["fleet"].tmp / "pcs" / APT_PC / "var/cache/wardwatch/installers")}
    host_vars = {APT_PC: apt} | {n: {**(apt if n == APT_PC else {}), **v} for n, v in (host_vars or {}).items()}
    return sshhosts.inventory(
        w["fleet"], w["tmp"] / "inventory" / "hosts.yml",
        communes={"phuc_xa": ["pc1", "pc2", "pc3"], "truc_bach": ["pc4", "pc5"]},
        group_vars={
            "wardwatch_agent_pip_find_links": w["cache_url"] + "wheels/",
            "wardwatch_agent_service_manager": "none",
            "wardwatch_agent_user": w["user"],
            "wardwatch_agent_push_url": "http://127.0.0.1:9/",
            "wardwatch_agent_push_password": SECRET,
            "wardwatch_min_spec": {"min_memory_mb": 256, "min_disk_free_mb": 100, "min_cpu_cores": 1},
            "virtual_client_kind": "citrix_workspace",
            "virtual_client_linux_method": "dpkg",
            "virtual_client_cache_url": w["cache_url"],
            "virtual_client_package_file": w["deb"].name,
            "virtual_client_package_sha256": w["sha"],
            "virtual_client_package_name": PACKAGE,
            "virtual_client_version": "1.2.3",
            "virtual_client_download_retries": 0,
        },
        host_vars=host_vars)


def rollout(w, inv: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    r = wardwatch("rollout", "-i", str(inv), "--state-dir", str(w["state"]), "--ssh-retries", "0", "--lang", "en",
                  "--no-live", "--known-hosts", str(w["fleet"].known_hosts), *args)
    return r, last_results(w, inv)


def last_results(w, inv: Path) -> dict:
    files = list((w["state"] / "rollout").glob("*/hosts.json"))
    return json.loads(files[0].read_text())["hosts"] if files else {}


def table(stdout: str) -> dict[str, str]:
    """PC -> result column of the final table."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        for n in NAMES:
            if n in parts:
                out[n] = " ".join(parts[parts.index(n) + 1:parts.index(n) + 3])
    return out


def tree(root: Path) -> dict[str, float]:
    """Every file of a PC's install root with its mtime (the agent's own log excepted: it writes it)."""
    return {str(p.relative_to(root)): p.stat().st_mtime for p in sorted(root.rglob("*"))
            if "sshd" not in p.name and "var/log" not in str(p)}


def metrics(h: sshhosts.SshHost) -> str:
    return http_get(f"http://{h.address}:{h.agent_port}/metrics")[1].decode()


def test_rollout_end_to_end(world):
    w = world
    f = w["fleet"]
    hosts = {h.name: h for h in f.hosts}
    bad_sum = {"pc2": {"virtual_client_package_sha256": "0" * 64}}
    inv = write_inventory(w, bad_sum)

    # 1. --check on fresh PCs: a dry run that changes nothing and is not remembered.
    before = {n: tree(h.root) for n, h in hosts.items()}
    r, last = rollout(w, inv, "--check", "--commune", "Phuc Xa", "--serial", "100%")
    assert "dry run" in r.stdout, r.stdout + r.stderr
    assert {n: tree(h.root) for n, h in hosts.items()} == before
    assert last == {}
    assert not any(p.endswith(".deb") for p in w["requests"])

    # 2. Canary pc1, then pc2 (its installer fails its checksum) stops the waves: pc3 is not run.
    #    pc4 (its host key changed) and pc5 (nothing listens) are unreachable.
    r, last = rollout(w, inv, "--serial", "1,1,100%", "--max-fail-percentage", "0")
    assert r.returncode == 1, r.stdout + r.stderr
    status = {n: last[n]["status"] for n in NAMES}
    assert status == {"pc1": "changed", "pc2": "failed", "pc3": "not_run", "pc4": "unreachable",
                      "pc5": "unreachable"}, r.stdout
    assert "HOST KEY CHANGED" in last["pc4"]["reason"], last["pc4"]
    assert "connection refused" in last["pc5"]["reason"]
    assert "checksum" in last["pc2"]["reason"].lower() or "sha256" in last["pc2"]["reason"].lower(), last["pc2"]
    rows = table(r.stdout)
    assert rows["pc1"].startswith("CHANGED"), r.stdout
    assert rows["pc4"].startswith("UNREACHABLE") and rows["pc5"].startswith("UNREACHABLE")
    assert rows["pc3"].startswith("NOT RUN")
    assert "[Phuc Xa] pc1: CHANGED" in r.stdout  # the live lines, grouped by commune
    assert "wardwatch rollout --retry-failed" in r.stdout
    text = metrics(hosts["pc1"])
    assert 'wardwatch_vclient_installed{product="citrix_workspace"} 1.0' in text
    assert 'wardwatch_vclient_info{product="citrix_workspace",version="1.2.3"} 1.0' in text
    assert not (hosts["pc3"].root / "opt/wardwatch").exists()
    first_run_pc1 = last["pc1"]["run"]

    # 3. Fix what was wrong; --retry-failed runs pc2..pc5 only, and finishes them.
    inv = write_inventory(w)
    f.known_hosts.write_text("".join(h.known_hosts_line() for h in f.hosts))
    with sshhosts.sshd(hosts["pc5"], f.tmp / "authorized_keys", f.tmp):
        r, last = rollout(w, inv, "--retry-failed", "--serial", "100%")
        assert r.returncode == 0, r.stdout + r.stderr
        assert set(table(r.stdout)) == {"pc2", "pc3", "pc4", "pc5"}, r.stdout
        assert {n: last[n]["status"] for n in NAMES} == {n: "changed" for n in NAMES}
        assert last["pc1"]["run"] == first_run_pc1  # untouched by the retry
        for h in f.hosts:
            text = wait_for(lambda h=h: metrics(h), what=f"/metrics of {h.name}")
            assert 'wardwatch_vclient_installed{product="citrix_workspace"} 1.0' in text
            assert 'wardwatch_collector_success{collector="vclient"} 1.0' in text
            status_file = Path("/var/lib/dpkg/status" if h.name == APT_PC else h.root / "var/lib/dpkg/status")
            assert f"Package: {PACKAGE}\nStatus: install ok installed" in status_file.read_text()
        downloads = [p for p in w["requests"] if p.endswith(".deb")]
        assert len(downloads) == 6, downloads  # pc1, pc2's bad try, then one per PC still missing it

        # 4. The same rollout again: nothing changes, nothing is downloaded.
        r, last = rollout(w, inv, "--serial", "100%")
        assert r.returncode == 0, r.stdout + r.stderr
        assert {n: (last[n]["status"], last[n]["changed"]) for n in NAMES} == {n: ("ok", 0) for n in NAMES}
        assert len([p for p in w["requests"] if p.endswith(".deb")]) == 6

        # 5. --check on installed PCs: nothing would change, nothing did.
        before = {n: tree(h.root) for n, h in hosts.items()}
        r, _ = rollout(w, inv, "--check", "--district", "test", "--commune", "phuc_xa")
        assert r.returncode == 0, r.stdout + r.stderr
        assert all(v.startswith("ok") for v in table(r.stdout).values()), r.stdout
        assert {n: tree(h.root) for n, h in hosts.items()} == before

    # 6. A PC below the minimum spec fails preflight with a readable reason.
    inv = write_inventory(w, {"pc1": {"wardwatch_min_spec": {"min_memory_mb": 10**9}}})
    r, last = rollout(w, inv, "--playbook", "preflight", "--commune", "phuc_xa")
    assert r.returncode == 1
    assert last["pc1"]["status"] == "failed"
    assert "RAM" in last["pc1"]["reason"] and "< needs 1000000000 MiB" in last["pc1"]["reason"], last["pc1"]
    assert "cần" not in r.stdout  # --lang en: English only
    assert "wardwatch rollout --retry-failed -i " + str(inv) + " --playbook preflight" in r.stdout
    assert last["pc2"]["status"] == "ok"

    # 7. Uninstall from one PC: its agent stops and its files go; the others keep running.
    inv = write_inventory(w)
    r, last = rollout(w, inv, "--playbook", "uninstall", "--limit", "pc1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert last["pc1"]["status"] == "changed"
    assert not (hosts["pc1"].root / "opt/wardwatch").exists()
    assert not (hosts["pc1"].root / "etc/wardwatch").exists()
    with pytest.raises(OSError):
        metrics(hosts["pc1"])
    assert "wardwatch_vclient_installed" in metrics(hosts["pc2"])

    # Secrets stay out of the kept artifacts and results.
    found = subprocess.run(["grep", "-rl", SECRET, str(w["state"])], capture_output=True, text=True).stdout
    assert found == ""
    assert list(w["state"].glob("rollout/*/artifacts/*/job_events/*.json"))  # the artifacts are there
    assert not list(w["state"].glob("rollout/*/env/*"))


def test_unknown_commune_is_one_line(world, tmp_path):
    inv = write_inventory(world)
    r = wardwatch("rollout", "-i", str(inv), "--state-dir", str(tmp_path), "--commune", "Hang Bac")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "unknown commune 'Hang Bac'" in r.stderr
    assert "phuc_xa (Phuc Xa)" in r.stderr


def test_retry_with_nothing_failed(tmp_path, world):
    inv = write_inventory(world)
    r = wardwatch("rollout", "-i", str(inv), "--state-dir", str(tmp_path), "--retry-failed", "--lang", "en")
    assert r.returncode == 0 and "No PC to retry" in r.stdout


def test_a_broken_playbook_is_one_line(tmp_path):
    import shutil

    books = tmp_path / "playbooks"
    shutil.copytree(REPO / "playbooks", books)
    (books / "bad.yml").write_text("- name: Broken\n  hosts: all\n  tasks:\n    - name: X\n"
                                   "      ansible.builtin.no_such_module: {}\n")
    inv = tmp_path / "hosts.yml"  # loopback only, nothing listening: never the example's addresses
    inv.write_text(f"""all:
  children:
    district_test:
      vars: {{wardwatch_district_name: "Thử"}}
      children:
        commune_phuc_xa:
          vars: {{wardwatch_commune_name: "Phúc Xá"}}
          hosts:
            pc1: {{ansible_host: 127.0.0.1, ansible_port: {free_port()}}}
""")
    r = wardwatch("rollout", "-i", str(inv), "--playbooks", str(books), "--playbook", "bad.yml",
                  "--state-dir", str(tmp_path / "state"), "--commune", "phuc_xa", "--no-live")
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "no_such_module" in r.stderr and "Traceback" not in r.stderr
