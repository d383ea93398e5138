"""Exact targeting: the PCs a rollout touches are the intersection of `--commune`,
`--district`, `--retry-failed` and `--limit`, and nothing else.

Expected sets are computed here from the test's own fleet model (which PC is in which
commune and district, which failed last time) and, for `--limit`, from a table of what
each pattern means in Ansible's documented pattern language ("Patterns: targeting hosts
and groups": `a:b` union, `a:!b` exclusion, `a:&b` intersection, `*` wildcard, `~` regex),
checked against `ansible --list-hosts` itself. The real runs read the PCs Ansible
touched from ansible-runner's job events (`event_data.host`).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sshhosts
import yaml
from support import REPO, need

from fleet import rollout, selection
from fleet.inventory import declared_variables, load_inventory

# district -> commune -> PCs
FLEET = {"a": {"a1": ["pc1", "pc2"], "a2": ["pc3"]}, "b": {"b1": ["pc4"]}}
NAMES = ["pc1", "pc2", "pc3", "pc4"]
DISTRICT = {pc: d for d, cs in FLEET.items() for pcs in cs.values() for pc in pcs}
COMMUNE = {pc: c for cs in FLEET.values() for c, pcs in cs.items() for pc in pcs}
LAST_RESULTS = {"pc1": "changed", "pc2": "failed", "pc3": "ok", "pc4": "unreachable"}  # --retry-failed: pc2, pc4
TO_RETRY = {n for n, s in LAST_RESULTS.items() if s in ("failed", "unreachable", "not_run")}

# --limit patterns and the PCs each selects (Ansible's pattern language, see above)
LIMITS = {
    None: set(NAMES),
    "pc2": {"pc2"},
    "pc1:pc4": {"pc1", "pc4"},
    "pc1,pc3": {"pc1", "pc3"},
    "commune_a1": {"pc1", "pc2"},
    "district_a:!pc1": {"pc2", "pc3"},
    "all:!commune_a1": {"pc3", "pc4"},
    "all:!pc1": {"pc2", "pc3", "pc4"},
    "district_a:&commune_a2": {"pc3"},
    "pc[1-2]": set(),           # a subscript (hosts 1 to 2 of a group `pc`), not a character class
    "commune_a1[0]": {"pc1"},   # a subscript: the group's first host
    "pc[!1]": {"pc2", "pc3", "pc4"},  # a character class
    "pc*": set(NAMES),
    "~pc[34]": {"pc3", "pc4"},
    "nothing": set(),
}
COMMUNES = [(), ("a1",), ("a2",), ("a1", "b1")]
DISTRICTS = [(), ("a",), ("b",)]


def expected(communes: tuple[str, ...], districts: tuple[str, ...], retry: bool, limit: str | None) -> set[str]:
    chosen = set(NAMES)
    if communes:
        chosen &= {n for n in NAMES if COMMUNE[n] in communes}
    if districts:
        chosen &= {n for n in NAMES if DISTRICT[n] in districts}
    if retry:
        chosen &= TO_RETRY
    return chosen & LIMITS[limit]


def write_inventory(path: Path, host_vars: dict[str, dict], group_vars: dict) -> Path:
    districts = {}
    for d, communes in FLEET.items():
        children = {f"commune_{c}": {"vars": {"wardwatch_commune_name": f"Xã {c.upper()}"},
                                     "hosts": {n: host_vars.get(n, {}) for n in pcs}}
                    for c, pcs in communes.items()}
        districts[f"district_{d}"] = {"vars": {"wardwatch_district_name": f"Quận {d.upper()}"}, "children": children}
    doc = {"all": {"vars": group_vars, "children": districts}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    return path


def list_hosts(inv: Path, limit: str) -> set[str]:
    """Ansible's own answer: the hosts `ansible-playbook --limit PATTERN` would run."""
    r = subprocess.run([need("ansible"), "all", "-i", str(inv), "--limit", limit, "--list-hosts"],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
    lines = r.stdout.splitlines()
    return {ln.strip() for ln in lines[1:]} if lines and lines[0].strip().startswith("hosts (") else set()


@pytest.fixture(scope="module")
def paper_inventory(tmp_path_factory) -> Path:
    """The fleet on paper (nothing listens): enough for computing selections."""
    tmp = tmp_path_factory.mktemp("targeting-paper")
    return write_inventory(tmp / "inventory" / "hosts.yml",
                           {n: {"ansible_host": f"127.0.0.{20 + i}"} for i, n in enumerate(NAMES)}, {})


def test_limit_table_is_what_ansible_selects(paper_inventory):
    for pattern, hosts in LIMITS.items():
        if pattern is not None:
            assert list_hosts(paper_inventory, pattern) == hosts, pattern


def test_every_combination_selects_exactly_the_intersection(paper_inventory):
    inv = load_inventory(paper_inventory, declared_variables())
    ansible = selection.AnsibleHosts(paper_inventory)
    retry_names = tuple(sorted(TO_RETRY))
    n = 0
    for communes, districts, retry, limit in itertools.product(COMMUNES, DISTRICTS, (False, True), LIMITS):
        request = selection.Request(communes, districts, limit, retry_names if retry else None)
        got = selection.select(inv, request, ansible)
        assert set(got) == expected(communes, districts, retry, limit), request
        assert got == sorted(got, key=lambda x: (DISTRICT[x], COMMUNE[x], x))
        n += 1
    assert n == len(COMMUNES) * len(DISTRICTS) * 2 * len(LIMITS)


def test_a_limit_file_with_a_name_ansible_reads_otherwise_is_refused(tmp_path):
    """A PC named like a group: handing Ansible its name would run the whole group."""
    inv_path = tmp_path / "hosts.yml"
    inv_path.write_text("""all:
  children:
    district_a:
      vars: {wardwatch_district_name: A}
      children:
        commune_a1:
          vars: {wardwatch_commune_name: A1}
          hosts: {pc1: {ansible_host: 127.0.0.21}, pc2: {ansible_host: 127.0.0.22}}
    canary:
      hosts: {pc2: {}}
""")
    ansible = selection.AnsibleHosts(inv_path)
    limit = selection.write_limit_file(tmp_path / "limit.txt", ["pc1"])
    selection.check_limit_file(ansible, limit, ["pc1"])  # fine
    limit.write_text("canary\n")  # a group: pc2, not a PC named canary
    with pytest.raises(Exception, match=r"would not read the selected PC names as exactly those PCs .*: canary, pc2$"):
        selection.check_limit_file(ansible, limit, ["canary"])


def test_a_bad_limit_is_one_line(paper_inventory, tmp_path):
    r = subprocess.run([sys.executable, "-m", "fleet", "rollout", "-i", str(paper_inventory), "--limit", "nothing",
                        "--state-dir", str(tmp_path), "--lang", "en", "--commune", "a1"],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr == "wardwatch: no PC matches the selection (--commune a1 --limit nothing)\n"


# --- real runs on sshd PCs ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pcs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"targeting{os.getpid()}")
    with sshhosts.fleet(tmp, NAMES) as f:
        host_vars = {h.name: {
            "ansible_host": h.address, "ansible_port": h.port, "wardwatch_agent_root": str(h.root),
            "wardwatch_agent_listen_address": h.address, "wardwatch_agent_port": h.agent_port,
        } for h in f.hosts}
        group_vars = {
            "ansible_user": "root",
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_private_key_file": str(f.client_key),
            "wardwatch_agent_service_manager": "none",
            "wardwatch_agent_pip_find_links": "http://127.0.0.1:9/wheels/",  # a dry run downloads nothing
            "wardwatch_min_spec": {"min_memory_mb": 64, "min_disk_free_mb": 10, "min_cpu_cores": 1},
            "virtual_client_kind": "none",
        }
        yield {"fleet": f, "tmp": tmp, "inventory": write_inventory(tmp / "inventory" / "hosts.yml", host_vars,
                                                                     group_vars)}


def set_last_results(state: Path, inv: Path) -> None:
    directory = rollout.run_dir(state, inv)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.json").write_text(json.dumps({"hosts": {n: {"status": s} for n, s in LAST_RESULTS.items()}}))


def touched(state: Path, inv: Path) -> set[str]:
    """The hosts of every job event of the latest run (ansible-runner's artifacts)."""
    runs = sorted((rollout.run_dir(state, inv) / "artifacts").iterdir(), key=lambda p: p.stat().st_mtime)
    hosts = set()
    for f in (runs[-1] / "job_events").glob("*.json"):
        host = (json.loads(f.read_text()).get("event_data") or {}).get("host")
        if host:
            hosts.add(host)
    return hosts


REAL_RUNS = [
    # (playbook, --commune, --district, --retry-failed, --limit): the case first
    ("site", ("a1",), (), False, "pc2"),
    ("site", (), ("a",), True, None),
    ("site", ("a1", "b1"), (), False, "all:!pc1"),
    ("uninstall", ("a1",), (), False, "pc2"),
    ("uninstall", (), (), True, "pc*"),
    ("uninstall", (), ("a",), False, "district_a:&commune_a2"),
]


@pytest.mark.parametrize(("playbook", "communes", "districts", "retry", "limit"), REAL_RUNS)
def test_ansible_touches_exactly_the_selection(pcs, tmp_path, playbook, communes, districts, retry, limit):
    inv, state = pcs["inventory"], tmp_path / "state"
    set_last_results(state, inv)
    args = ["rollout", "-i", str(inv), "--state-dir", str(state), "--playbook", playbook, "--lang", "en",
            "--no-live", "--ssh-retries", "0", "--serial", "100%", "--known-hosts", str(pcs["fleet"].known_hosts)]
    args += [a for c in communes for a in ("--commune", c)] + [a for d in districts for a in ("--district", d)]
    args += ["--retry-failed"] if retry else []
    args += ["--limit", limit] if limit else []
    args += ["--check"] if playbook == "site" else []  # the install's dry run; uninstall for real
    want = expected(communes, districts, retry, limit)
    r = subprocess.run([sys.executable, "-m", "fleet", *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert touched(state, inv) == want, r.stdout
    assert r.stdout.splitlines()[0] == f"{len(want)} PC{'s' if len(want) > 1 else ''}: {', '.join(sorted(want))}"
    lines = r.stdout.splitlines()
    table = lines[lines.index(next(ln for ln in lines if ln.startswith("District "))) + 2:]
    table = table[:table.index("")]
    rows = {tok for ln in table for tok in ln.split() if tok in NAMES}
    assert rows == want, r.stdout  # the final table: no other PC, none NOT RUN
    assert "NOT RUN" not in r.stdout and ", 0 not run" in r.stdout, r.stdout


def test_preflight_in_english_only_with_its_retry_hint(pcs, tmp_path):
    """`--lang en`: the preflight reason in English only; the retry hint runs the same playbook."""
    inv = pcs["inventory"]
    doc = yaml.safe_load(inv.read_text())
    doc["all"]["children"]["district_a"]["children"]["commune_a2"]["hosts"]["pc3"]["wardwatch_min_spec"] = {
        "min_memory_mb": 10**9}
    bad = write_inventory(tmp_path / "inventory" / "hosts.yml", {}, {})
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    r = subprocess.run([sys.executable, "-m", "fleet", "rollout", "-i", str(bad), "--state-dir", str(tmp_path / "s"),
                        "--playbook", "preflight", "--district", "a", "--lang", "en", "--no-live", "--ssh-retries",
                        "0", "--known-hosts", str(pcs["fleet"].known_hosts)],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stdout + r.stderr
    row = next(ln for ln in r.stdout.splitlines() if " pc3 " in ln)
    assert "FAILED" in row and "pc3: RAM " in row and " MiB < needs 1000000000 MiB" in row, r.stdout
    assert row.split("FAILED", 1)[1].isascii() and "cần" not in r.stdout, r.stdout  # no Vietnamese in the reasons
    assert f"Re-run the failed PCs: wardwatch rollout --retry-failed -i {bad} --playbook preflight" in r.stdout
