"""The playbooks and roles, Windows paths included: syntax, ansible-lint's production
profile, and the roles' argument_specs refusing bad variables before any task runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from support import REPO, need

PLAYBOOKS = REPO / "playbooks"
ENV = {**os.environ, "ANSIBLE_ROLES_PATH": str(PLAYBOOKS / "roles"), "ANSIBLE_NOCOLOR": "1",
       "ANSIBLE_RETRY_FILES_ENABLED": "0"}


@pytest.mark.parametrize("playbook", ["site.yml", "preflight.yml", "uninstall.yml", "fix.yml"])
def test_syntax(playbook):
    r = subprocess.run([need("ansible-playbook"), "--syntax-check", "-i", str(REPO / "inventory"),
                        str(PLAYBOOKS / playbook)], capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING" not in r.stderr, r.stderr


def test_windows_modules_resolve():
    """The Windows collections are installed (the PyPI ansible package bundles them), so the
    Windows tasks are checked by the syntax check and lint, not silently unresolved."""
    r = subprocess.run([need("ansible-doc"), "-t", "module", "-l", "ansible.windows"], capture_output=True,
                       text=True, env=ENV, timeout=120)
    assert "ansible.windows.win_package" in r.stdout
    r = subprocess.run([need("ansible-doc"), "-t", "module", "-l", "community.windows"], capture_output=True,
                       text=True, env=ENV, timeout=120)
    assert "community.windows.win_nssm" in r.stdout and "community.windows.win_firewall_rule" in r.stdout


def test_ansible_lint_production_profile():
    r = subprocess.run([need("ansible-lint"), "--profile", "production", "--nocolor", "site.yml", "preflight.yml",
                        "uninstall.yml", "fix.yml", "roles"], cwd=PLAYBOOKS, capture_output=True, text=True, env=ENV,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Profile 'production' was required, and it passed" in r.stdout + r.stderr


def run_role(tmp: Path, role: str, variables: dict) -> subprocess.CompletedProcess:
    play = [{"name": "Apply a role with given variables", "hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "Apply the role", "ansible.builtin.include_role": {"name": role},
                        "vars": variables}]}]
    (tmp / "play.yml").write_text(yaml.safe_dump(play))
    return subprocess.run([need("ansible-playbook"), "-i", "localhost,", "-c", "local", str(tmp / "play.yml")],
                          capture_output=True, text=True, env=ENV, timeout=120)


@pytest.mark.parametrize(("role", "variables", "complaint"), [
    ("wardwatch_agent", {"wardwatch_agent_service_manager": "upstart"}, "wardwatch_agent_service_manager"),
    ("wardwatch_agent", {"wardwatch_agent_port": "many"}, "wardwatch_agent_port"),
    ("virtual_client", {"virtual_client_kind": "anydesk"}, "virtual_client_kind"),
    ("preflight", {"preflight_min_spec": {"min_memory_mb": "lots"}}, "min_memory_mb"),
    ("fix", {"fix_action": "shell"}, "fix_action"),  # the allow-list holds even when Ansible is run by hand
])
def test_argument_specs_reject_bad_variables(tmp_path, role, variables, complaint):
    r = run_role(tmp_path, role, variables)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "Validating arguments against arg spec" in out and complaint in out, out
    assert "changed=0" in out


def test_agent_config_template_renders_a_config_the_agent_accepts(tmp_path):
    """The role's agent.yml template, rendered by Ansible from inventory-like vars, passes the
    agent's own config validation (print-config); the example inventory's WAN targets too."""
    example = yaml.safe_load((REPO / "inventory/group_vars/all.yml").read_text())["wardwatch_wan_targets"]
    wan_targets = json.dumps(example)
    play = textwrap.dedent(f"""\
        - name: Render the agent config
          hosts: localhost
          gather_facts: true
          gather_subset: [min]
          vars:
            wardwatch_min_spec: {{min_memory_mb: 3500, min_disk_free_mb: 10240, min_cpu_cores: 2,
                                  allowed_os: ["Debian", "Windows 10"]}}
            virtual_client_kind: horizon
            wardwatch_vclient_gateway: "203.0.113.20:443"
          tasks:
            - name: Render
              ansible.builtin.template:
                src: {PLAYBOOKS}/roles/wardwatch_agent/templates/agent.yml.j2
                dest: {tmp_path}/agent.yml
                mode: "0644"
              vars:
                wardwatch_agent_listen: "127.0.0.1:10713"
                wardwatch_agent_language: en
                wardwatch_agent_state_dir: {tmp_path}/state
                wardwatch_agent_spec: "{{{{ wardwatch_min_spec }}}}"
                wardwatch_agent_vclient_product: "{{{{ virtual_client_kind }}}}"
                wardwatch_agent_vclient_packages: []
                wardwatch_agent_vclient_dpkg_status: /var/lib/dpkg/status
                wardwatch_agent_vclient_gateway: "{{{{ wardwatch_vclient_gateway }}}}"
                wardwatch_agent_extra_config: {{collectors: {{hardware: {{interval: 120}}}}}}
                wardwatch_agent_wan_enabled: false
                wardwatch_agent_wan_targets: {wan_targets}
                wardwatch_agent_push_url: ""
                wardwatch_agent_push_password: ""
                wardwatch_agent_windows_data_dir: 'C:\\ProgramData\\wardwatch'
        """)
    (tmp_path / "play.yml").write_text(play)
    r = subprocess.run([need("ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                        "ansible_python_interpreter=/usr/bin/python3", str(tmp_path / "play.yml")],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = subprocess.run([sys.executable, "-m", "agent", "print-config", "--config", str(tmp_path / "agent.yml")],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    assert cfg["spec"]["min_memory"] == 3500 * 2**20 and cfg["spec"]["allowed_os"] == ["Debian", "Windows 10"]
    assert cfg["collectors"]["vclient"]["product"] == "horizon"
    assert cfg["collectors"]["vclient"]["gateway"] == "203.0.113.20:443"
    assert cfg["collectors"]["hardware"]["interval"] == 120
    assert cfg["web"]["listen"] == "127.0.0.1:10713"
    assert "wan" not in yaml.safe_load((tmp_path / "agent.yml").read_text())["collectors"]
    # with the wan collector on, the inventory's targets go to collectors.wan.targets, and the agent takes them
    (tmp_path / "play.yml").write_text(play.replace("wardwatch_agent_wan_enabled: false",
                                                    "wardwatch_agent_wan_enabled: true"))
    r = subprocess.run([need("ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                        "ansible_python_interpreter=/usr/bin/python3", str(tmp_path / "play.yml")],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    rendered = yaml.safe_load((tmp_path / "agent.yml").read_text())
    assert rendered["collectors"]["wan"] == {"targets": example}
    out = subprocess.run([sys.executable, "-m", "agent", "print-config", "--config", str(tmp_path / "agent.yml")],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    targets = yaml.safe_load(out.stdout)["collectors"]["wan"]["targets"]
    assert [(t["name"], t["role"], t["kind"]) for t in targets] == [
        ("dichvucong", "portal", "http"), ("gateway", "gateway", "tcp"), ("dns", "dns", "dns")]


def test_systemd_unit_is_valid_and_hardened(tmp_path):
    """The role's unit, rendered by Ansible, passes `systemd-analyze verify` and its offline
    security review rates it below 3.0 (of 10: lower is better exposure)."""
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "wardwatch-agent").write_text("#!/bin/sh\n")
    (venv / "wardwatch-agent").chmod(0o755)
    unit = tmp_path / "wardwatch-agent.service"
    play = [{"name": "Render the unit", "hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "Render", "ansible.builtin.template": {
            "src": str(PLAYBOOKS / "roles/wardwatch_agent/templates/wardwatch-agent.service.j2"),
            "dest": str(unit), "mode": "0644"},
        "vars": {"wardwatch_agent_venv": str(tmp_path / "venv"),
                 "wardwatch_agent_config_file": "/etc/wardwatch/agent.yml", "wardwatch_agent_user": "wardwatch",
                 "wardwatch_agent_user_groups_present": ["lp", "scanner"],
                 "wardwatch_agent_push_password": "not-this", "wardwatch_agent_password_file": "/etc/wardwatch/pw"}}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    r = subprocess.run([need("ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                        "ansible_python_interpreter=/usr/bin/python3", str(tmp_path / "play.yml")],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    text = unit.read_text()
    assert "LoadCredential=push_password:/etc/wardwatch/pw" in text and "not-this" not in text
    r = subprocess.run([need("systemd-analyze"), "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    r = subprocess.run([need("systemd-analyze"), "security", "--offline=true", str(unit)], capture_output=True,
                       text=True, timeout=60)
    line = next(ln for ln in r.stdout.splitlines() if "Overall exposure level" in ln)
    assert float(line.split(":")[1].split()[0]) < 3.0, line

    # One unit: the role's is packaging/systemd/wardwatch-agent.service with its paths and credential.
    def directives(text: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        section = ""
        for ln in text.splitlines():
            ln = ln.strip()
            if ln.startswith("["):
                section = ln
            elif ln and not ln.startswith("#") and "=" in ln:
                key, _, value = ln.partition("=")
                out.setdefault(f"{section}{key}", []).append(value)
        return out

    ours = directives(text.replace(str(tmp_path / "venv"), "/opt/wardwatch/venv"))
    packaged = directives((REPO / "packaging/systemd/wardwatch-agent.service").read_text())
    assert ours.pop("[Service]LoadCredential") == ["push_password:/etc/wardwatch/pw"]
    assert ours.pop("[Unit]Documentation") == ["file:///etc/wardwatch/agent.yml"]
    packaged.pop("[Unit]Documentation")
    assert ours == packaged


def test_agent_config_template_names_a_pushing_pc_as_its_scrape_target_would(tmp_path):
    """Push mode: the grouping key carries the inventory host name as instance and its district and
    commune, the labels `wardwatch inventory targets` gives a scraped PC (docs/alerts.md, PCs that push)."""
    (tmp_path / "hosts.ini").write_text("[district_ba_vi:children]\ncommune_tan_linh\n\n"
                                        "[commune_tan_linh]\nlocalhost ansible_connection=local\n")
    play = [{"name": "Render the agent config", "hosts": "localhost", "gather_facts": True,
             "gather_subset": ["min"], "tasks": [{
                 "name": "Render", "ansible.builtin.template": {
                     "src": str(PLAYBOOKS / "roles/wardwatch_agent/templates/agent.yml.j2"),
                     "dest": str(tmp_path / "agent.yml"), "mode": "0644"},
                 "vars": {"wardwatch_agent_listen": "127.0.0.1:10713", "wardwatch_agent_language": "vi",
                          "wardwatch_agent_state_dir": str(tmp_path / "state"), "wardwatch_agent_spec": {},
                          "wardwatch_agent_vclient_product": "none", "wardwatch_agent_vclient_packages": [],
                          "wardwatch_agent_vclient_dpkg_status": "/var/lib/dpkg/status",
                          "wardwatch_agent_vclient_gateway": "", "wardwatch_agent_extra_config": {},
                          "wardwatch_agent_wan_enabled": False, "wardwatch_agent_wan_targets": [],
                          "wardwatch_agent_push_url": "https://pushgw.ba-vi.example:9091",
                          "wardwatch_agent_push_username": "", "wardwatch_agent_push_password": "",
                          "wardwatch_agent_windows_data_dir": "C:\\ProgramData\\wardwatch"}}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    r = subprocess.run([need("ansible-playbook"), "-i", str(tmp_path / "hosts.ini"), "-e",
                        "ansible_python_interpreter=/usr/bin/python3", str(tmp_path / "play.yml")],
                       capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = subprocess.run([sys.executable, "-m", "agent", "print-config", "--config", str(tmp_path / "agent.yml")],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    push = yaml.safe_load(out.stdout)["push"]
    assert (push["enabled"], push["url"], push["instance"]) == (True, "https://pushgw.ba-vi.example:9091", "localhost")
    assert push["grouping"] == {"district": "ba_vi", "commune": "tan_linh"}
