"""The operators' tool as installed: the wheel is built from a copy of this checkout,
installed with its `fleet` extra only (ansible-core, no Windows collections) into a
fresh venv in a temporary directory, and run from there: no PYTHONPATH, no
WARDWATCH_PLAYBOOKS, no --playbooks, the working directory outside the repository.
It checks the example inventory and rolls out to real sshd "PCs" on loopback, then
uninstalls the agent and the client from one of them (`--uninstall-client`)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sshhosts
from support import REPO, http_get, wait_for

PACKAGE = "wardwatch-test-vclient"
IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                ".ruff_cache", "results")


def clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WARDWATCH_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "ANSIBLE_CONFIG")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "/usr/bin:/bin")])
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> dict:
    """One venv per test session: wardwatch[fleet] from its wheel."""
    tmp = tmp_path_factory.mktemp("installed")
    assert REPO.resolve() not in tmp.resolve().parents
    src = tmp / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=IGNORE)
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(dist), str(src)],
                   cwd=tmp, check=True, timeout=900, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    shutil.rmtree(src)  # what runs from here on is the wheel
    wheel = next(dist.glob("wardwatch-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = clean_env(venv)
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", f"{wheel}[fleet]"], cwd=tmp, env=env,
                   check=True, timeout=1500)
    work = tmp / "work"  # the operator's directory: an inventory of theirs, nothing of the repository
    work.mkdir()
    shutil.copytree(REPO / "inventory", work / "inventory")
    return {"tmp": tmp, "venv": venv, "wheel": wheel, "env": env, "work": work}


def wardwatch(inst: dict, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(inst["venv"] / "bin/wardwatch"), *args], cwd=inst["work"], env=inst["env"],
                          capture_output=True, text=True, timeout=timeout)


def test_the_wheel_carries_the_playbooks_and_only_ansible_core(installed):
    venv = installed["venv"]
    r = subprocess.run([str(venv / "bin/python"), "-c",
                        "import fleet, fleet.inventory as i; print(fleet.__file__); print(i.default_playbooks_dir())"],
                       cwd=installed["work"], env=installed["env"], capture_output=True, text=True, check=True)
    module, playbooks = (Path(x) for x in r.stdout.split())
    site = next(venv.glob("lib/python*/site-packages"))
    assert module.parent == site / "fleet"
    assert playbooks == site / "fleet" / "playbooks"
    for f in ("site.yml", "preflight.yml", "uninstall.yml", "roles/wardwatch_agent/meta/argument_specs.yml",
              "roles/wardwatch_agent/templates/wardwatch-agent.service.j2", "roles/preflight/templates/reasons.j2",
              "fix.yml", "roles/fix/meta/argument_specs.yml", "roles/fix/tasks/printer_resume_windows.yml"):
        assert (playbooks / f).is_file(), f
    # the fleet extra is ansible-core alone: no collection is installed, Windows ones included
    assert not list(site.glob("ansible_collections/ansible/windows"))
    assert not (site / "playbooks").exists()  # nothing at the top of site-packages under a generic name


def test_the_windows_extra_brings_winrm_and_the_windows_collections(installed):
    """Read from the wheel's metadata (installing the 55 MB bundle is left to operators with Windows PCs)."""
    import zipfile

    with zipfile.ZipFile(installed["wheel"]) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    requires = {ln.split(":", 1)[1].strip().replace(" ", "") for ln in meta.splitlines()
                if ln.startswith("Requires-Dist:")}
    assert 'pywinrm>=0.4.3;extra=="windows"' in requires
    assert 'ansible<13,>=12;extra=="windows"' in requires or 'ansible>=12,<13;extra=="windows"' in requires
    assert any(r.startswith("wardwatch[fleet]") and r.endswith('extra=="windows"') for r in requires), requires


def test_inventory_check_on_the_example(installed):
    r = wardwatch(installed, "inventory", "check", "-i", "inventory", "--lang", "en")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == ""
    assert r.stdout.startswith("Inventory OK: 12 PCs in 8 communes of 3 districts"), r.stdout


