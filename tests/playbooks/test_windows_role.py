"""The wardwatch_agent role's Windows tasks read as data: every file they install comes from
the district cache (no URL, no index), the service runs as the virtual account, the ACLs and
the firewall scope are those docs/windows-service.md states, uninstall removes every part.
A live Windows host is not available here: docs/windows-service.md says what an ICT department
checks on its first PC."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml
from support import REPO, need

ROLE = REPO / "playbooks" / "roles" / "wardwatch_agent"
DOC = (REPO / "docs" / "windows-service.md").read_text(encoding="utf-8")
# What the docs promise (docs/windows-service.md), written out here, not read from the role.
ACCOUNT = "NT SERVICE\\wardwatch-agent"
INSTALL = "C:\\Program Files\\wardwatch"
DATA = "C:\\ProgramData\\wardwatch"
DOCUMENTED_ACL = {
    (DATA, "NT AUTHORITY\\SYSTEM", "FullControl"),
    (DATA, "BUILTIN\\Administrators", "FullControl"),
    (DATA, ACCOUNT, "ReadAndExecute"),
    (DATA + "\\state", ACCOUNT, "Modify"),
    (DATA + "\\logs", ACCOUNT, "Modify"),
    (INSTALL, ACCOUNT, "ReadAndExecute"),
}


def load(rel: str):
    return yaml.safe_load((ROLE / rel).read_text(encoding="utf-8"))


def module_of(task: dict) -> tuple[str, dict]:
    skip = {"name", "loop", "loop_control", "register", "when", "tags", "notify", "no_log", "failed_when",
            "changed_when", "retries", "delay", "until", "delegate_to", "run_once", "become", "listen"}
    (mod,) = [k for k in task if k not in skip]
    return mod, task[mod]


def render(value: str) -> str:
    """A role string with the role's defaults and fixed vars (no lookups among them)."""
    ctx = {**load("defaults/main.yml"), **{k: v for k, v in load("vars/main.yml").items()
                                          if "lookup(" not in str(v) and "cache_manifest" not in str(v)}}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for _ in range(5):
        if "{{" not in value:
            return value
        value = env.from_string(value).render(**ctx)
    return value


TASKS = load("tasks/windows.yml")
ABSENT = load("tasks/absent_windows.yml")
VARS = load("vars/main.yml")


def strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings(k) + strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def test_every_file_installed_comes_from_the_cache():
    copies = 0
    for task in TASKS:
        mod, args = module_of(task)
        assert mod not in ("ansible.windows.win_get_url", "ansible.windows.win_package", "ansible.builtin.get_url",
                           "chocolatey.chocolatey.win_chocolatey"), task["name"]
        if mod == "ansible.windows.win_copy" and "src" in args:
            copies += 1
            assert args["src"].startswith("{{ wardwatch_agent_cache_dir }}/"), task["name"]
        if mod == "community.windows.win_unzip":
            assert args["src"].startswith("{{ wardwatch_agent_windows_install_dir }}\\"), task["name"]
    assert copies == 2  # Python + NSSM, then the wheels
    # No address anywhere in the tasks but the agent's own /healthz (a variable, on the PC itself).
    assert not [s for s in strings(TASKS) if "://" in s]
    assert VARS["wardwatch_agent_health_url"].strip().startswith("http://{{")


def test_pip_installs_only_from_the_copied_cache():
    (argv,) = [args["argv"] for mod, args in map(module_of, TASKS)
               if mod == "ansible.windows.win_command" and "install" in args["argv"]]
    assert "--no-index" in argv and "--only-binary=:all:" in argv
    assert argv[argv.index("--find-links") + 1] == "{{ wardwatch_agent_windows_install_dir }}\\wheels"
    assert not [a for a in argv if "index-url" in a]
    assert argv[0] == "{{ wardwatch_agent_windows_python_exe }}"
    assert render(VARS["wardwatch_agent_windows_python_exe"]) == INSTALL + "\\python\\python.exe"
    assert "C:\\Program Files\\wardwatch\\python" in DOC


def test_an_upgrade_stops_the_service_before_pip_replaces_its_files():
    names = [t["name"] for t in TASKS]
    stop = names.index("Stop the agent before replacing its packages (Windows)")
    pip = names.index("Install the agent's wheels into its folder (Windows)")
    assert stop < pip
    assert module_of(TASKS[stop])[1]["state"] == "stopped"
    assert "not wardwatch_agent_installed_windows.stat.exists" in TASKS[stop]["when"]


