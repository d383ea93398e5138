"""The inventory model and `wardwatch inventory check` on the example inventory and on
broken ones, each problem one line naming file and host."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support import REPO

from fleet import inventory
from fleet.errors import FleetError
from fleet.inventory import fold, load_inventory, scan_inventory

EXAMPLE = REPO / "inventory"


def wardwatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleet", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def write(tmp: Path, hosts: str, group_vars: dict[str, str] | None = None,
          host_vars: dict[str, str] | None = None) -> Path:
    (tmp / "hosts.yml").write_text(textwrap.dedent(hosts))
    for kind, files in (("group_vars", group_vars), ("host_vars", host_vars)):
        for name, text in (files or {}).items():
            (tmp / kind).mkdir(exist_ok=True)
            (tmp / kind / f"{name}.yml").write_text(textwrap.dedent(text))
    return tmp


GOOD = """\
all:
  vars:
    wardwatch_agent_port: 9100
  children:
    district_ba_dinh:
      vars: {wardwatch_district_name: "Ba Đình"}
      children:
        commune_phuc_xa:
          vars: {wardwatch_commune_name: "Phúc Xá", wardwatch_agent_port: 9200}
          hosts:
            pc1: {ansible_host: 198.51.100.1}
            pc2: {ansible_host: 198.51.100.2, wardwatch_agent_port: 9300}
        commune_truc_bach:
          vars: {wardwatch_commune_name: "Trúc Bạch"}
          hosts:
            pc3: {ansible_host: 198.51.100.3}
"""


def test_example_inventory_loads_with_merged_vars():
    inv = load_inventory(EXAMPLE)
    assert [d.name for d in inv.districts] == ["district_ba_dinh", "district_hoan_kiem", "district_soc_son"]
    assert len(inv.hosts) == 12
    h = inv.host("ss-minhtri-02")
    assert (h.district, h.commune, h.address) == ("district_soc_son", "commune_minh_tri", "198.51.100.62")
    # all < district < commune < group_vars precedence, and the extra group os_windows
    assert h.vars["virtual_client_kind"] == "rdp"                      # commune_minh_tri.yml
    assert h.vars["virtual_client_cache_url"] == "http://192.0.2.30/wardwatch"  # district_soc_son.yml
    assert h.vars["ansible_connection"] == "winrm" and h.groups == ("os_windows",)
    assert inv.host("ss-bacson-01").vars["virtual_client_kind"] == "horizon"
    assert inv.host("bd-phucxa-01").vars["virtual_client_kind"] == "citrix_workspace"
    assert inv.commune("Phúc Xá").name == "commune_phuc_xa"
    assert inv.commune("phuc xa").display_name == "Phúc Xá"
    assert inv.district("soc_son").display_name == "Sóc Sơn"
    assert [h.name for h in inv.hosts_of(inv.commune("commune_truc_bach"))] == ["bd-trucbach-01", "bd-trucbach-02"]
    with pytest.raises(FleetError, match="unknown commune 'Hàng Bông'"):
        inv.commune("Hàng Bông")


def test_vars_precedence(tmp_path):
    inv = load_inventory(write(tmp_path, GOOD, group_vars={"commune_truc_bach": "wardwatch_agent_port: 9400\n"},
                               host_vars={"pc1": "wardwatch_agent_port: 9500\n"}))
    assert {h.name: h.agent_port for h in inv.hosts} == {"pc1": 9500, "pc2": 9300, "pc3": 9400}


def test_fold():
    assert fold("Điện Biên") == "dien_bien"
    assert fold("Hoàn Kiếm") == "hoan_kiem"


def test_check_ok_on_the_example():
    r = wardwatch("inventory", "check", "-i", str(EXAMPLE), "--lang", "en")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "12 PCs in 8 communes of 3 districts" in r.stdout
    r = wardwatch("inventory", "check", "-i", str(EXAMPLE))
    assert "12 máy, 8 xã/phường, 3 quận/huyện" in r.stdout


BROKEN = """\
all:
  children:
    district_ba_dinh:
      vars: {wardwatch_district_name: "Ba Đình"}
      children:
        commune_phuc_xa:
          vars: {wardwatch_commune_name: "Phúc Xá"}
          hosts:
            pc1: {ansible_host: 198.51.100.1}
            pc2: {ansible_host: 198.51.100.300}
            pc3: {ansible_host: 198.51.100.3, wardwatch_agent_prot: 9100}
            pc4: {ansible_host: "bad host!"}
        commune_trúc-bạch:
          vars: {wardwatch_commune_name: "Trúc Bạch"}
          hosts:
            pc1: {ansible_host: 198.51.100.9}
            pc5: {ansible_host: 198.51.100.3}
        commune_kim_ma:
          vars: {wardwatch_commune_name: "Kim Mã"}
          childern:
            x: {}
      hosts:
        pc6: {ansible_host: 198.51.100.6}