@pytest.fixture(scope="module")
def pcs(installed):
    # the agent runs as its own unprivileged user: the PCs' roots where it can reach them
    with sshhosts.agent_world("installed") as (tmp, user):
        yield from _pcs(installed, tmp, user)


def _pcs(installed, tmp, user):
    cache = tmp / "cache"
    # the district cache: the agent's wheel and its dependencies, and a client .deb
    subprocess.run([str(installed["venv"] / "bin/python"), "-m", "pip", "wheel", "-q", "--wheel-dir",
                    str(cache / "wheels"), str(installed["wheel"])], cwd=installed["work"], env=installed["env"],
                   check=True, timeout=900)
    deb = sshhosts.build_deb(cache)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(cache))
    orig = handler.func.log_message
    handler.func.log_message = lambda self, fmt, *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/"
    try:
        with sshhosts.fleet(tmp, ["pc1", "pc2"]) as f:
            inv = sshhosts.inventory(f, installed["work"] / "loopback" / "hosts.yml",
                                     communes={"phuc_xa": ["pc1", "pc2"]}, group_vars={
                                         "wardwatch_agent_pip_find_links": url + "wheels/",
                                         "wardwatch_agent_service_manager": "none",
                                         "wardwatch_agent_user": user,
                                         "wardwatch_min_spec": {"min_memory_mb": 64, "min_disk_free_mb": 10,
                                                                "min_cpu_cores": 1},
                                         "virtual_client_kind": "citrix_workspace",
                                         "virtual_client_linux_method": "dpkg",
                                         "virtual_client_cache_url": url,
                                         "virtual_client_package_file": deb.name,
                                         "virtual_client_package_sha256": hashlib.sha256(deb.read_bytes()).hexdigest(),
                                         "virtual_client_package_name": PACKAGE,
                                         "virtual_client_version": "1.2.3",
                                     })
            yield {"fleet": f, "inventory": inv, "state": tmp / "state"}
    finally:
        handler.func.log_message = orig
        srv.shutdown()
        srv.server_close()


def dpkg_has(root: Path) -> bool:
    status = root / "var/lib/dpkg/status"
    return status.exists() and f"Package: {PACKAGE}\nStatus: install ok installed" in status.read_text()


def test_rollout_and_uninstall_from_the_installed_tool(installed, pcs):
    f, inv = pcs["fleet"], pcs["inventory"]
    common = ["-i", str(inv), "--state-dir", str(pcs["state"]), "--lang", "en", "--no-live", "--ssh-retries", "0",
              "--known-hosts", str(f.known_hosts)]
    r = wardwatch(installed, "rollout", *common, "--commune", "phuc_xa", "--serial", "100%")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[0] == "2 PCs: pc1, pc2"
    assert "Total: 2 PCs — 0 ok, 2 changed, 0 failed, 0 unreachable, 0 not run" in r.stdout, r.stdout
    for h in f.hosts:
        text = wait_for(lambda h=h: http_get(f"http://{h.address}:{h.agent_port}/metrics")[1].decode(),
                        what=f"/metrics of {h.name}")
        assert 'wardwatch_vclient_installed{product="citrix_workspace"} 1.0' in text
        assert dpkg_has(h.root)

    # the client uninstall, from the command line, on one PC only
    r = wardwatch(installed, "rollout", *common, "--playbook", "uninstall", "--uninstall-client", "--limit", "pc1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[0] == "1 PC: pc1"
    pc1, pc2 = f.hosts
    assert not dpkg_has(pc1.root) and not (pc1.root / "opt/wardwatch").exists()
    assert dpkg_has(pc2.root) and (pc2.root / "opt/wardwatch").exists()
    with pytest.raises(OSError):
        http_get(f"http://{pc1.address}:{pc1.agent_port}/metrics")
    assert "wardwatch_vclient_installed" in http_get(f"http://{pc2.address}:{pc2.agent_port}/metrics")[1].decode()

    r = wardwatch(installed, "rollout", *common, "--uninstall-client", "--limit", "pc2")
    assert r.returncode == 2 and r.stderr == "wardwatch: --uninstall-client goes with --playbook uninstall only\n"