def test_the_files_are_checked_against_the_manifest_before_and_after_the_copy():
    names = [t["name"] for t in TASKS]
    verify = names.index("Verify the cache's files against manifest.yml on the controller (Windows)")
    copy = names.index("Copy the embeddable Python and NSSM from the cache (Windows)")
    after = names.index("Verify the copies' SHA-256 on the PC (Windows)")
    assert verify < copy < after
    for i in (verify, after):
        assert TASKS[i]["failed_when"].count("!= item.sha256") == 1


def test_the_service_runs_as_the_documented_virtual_account():
    services = [module_of(t)[1] for t in TASKS if module_of(t)[0] == "ansible.windows.win_service"]
    accounts = {render(s["username"]) for s in services if "username" in s}
    assert accounts == {ACCOUNT}
    assert ACCOUNT in DOC
    nssm = next(module_of(t)[1] for t in TASKS if module_of(t)[0] == "community.windows.win_nssm")
    assert "username" not in nssm  # the account is set once, by win_service
    assert render(nssm["executable"]) == INSTALL + "\\nssm.exe"
    assert nssm["arguments"][:3] == ["-m", "agent", "run"]
    args = [render(a) for a in nssm["arguments"]]
    assert args[args.index("--log-file") + 1] == DATA + "\\logs\\agent.log"  # rotated by the agent itself
    assert render(nssm["stdout_file"]) == render(nssm["stderr_file"]) == DATA + "\\logs\\service.log"


def test_the_acls_are_the_documented_ones_and_inheritance_is_cut():
    acl = {(render(e["path"]), render(e["user"]), e["rights"]) for e in VARS["wardwatch_agent_windows_acl"]}
    assert acl == DOCUMENTED_ACL
    names = [t["name"] for t in TASKS]
    service = names.index("Run the service as its virtual account, not LocalSystem (Windows)")
    grant = names.index("Grant the agent's folders to Administrators, SYSTEM and the service (Windows)")
    cut = names.index("Cut the inherited permissions of the data folder (Windows)")
    assert service < grant < cut  # the virtual account exists before it is named; explicit rights before the cut
    inherit = module_of(TASKS[cut])[1]
    assert inherit == {"path": "{{ wardwatch_agent_windows_data_dir }}", "state": "absent", "reorganize": False}


def test_the_firewall_admits_only_the_district_prometheus():
    (rule,) = [module_of(t)[1] for t in TASKS if module_of(t)[0] == "community.windows.win_firewall_rule"]
    assert rule["remoteip"] == "{{ wardwatch_agent_firewall_remote_addresses | join(',') }}"
    assert rule["direction"] == "in" and rule["localport"] == "{{ wardwatch_agent_port }}"
    assert load("defaults/main.yml")["wardwatch_agent_firewall_remote_addresses"] == []
    check = TASKS[0]["ansible.builtin.assert"]["that"]
    assert "wardwatch_agent_firewall_remote_addresses | length > 0" in check
    # The example inventory gives every district its Prometheus address.
    for f in sorted((REPO / "inventory" / "group_vars").glob("district_*.yml")):
        assert yaml.safe_load(f.read_text(encoding="utf-8"))["wardwatch_agent_firewall_remote_addresses"], f


def test_config_changes_restart_the_service():
    for name in ("Render the agent's config (Windows)", "Write the Pushgateway password (Windows)",
                 "Install the agent's wheels into its folder (Windows)"):
        task = next(t for t in TASKS if t["name"] == name)
        assert task["notify"] == "wardwatch_agent_restart"
    (restart,) = load("handlers/restart_windows.yml")
    assert restart["ansible.windows.win_service"]["state"] == "restarted"


def test_uninstall_removes_every_part():
    mods = {module_of(t)[0]: module_of(t)[1] for t in ABSENT}
    assert mods["ansible.windows.win_service"] == {"name": "{{ wardwatch_agent_service_name }}", "state": "absent"}
    rule = next(module_of(t)[1] for t in TASKS if module_of(t)[0] == "community.windows.win_firewall_rule")
    assert mods["community.windows.win_firewall_rule"] == {"name": rule["name"], "state": "absent"}
    removed = {render(p) for p in next(t for t in ABSENT if module_of(t)[0] == "ansible.windows.win_file")["loop"]}
    assert removed == {INSTALL, DATA}
    # Everything the install creates lies under those two folders.
    made = next(t for t in TASKS if t["name"] == "Create the agent's directories (Windows)")["loop"]
    assert all(render(p).startswith((INSTALL, DATA)) for p in made)