"""


def test_check_reports_each_problem_on_one_line(tmp_path):
    write(tmp_path, BROKEN, group_vars={"commune_phuc_xa": "wardwatch_agent_port: 'many'\n"})
    r = wardwatch("inventory", "check", "-i", str(tmp_path), "--lang", "en")
    assert r.returncode == 2
    lines = r.stdout.splitlines()
    f = str(tmp_path / "hosts.yml")

    def one(*words: str) -> str:
        hits = [ln for ln in lines if all(w in ln for w in words)]
        assert len(hits) == 1, (words, lines)
        return hits[0]

    assert one("host pc1", "duplicate host").startswith(f + ":16:")
    assert one("host pc2", "bad address '198.51.100.300'").startswith(f + ":10:")
    assert "did you mean 'wardwatch_agent_port'" in one("host pc3", "wardwatch_agent_prot")
    one("host pc4", "bad address 'bad host!'")
    assert "would be rewritten by Ansible to 'commune_trúc_bạch'" in one("group commune_trúc-bạch")
    assert "did you mean 'children'" in one("group commune_kim_ma", "childern")
    assert one("host pc6", "not in any commune").startswith(f + ":23:")
    assert one("host pc5", "address 198.51.100.3 is also used by host pc3")
    assert one("group commune_phuc_xa", "wardwatch_agent_port", "expected int").startswith(
        str(tmp_path / "group_vars" / "commune_phuc_xa.yml"))
    assert len(lines) == 9, lines
    assert "9 problem(s)" in r.stderr

    vi = wardwatch("inventory", "check", "-i", str(tmp_path))
    assert "máy trùng tên" in vi.stdout and vi.returncode == 2


def test_keys_of_dict_variables_are_checked(tmp_path):
    write(tmp_path, GOOD, group_vars={"all": "wardwatch_min_spec: {min_memory: 4096, min_cpu_cores: two}\n",
                                      "commune_truc_bach": "preflight_min_spec: {min_disk_free_mb: lots}\n"})
    inv = scan_inventory(tmp_path)
    texts = sorted(p.text("en") for p in inv.problems)
    assert len(texts) == 2, texts
    assert any("variable 'wardwatch_min_spec': unknown key / khóa không có 'min_memory' "
               "(did you mean 'min_memory_mb'?)" in t for t in texts), texts
    assert any("preflight_min_spec': min_disk_free_mb: expected int" in t for t in texts), texts


def test_load_raises_one_line_with_file_and_host(tmp_path):
    write(tmp_path, BROKEN)
    with pytest.raises(FleetError) as e:
        load_inventory(tmp_path)
    assert "\n" not in str(e.value)
    assert str(tmp_path / "hosts.yml") in str(e.value) and "more problem(s)" in str(e.value)


def test_malformed_yaml_and_missing_file(tmp_path):
    (tmp_path / "hosts.yml").write_text("all:\n  children: [\n")
    inv = scan_inventory(tmp_path)
    assert len(inv.problems) == 1 and "malformed YAML" in str(inv.problems[0])
    r = wardwatch("inventory", "check", "-i", str(tmp_path / "nope.yml"))
    assert r.returncode == 2 and "inventory not found" in r.stderr and "Traceback" not in r.stderr


def test_targets_are_stable_atomic_and_labelled(tmp_path):
    out = tmp_path / "sd"
    out.mkdir()
    (out / "district_gone.json").write_text("[]")
    (out / "other.json").write_text("[]")  # not ours: left alone
    r = wardwatch("inventory", "targets", "-i", str(EXAMPLE), "--out", str(out), "--lang", "en")
    assert r.returncode == 0, r.stderr
    assert "Wrote 12 targets in 3 files" in r.stdout and "removed: 1" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["district_ba_dinh.json", "district_hoan_kiem.json",
                                                     "district_soc_son.json", "other.json"]
    doc = json.loads((out / "district_soc_son.json").read_text())
    assert doc[1] == {"targets": ["198.51.100.61:10713"],
                      "labels": {"district": "soc_son", "commune": "minh_tri", "role": "pc",
                                 "instance": "ss-minhtri-01"}}
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    r = wardwatch("inventory", "targets", "-i", str(EXAMPLE), "--out", str(out), "--lang", "en")
    assert "changed: 0" in r.stdout
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


def test_targets_refuse_a_broken_inventory(tmp_path):
    write(tmp_path / "inv" if (tmp_path / "inv").mkdir() is None else tmp_path, BROKEN)
    r = wardwatch("inventory", "targets", "-i", str(tmp_path / "inv"), "--out", str(tmp_path / "sd"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert not (tmp_path / "sd").exists()


def test_ansible_inventory_graph_shows_the_tree():
    r = subprocess.run([shutil.which("ansible-inventory") or "ansible-inventory", "-i", str(EXAMPLE), "--graph"],
                       capture_output=True, text=True, timeout=120, check=True)
    lines = r.stdout.splitlines()
    i = lines.index("  |--@district_soc_son:")
    assert lines[i + 1:i + 4] == ["  |  |--@commune_minh_tri:", "  |  |  |--ss-minhtri-01", "  |  |  |--ss-minhtri-02"]
    assert "Invalid characters" not in r.stderr


def test_top_level_groups_are_children_of_all(tmp_path):
    write(tmp_path, """\
        district_ba_dinh:
          vars: {wardwatch_district_name: "Ba Đình"}
          children:
            commune_phuc_xa:
              vars: {wardwatch_commune_name: "Phúc Xá"}
              hosts:
                pc1: {ansible_host: 198.51.100.1}
        """)
    inv = load_inventory(tmp_path)
    assert [(h.name, h.district, h.commune) for h in inv.hosts] == [("pc1", "district_ba_dinh", "commune_phuc_xa")]


def test_vars_files_problems_name_file_line_and_key(tmp_path):
    """Issue 13: problems in group_vars/ and host_vars/ files name file:line and the variable."""
    write(tmp_path, GOOD)
    (tmp_path / "group_vars" / "commune_phuc_xa").mkdir(parents=True)
    (tmp_path / "group_vars" / "commune_phuc_xa" / "main.yml").write_text(
        "# the commune's settings\nwardwatch_agent_port: 9100\nwardwatch_agent_prot: 9101\n")
    (tmp_path / "group_vars" / "all.yaml").write_text("ansible_user: op\n\nwardwatch_agent_port: many\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "pc1").write_text("ansible_port: 22\nansible_group_priority: 3\n")
    texts = sorted(p.text("en") for p in scan_inventory(tmp_path).problems)
    main = tmp_path / "group_vars" / "commune_phuc_xa" / "main.yml"
    assert texts == sorted([
        f"{main}:3: group commune_phuc_xa: variable 'wardwatch_agent_prot' is not declared "
        "(did you mean 'wardwatch_agent_port'?)",
        f"{tmp_path / 'group_vars' / 'all.yaml'}:3: group all: variable 'wardwatch_agent_port': "
        "expected int / cần kiểu int, got str 'many'",
        f"{tmp_path / 'host_vars' / 'pc1'}:2: host pc1: ansible_group_priority works only in a group's 'vars:' "
        "in the inventory file (Ansible reads it before group_vars/)",
    ]), texts


def test_inventory_file_var_problems_are_at_the_variable_line(tmp_path):
    write(tmp_path, GOOD.replace("            pc2: {ansible_host: 198.51.100.2, wardwatch_agent_port: 9300}",
                                 "            pc2:\n              ansible_host: 198.51.100.2\n"
                                 "              wardwatch_agent_prot: 9300"))
    (p,) = scan_inventory(tmp_path).problems
    assert p.text("en").startswith(f"{tmp_path / 'hosts.yml'}:14: host pc2: variable 'wardwatch_agent_prot'")


def test_ansible_group_priority_orders_groups_of_one_depth(tmp_path):
    """Ansible's docs: groups of the same depth merge by name unless ansible_group_priority
    (default 1) says otherwise; a higher priority is merged later, so it wins."""
    write(tmp_path, GOOD + """\
    aaa_first:
      vars: {ansible_group_priority: 10, ansible_user: first}
      hosts: {pc3: }
    zzz_late:
      vars: {ansible_user: late}
      hosts: {pc3: }