def test_every_windows_variable_is_prefixed_and_declared():
    spec = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    text = (ROLE / "tasks" / "windows.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\bwardwatch_agent_\w+", text)) - {"wardwatch_agent_install", "wardwatch_agent_configure",
                                                              "wardwatch_agent_run"}  # tags
    fixed = set(VARS) | {"wardwatch_agent_cache_stat", "wardwatch_agent_copy_stat", "wardwatch_agent_pth",
                         "wardwatch_agent_installed_windows", "wardwatch_agent_service_windows",
                         "wardwatch_agent_health_windows", "wardwatch_agent_restart"}
    assert not [v for v in used - fixed if v not in spec]
    assert set(load("defaults/main.yml")) <= set(spec)


@pytest.fixture
def fake_cache(tmp_path) -> Path:
    import hashlib

    cache = tmp_path / "cache"
    (cache / "files").mkdir(parents=True)
    (cache / "wheels").mkdir()
    entries = {"files": [], "wheels": []}
    for name, rel in (("python-embed", "files/python-3.11.9-embed-amd64.zip"), ("nssm", "files/nssm.exe")):
        (cache / rel).write_bytes(name.encode())
        entries["files"].append({"name": name, "file": rel, "sha256": hashlib.sha256(name.encode()).hexdigest()})
    for w in ("pip-24.2-py3-none-any.whl", "wardwatch-0.1.0-py3-none-any.whl",
              "PyYAML-6.0.2-cp311-cp311-win_amd64.whl", "PyYAML-6.0.2-cp311-cp311-manylinux_2_17_x86_64.whl"):
        (cache / "wheels" / w).write_bytes(w.encode())
        entries["wheels"].append({"name": w, "file": f"wheels/{w}", "sha256": hashlib.sha256(w.encode()).hexdigest()})
    (cache / "manifest.yml").write_text(yaml.safe_dump(entries), encoding="utf-8")
    return cache


def test_the_role_reads_the_manifest_as_cache_build_writes_it(tmp_path, fake_cache):
    """The role's expressions over manifest.yml, evaluated by Ansible itself on the controller."""
    play = [{"name": "Evaluate the role's cache variables", "hosts": "localhost", "gather_facts": False,
             "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
             "tasks": [{"name": "Show them", "ansible.builtin.debug": {"msg": {
                 "python": "{{ wardwatch_agent_windows_python_entry.file }}",
                 "nssm": "{{ wardwatch_agent_windows_nssm_entry.file }}",
                 "pip": "{{ wardwatch_agent_windows_pip_wheel }}",
                 "wheels": "{{ wardwatch_agent_windows_wheels | map(attribute='name') | list }}"}}}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    r = subprocess.run([need("ansible-playbook"), "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml"),
                        "-e", f"wardwatch_agent_cache_dir={fake_cache}"],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_STDOUT_CALLBACK": "json"})
    assert r.returncode == 0, r.stdout + r.stderr
    msg = json.loads(r.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
    assert msg["python"] == "files/python-3.11.9-embed-amd64.zip" and msg["nssm"] == "files/nssm.exe"
    assert msg["pip"] == "pip-24.2-py3-none-any.whl"
    assert sorted(msg["wheels"]) == ["PyYAML-6.0.2-cp311-cp311-win_amd64.whl", "pip-24.2-py3-none-any.whl",
                                     "wardwatch-0.1.0-py3-none-any.whl"]


def module_options(fqcn: str) -> set[str]:
    """Options and aliases a module documents, from the installed collection (ansible.windows,
    community.windows from the PyPI ansible bundle)."""
    import ansible_collections

    namespace, collection, name = fqcn.split(".")
    # a namespace package: ansible-core's own internal collections may come first on its path
    found = [p for root in ansible_collections.__path__
             if (p := Path(root) / namespace / collection / "plugins" / "modules" / f"{name}.py").is_file()]
    assert found, f"{fqcn}: not in any of {list(ansible_collections.__path__)}"
    doc = found[0].read_text(encoding="utf-8")
    text = re.search(r"DOCUMENTATION = r?(['\"]{3})(.*?)\1", doc, re.S).group(2)
    options = yaml.safe_load(text).get("options") or {}
    return set(options) | {a for o in options.values() for a in (o or {}).get("aliases", [])}


@pytest.mark.parametrize("tasks", ["windows.yml", "absent_windows.yml", "../handlers/restart_windows.yml"])
def test_every_windows_module_argument_is_one_the_module_documents(tasks):
    """Legacy PowerShell modules ignore an unknown argument (win_nssm's app_stdout once sent the
    agent's log nowhere): every key is checked against the module's own documentation."""
    for task in load(f"tasks/{tasks}"):
        mod, args = module_of(task)
        if mod.startswith(("ansible.windows.", "community.windows.")):
            unknown = set(args) - module_options(mod)
            assert not unknown, f"{task['name']}: {mod} has no option {sorted(unknown)}"