""")
    inv = load_inventory(tmp_path)
    assert inv.host("pc3").vars["ansible_user"] == "first"
    assert "ansible_group_priority" not in inv.host("pc3").vars  # Ansible keeps it as the priority only
    assert inv.host("pc3").groups == ("aaa_first", "zzz_late")


def test_ansible_documented_variables_are_accepted(tmp_path):
    write(tmp_path, GOOD.replace("pc3: {ansible_host: 198.51.100.3}", """pc3:
              ansible_host: 198.51.100.3
              ansible_connection: ssh
              ansible_ssh_common_args: -o ProxyJump=jump
              ansible_become: true
              ansible_become_method: sudo
              ansible_become_user: root
              ansible_become_password: !vault |
                $ANSIBLE_VAULT;1.1;AES256
                3132
              ansible_python_interpreter: /usr/bin/python3
              ansible_perl_interpreter: /usr/bin/perl
              ansible_shell_type: sh
              ansible_winrm_server_cert_validation: ignore
              ansible_port: '2222'"""))
    inv = load_inventory(tmp_path)
    assert inv.host("pc3").vars["ansible_become_password"].startswith("$ANSIBLE_VAULT")


def test_host_ranges_and_ports_in_names_are_refused(tmp_path):
    write(tmp_path, GOOD.replace("pc3: {ansible_host: 198.51.100.3}", "pc[01:20]: {}\n            pc9:2222: {}"))
    texts = [p.text("en") for p in scan_inventory(tmp_path).problems]
    assert [t.split(": host ")[1].split(":")[0] for t in texts] == ["pc[01", "pc9"], texts
    assert all("range or a :port; list each PC by name" in t for t in texts)


def test_group_loops_and_misused_implicit_groups_are_one_line_each(tmp_path):
    write(tmp_path, GOOD + """\
    loop_a:
      children:
        loop_b:
          children:
            loop_a:
    ungrouped:
      children:
        canary:
          hosts: {pc1: }
""")
    texts = [p.text("en") for p in scan_inventory(tmp_path).problems]
    assert any("group loop_a: group 'loop_a' is its own ancestor" in t for t in texts), texts
    assert any("group ungrouped: group 'ungrouped' is in the wrong place" in t for t in texts), texts


PLUGINS = {"connection": ["ssh", "paramiko_ssh", "local", "winrm", "psrp"],
           "become": ["sudo", "su", "runas"], "shell": ["sh", "powershell", "cmd"]}


def test_every_variable_ansible_documents_for_inventories_is_accepted():
    """From the installed ansible-core itself: the `vars:` of its connection, become and shell
    plugins (ansible-doc), of its configuration (config/base.yml) and the magic connection
    variables (constants.MAGIC_VARIABLE_MAPPING), plus ansible_group_priority."""
    import ansible
    import ansible.constants
    import yaml as _yaml

    from fleet.inventory import _ansible_family, declared_variables

    names = {"ansible_group_priority"}
    doc_bin = Path(sys.executable).parent / "ansible-doc"
    for kind, plugins in PLUGINS.items():
        r = subprocess.run([str(doc_bin), "-t", kind, "-j", *(f"ansible.builtin.{p}" for p in plugins)],
                           capture_output=True, text=True, timeout=300, check=True)
        for plugin in json.loads(r.stdout).values():
            for option in (plugin["doc"].get("options") or {}).values():
                names.update(v["name"] for v in option.get("vars") or [])
    base = _yaml.safe_load((Path(ansible.__file__).parent / "config" / "base.yml").read_text())
    names.update(v["name"] for setting in base.values() for v in setting.get("vars") or [])
    names.update(n for aliases in ansible.constants.MAGIC_VARIABLE_MAPPING.values() for n in aliases)
    names = {n for n in names if n.startswith("ansible_")}  # not inventory_hostname, delegated_vars[...], _private
    assert len(names) > 100
    declared = declared_variables()
    refused = sorted(n for n in names if n not in declared and not _ansible_family(n))
    assert refused == []


# --- the fast YAML resolver ---------------------------------------------------------------------

def _tag(loader: type, scalar: str) -> str | None:
    try:
        node = yaml.compose(f"k: {scalar}\n", Loader=loader)
    except yaml.YAMLError:
        return None
    return node.value[0][1].tag if node is not None and node.value else None


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789.:-+_eE xyTZtn~=<yesNOnulinfa", min_size=1, max_size=24)
       .filter(lambda s: s == s.strip()))
@example("127.1.0.0")
@example("1.2.3")
@example("1.5")
@example("1_000.5e+3")
@example(".inf")
@example("1:20.5")
@example("2001-12-14 21:59:43.10 -5")
@example("2001-12-14")
def test_the_fast_resolver_tags_every_plain_scalar_as_the_safe_loader_does(scalar):
    assert _tag(inventory._Loader, scalar) == _tag(yaml.SafeLoader, scalar)


def test_ssh_port_reads_ansible_port_or_its_alias_and_names_a_bad_one(tmp_path):
    write(tmp_path, GOOD.replace("{ansible_host: 198.51.100.1}", "{ansible_host: 198.51.100.1, ansible_ssh_port: 2222}")
          .replace("{ansible_host: 198.51.100.3}", "{ansible_host: 198.51.100.3, ansible_port: 2200}"))
    inv = load_inventory(tmp_path)
    assert [inv.host(n).ssh_port for n in ("pc1", "pc2", "pc3")] == [2222, 22, 2200]
    pc2 = inv.host("pc2")
    pc2.vars["ansible_port"] = "twenty-two"  # as a template Ansible would render later
    with pytest.raises(FleetError) as e:
        pc2.ssh_port  # noqa: B018
    assert e.value.exit_code == 2
    assert str(e.value) == f"{pc2.file}:{pc2.line}: pc2: bad ansible_port 'twenty-two'"
