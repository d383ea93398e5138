"""The fleet inventory: an Ansible YAML inventory organised district → commune → PC.

    all:
      children:
        district_ba_dinh:                 # a district: a child group of `all` named district_*
          vars: {wardwatch_district_name: "Ba Đình"}
          children:
            commune_phuc_xa:              # a commune: a child group of a district named commune_*
              vars: {wardwatch_commune_name: "Phúc Xá"}
              hosts:
                bd-phucxa-01: {ansible_host: 203.0.113.11}

Group names are ASCII snake_case (Ansible would rewrite anything else); the human
names, with their diacritics, live in `wardwatch_district_name` /
`wardwatch_commune_name`. Other top-level groups (e.g. `canary`, `os_windows`)
may list PCs again, but every PC belongs to exactly one commune.

Vars are merged exactly as Ansible merges them (ansible/vars/manager.py with the
default VARIABLE_PRECEDENCE, ansible/inventory/helpers.py sort_groups): `all`'s
inventory-file vars, then every other group's inventory-file vars ordered by
(depth, ansible_group_priority, name), then group_vars/all, then the group_vars/
of those groups in the same order, then the host's own inventory vars (in the order
they are listed), then host_vars/<host>. Each level replaces a variable whole
(dicts are not merged: Ansible's default hash_behaviour=replace). group_vars/ and
host_vars/ are found as Ansible's host_group_vars plugin finds them (a directory
`<name>/`, else the first of `<name>`, `<name>.yml`, `<name>.yaml`, `<name>.json`).
tests/fleet/test_inventory_ansible.py checks all this against `ansible-inventory`.
Every problem is kept with its file and line; `load_inventory` raises a one-line
`FleetError` when there is any, `scan_inventory` returns them.

The YAML is composed once by libyaml into nodes (for line numbers and duplicate
keys, which a plain load would silently drop) and walked by hand: 50,000 hosts
load in about a second.
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import keyword
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent.syntax import closest
from fleet.errors import EXIT_USAGE, FleetError

# libyaml's safe loader: an order of magnitude faster on big inventories.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """The same tags as the safe loader, found faster: a plain scalar is a string without trying
    the regular expressions of YAML 1.1's implicit types (bool, int, float, null, timestamp,
    merge ...) when its first character starts none of them (host names, keys) or when it has two
    dots or more, which none of them can hold (IPv4 addresses: a tenth of a big inventory's load)."""

    _first = frozenset(k for k in _BaseLoader.yaml_implicit_resolvers if k)

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0] and value and (value[0] not in self._first
                                                                  or value.count(".") > 1):
            return _STR
        return super().resolve(kind, value, implicit)


assert not _BaseLoader.yaml_path_resolvers and None not in _BaseLoader.yaml_implicit_resolvers

DISTRICT_PREFIX = "district_"
COMMUNE_PREFIX = "commune_"
DEFAULT_AGENT_PORT = 10713
GROUP_KEYS = ("hosts", "children", "vars")
YAML_SUFFIXES = ("", ".yml", ".yaml", ".json")  # in the order Ansible tries them (DataLoader.find_vars_files)
INVENTORY_SUFFIXES = (".yml", ".yaml", ".json")  # the files of an inventory directory read by the yaml plugin
GROUP_PRIORITY = "ansible_group_priority"
_SAFE_GROUP = re.compile(r"^[a-z][a-z0-9_]*$")
_ANSIBLE_INVALID = re.compile(r"^[\d\W]|[^\w]")  # ansible.constants.INVALID_VARIABLE_NAMES
_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TEMPLATE = re.compile(r"{{|{%")


# --- problems ----------------------------------------------------------------

MESSAGES: dict[str, dict[str, str]] = {
    "duplicate_host": {"vi": "máy trùng tên (đã khai báo ở {other})",
                       "en": "duplicate host (already declared at {other})"},
    "duplicate_key": {"vi": "khóa '{key}' bị lặp (lần đầu ở dòng {first})",
                      "en": "duplicate key '{key}' (first at line {first})"},
    "duplicate_address": {"vi": "địa chỉ {address} trùng với máy {other}",
                          "en": "address {address} is also used by host {other}"},
    "outside_commune": {"vi": "máy không thuộc xã/phường nào (phải nằm trong một nhóm commune_* của một district_*)",
                        "en": "host is not in any commune (it must sit in a commune_* group of a district_*)"},
    "not_in_tree": {"vi": "máy có trong nhóm {group} nhưng không thuộc xã/phường nào",
                    "en": "host is listed in group {group} but belongs to no commune"},
    "group_rewrite": {"vi": "tên nhóm '{group}' sẽ bị Ansible đổi thành '{safe}': chỉ dùng chữ thường không dấu, "
                            "số và dấu gạch dưới; tên có dấu để trong biến {var}",
                      "en": "group name '{group}' would be rewritten by Ansible to '{safe}': use lowercase ASCII "
                            "letters, digits and underscores; put the name with diacritics in {var}"},
    "group_not_ascii": {"vi": "tên nhóm '{group}' phải là chữ thường ASCII dạng snake_case (vd. {example})",
                        "en": "group name '{group}' must be lowercase ASCII snake_case (e.g. {example})"},
    "group_misplaced": {"vi": "nhóm '{group}' đặt sai chỗ: {where}",
                        "en": "group '{group}' is in the wrong place: {where}"},
    "commune_two_districts": {"vi": "xã/phường '{group}' nằm trong hai quận/huyện: {a} và {b}",
                              "en": "commune '{group}' is in two districts: {a} and {b}"},
    "unknown_group_key": {"vi": "khóa '{key}' không hợp lệ trong nhóm{hint} (chỉ được: hosts, children, vars)",
                          "en": "unknown key '{key}' in a group{hint} (allowed: hosts, children, vars)"},
    "not_mapping": {"vi": "{what} phải là một ánh xạ (mapping)", "en": "{what} must be a mapping"},
    "unknown_var": {"vi": "biến '{var}' không được khai báo{hint}", "en": "variable '{var}' is not declared{hint}"},
    "bad_var": {"vi": "biến '{var}': {reason}", "en": "variable '{var}': {reason}"},
    "bad_address": {"vi": "địa chỉ '{address}' không hợp lệ: {reason}", "en": "bad address '{address}': {reason}"},
    "host_pattern": {"vi": "tên máy '{host}' dùng dải [a:b] hoặc :cổng; hãy liệt kê từng máy theo tên, "
                            "cổng SSH để trong ansible_port",
                     "en": "host name '{host}' uses a [a:b] range or a :port; list each PC by name, "
                           "with its SSH port in ansible_port"},
    "two_communes": {"vi": "máy nằm trong hai xã/phường: {a} và {b}", "en": "host is in two communes: {a} and {b}"},
    "host_is_group": {"vi": "máy trùng tên với nhóm '{host}' (Ansible sẽ gán biến của máy cho nhóm)",
                      "en": "host has the name of the group '{host}' "
                            "(Ansible would give the host's vars to the group)"},
    "group_cycle": {"vi": "nhóm '{group}' là tổ tiên của chính nó ({path})",
                    "en": "group '{group}' is its own ancestor ({path})"},
    "priority_not_here": {"vi": "ansible_group_priority chỉ có tác dụng trong 'vars:' của một nhóm trong tệp kiểm kê "
                                "(Ansible đọc nó trước group_vars/)",
                          "en": "ansible_group_priority works only in a group's 'vars:' in the inventory file "
                                "(Ansible reads it before group_vars/)"},
    "yaml": {"vi": "YAML lỗi: {reason}", "en": "malformed YAML: {reason}"},
    "file": {"vi": "không đọc được: {reason}", "en": "cannot read: {reason}"},
    "empty": {"vi": "kiểm kê không có máy nào", "en": "the inventory has no hosts"},
    "no_district_name": {"vi": "quận/huyện thiếu biến wardwatch_district_name (tên có dấu)",
                         "en": "district has no wardwatch_district_name (its name with diacritics)"},
    "no_commune_name": {"vi": "xã/phường thiếu biến wardwatch_commune_name (tên có dấu)",
                        "en": "commune has no wardwatch_commune_name (its name with diacritics)"},
    "more": {"vi": "còn {n} lỗi khác: chạy 'wardwatch inventory check'",
             "en": "{n} more problem(s): run 'wardwatch inventory check'"},
}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    subject: str  # "host pc01", "group commune_x", "" for the file itself
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "vi") -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        message = MESSAGES[self.code][lang].format(**self.params)
        return f"{where}: {self.subject}: {message}" if self.subject else f"{where}: {message}"

    def __str__(self) -> str:
        return self.text("en")


def _subject_host(name: str) -> str:
    return f"host {name}"


def _subject_group(name: str) -> str:
    return f"group {name}"


# --- the model -----------------------------------------------------------------

@dataclass
class Group:
    name: str
    kind: str  # "district", "commune", "other"
    file: str
    line: int
    parent: str = ""  # the district of a commune
    vars: dict[str, Any] = field(default_factory=dict)  # vars: in the inventory file
    file_vars: dict[str, Any] = field(default_factory=dict)  # group_vars/<name>
    children: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    priority: int = 1  # ansible_group_priority (Ansible's default 1)
    depth: int = 0  # the longest path from all, as Ansible counts it
    var_lines: dict[str, tuple[str, int]] = field(default_factory=dict)  # var -> where its value was set
    file_var_lines: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        key = "wardwatch_district_name" if self.kind == "district" else "wardwatch_commune_name"
        return str(self.file_vars.get(key) or self.vars.get(key) or self.short_name)

    @property
    def short_name(self) -> str:
        for prefix in (DISTRICT_PREFIX, COMMUNE_PREFIX):
            if self.name.startswith(prefix):
                return self.name[len(prefix):]
        return self.name


@dataclass
class Host:
    name: str
    district: str
    commune: str
    file: str
    line: int
    vars: dict[str, Any]  # merged: every group level, then the host's own
    groups: tuple[str, ...] = ()  # other groups it is listed in (canary, os_windows, ...)

    @property
    def address(self) -> str:
        return str(self.vars.get("ansible_host") or self.name)

    @property
    def ssh_port(self) -> int:
        """The port Ansible connects to: ansible_port (or its alias ansible_ssh_port), else 22."""
        value = self.vars.get("ansible_port") or self.vars.get("ansible_ssh_port") or 22
        try:
            return int(value)
        except (TypeError, ValueError):
            raise FleetError(f"{self.file}:{self.line}: {self.name}: bad ansible_port {value!r}", EXIT_USAGE) from None

    @property
    def agent_port(self) -> int:
        port = self.vars.get("wardwatch_agent_port", DEFAULT_AGENT_PORT)
        try:
            return int(port)
        except (TypeError, ValueError):
            return DEFAULT_AGENT_PORT


@dataclass
class Inventory:
    source: str
    hosts: list[Host]
    groups: dict[str, Group]
    problems: list[Problem]

    def __post_init__(self) -> None:
        self._by_name = {h.name: h for h in self.hosts}

    @property
    def districts(self) -> list[Group]:
        return sorted((g for g in self.groups.values() if g.kind == "district"), key=lambda g: g.name)

    @property
    def communes(self) -> list[Group]:
        return sorted((g for g in self.groups.values() if g.kind == "commune"), key=lambda g: (g.parent, g.name))

    def host(self, name: str) -> Host:
        try:
            return self._by_name[name]
        except KeyError:
            raise FleetError(f"{self.source}: unknown host {name!r} / không có máy {name!r}") from None

    def district(self, name: str) -> Group:
        return self._find(name, "district", DISTRICT_PREFIX)

    def commune(self, name: str) -> Group:
        return self._find(name, "commune", COMMUNE_PREFIX)

    def hosts_of(self, group: Group) -> list[Host]:
        attr = "district" if group.kind == "district" else "commune" if group.kind == "commune" else None
        if attr is None:
            return [h for h in self.hosts if group.name in h.groups]
        return [h for h in self.hosts if getattr(h, attr) == group.name]

    def _find(self, name: str, kind: str, prefix: str) -> Group:
        """By group name (commune_phuc_xa), short name (phuc_xa) or human name (Phúc Xá, phuc xa)."""
        wanted = fold(name)
        candidates = [g for g in self.groups.values() if g.kind == kind]
        for g in candidates:
            if name in (g.name, g.short_name) or wanted in (fold(g.name), fold(g.short_name), fold(g.display_name)):
                return g
        known = ", ".join(sorted(f"{g.short_name} ({g.display_name})" for g in candidates))
        vi = {"district": "quận/huyện", "commune": "xã/phường"}[kind]
        raise FleetError(f"{self.source}: unknown {kind} {name!r} / không có {vi} {name!r}; known / có: {known}")


def fold(text: str) -> str:
    """'Phúc Xá' -> 'phuc_xa': what an operator may type for a human name."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


# --- declared variables --------------------------------------------------------

@dataclass(frozen=True)
class VarSpec:
    name: str
    type: str = "raw"  # str int float bool list dict path raw
    choices: tuple[Any, ...] | None = None
    elements: str | None = None
    source: str = ""
    options: tuple[VarSpec, ...] = ()  # the keys a dict may have (empty: any)


# Variables of the inventory itself, read by several roles and by fleet.
INVENTORY_VARS: tuple[VarSpec, ...] = (
    VarSpec("wardwatch_district_name", "str", source="inventory"),
    VarSpec("wardwatch_commune_name", "str", source="inventory"),
    VarSpec("wardwatch_pc_description", "str", source="inventory"),
    VarSpec("wardwatch_min_spec", "dict", source="inventory", options=(
        VarSpec("min_memory_mb", "int"), VarSpec("min_disk_free_mb", "int"), VarSpec("min_cpu_cores", "int"),
        VarSpec("min_cpu_frequency_mhz", "float"), VarSpec("allowed_os", "list", elements="str"))),
    VarSpec("wardwatch_wan_targets", "list", elements="dict", source="inventory"),
    VarSpec("wardwatch_vclient_gateway", "str", source="inventory"),
    VarSpec("wardwatch_rollout_serial", "list", source="inventory"),
    VarSpec("wardwatch_rollout_max_fail_percentage", "int", source="inventory"),
)
# Ansible's own variables an inventory may set: the behavioural inventory parameters
# (docs "How to build your inventory"), the magic connection and become variables
# (ansible/constants.py MAGIC_VARIABLE_MAPPING, COMMON_CONNECTION_VARS) and the `vars:`
# of ansible-core's connection, become and shell plugins and of its config (ansible-doc),
# typed as documented. tests/fleet/test_inventory_ansible.py checks this list against
# the installed ansible-core.
_ANSIBLE_VAR_TYPES = {
    "str": """ansible_host ansible_user ansible_connection ansible_python_interpreter ansible_shell_type
        ansible_shell_executable ansible_become_method ansible_become_user ansible_become_password
        ansible_become_pass ansible_become_exe ansible_become_flags ansible_password ansible_network_os
        ansible_connection_user ansible_module_compression ansible_remote_tmp ansible_async_dir
        ansible_common_remote_group ansible_control_path ansible_control_path_dir ansible_private_key
        ansible_private_key_passphrase ansible_docker_extra_args ansible_python_module_rlimit_nofile
        ansible_target_log_info ansible_sshpass_prompt""",
    "path": "ansible_private_key_file",
    "int": """ansible_port ansible_timeout ansible_win_async_startup_timeout ansible_local_become_success_timeout
        ansible_group_priority""",
    "bool": """ansible_become ansible_pipelining ansible_host_key_checking ansible_no_target_syslog
        ansible_deprecation_warnings ansible_shell_allow_world_readable_temp ansible_local_become_strip_preamble
        ansible_keep_remote_files""",
    "list": "ansible_admin_users ansible_system_tmpdirs ansible_facts_modules ansible_interpreter_python_fallback",
}
ANSIBLE_VARS: tuple[VarSpec, ...] = tuple(VarSpec(n, t, source="ansible")
                                          for t, names in _ANSIBLE_VAR_TYPES.items() for n in names.split())
# Families of Ansible variables, each documented by its plugin (their options change with
# the plugin's version, and winrm passes any ansible_winrm_* to pywinrm): accepted untyped.
ANSIBLE_VAR_PREFIXES = ("ansible_ssh_", "ansible_winrm_", "ansible_psrp_", "ansible_paramiko_", "ansible_sftp_",
                        "ansible_scp_", "ansible_sudo_", "ansible_su_", "ansible_runas_", "ansible_become_")
_INTERPRETER = re.compile(r"^ansible_\w+_interpreter$")  # ansible_python_interpreter, ansible_perl_interpreter, ...


def _ansible_family(var: str) -> bool:
    return var.startswith(ANSIBLE_VAR_PREFIXES) or bool(_INTERPRETER.match(var))


def default_playbooks_dir() -> Path:
    """$WARDWATCH_PLAYBOOKS, else the playbooks shipped inside the fleet package (package data,
    fleet/playbooks; in a source checkout a symlink to the top-level playbooks/)."""
    env = os.environ.get("WARDWATCH_PLAYBOOKS")
    if env:
        return Path(env)
    import importlib.resources

    shipped = importlib.resources.files("fleet") / "playbooks"
    if not isinstance(shipped, Path):  # e.g. imported from a zip: Ansible needs real files
        raise FleetError(f"{shipped}: the playbooks are not on the file system; set WARDWATCH_PLAYBOOKS or "
                         "--playbooks / không tìm thấy thư mục playbook")
    return shipped.resolve()


def declared_variables(playbooks: str | Path | None = None) -> dict[str, VarSpec]:
    """Inventory and Ansible variables, plus every option of every role's meta/argument_specs.yml."""
    out = {v.name: v for v in INVENTORY_VARS + ANSIBLE_VARS}
    roles = Path(playbooks or default_playbooks_dir()) / "roles"
    for spec_file in sorted(roles.glob("*/meta/argument_specs.yml")):
        try:
            doc = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise FleetError(f"{spec_file}: cannot read the role's argument specs: {e}") from None
        for entry in (doc.get("argument_specs") or {}).values():
            for name, opt in (entry.get("options") or {}).items():
                out.setdefault(name, _spec_of(name, opt or {}, spec_file.parts[-3]))
    return out


def _spec_of(name: str, opt: Mapping[str, Any], source: str) -> VarSpec:
    choices = tuple(opt["choices"]) if opt.get("choices") else None
    options = tuple(_spec_of(k, v or {}, source) for k, v in (opt.get("options") or {}).items())
    return VarSpec(name, str(opt.get("type", "str")), choices, opt.get("elements"), source, options)


def _type_problem(spec: VarSpec, value: Any) -> str | None:
    """Why `value` does not fit `spec` (None if it does). Templates are not judged here."""
    if isinstance(value, str) and _TEMPLATE.search(value):
        return None
    t = spec.type
    ok = {
        "str": lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool),
        "path": lambda v: isinstance(v, str),
        "int": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, str) and v.isdigit()),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool) or str(v).lower() in ("yes", "no", "true", "false", "0", "1"),
        "list": lambda v: isinstance(v, list),
        "dict": lambda v: isinstance(v, dict),
    }.get(t)
    if ok is not None and not ok(value):
        return f"expected {t} / cần kiểu {t}, got {type(value).__name__} {value!r:.40}"
    if spec.choices is not None and value not in spec.choices:
        return f"expected one of / chỉ được {', '.join(map(str, spec.choices))}; got {value!r:.40}"
    if spec.options and isinstance(value, dict):
        keys = {o.name: o for o in spec.options}
        for k, v in value.items():
            if k not in keys:
                hint = closest(str(k), keys, cutoff=0.75)
                return (f"unknown key / khóa không có '{k}'" + (f" (did you mean '{hint}'?)" if hint else "")
                        + f"; known / có: {', '.join(keys)}")
            reason = _type_problem(keys[k], v)
            if reason:
                return f"{k}: {reason}"
    return None


# --- YAML nodes ------------------------------------------------------------------

class Vaulted(str):
    """A value encrypted inline with ansible-vault (`!vault |`): its ciphertext. Only Ansible,
    given the vault password, can read it; it is kept (and checked) as an opaque string."""


_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SCALARS = {
    "tag:yaml.org,2002:str": lambda n: n.value,
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:null": lambda n: None,
    "!vault": lambda n: Vaulted(n.value),  # Ansible's own tags (ansible/_internal/_yaml/_constructor.py)
    "!unsafe": lambda n: n.value,
}


def _value(node: yaml.Node) -> Any:
    """A node's plain value: libyaml did the parsing, this only builds dicts, lists and scalars."""
    if isinstance(node, yaml.ScalarNode):
        f = _SCALARS.get(node.tag)
        return f(node) if f else _CONSTRUCTOR.construct_object(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return [_value(n) for n in node.value]
    if any(k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value):
        _CONSTRUCTOR.flatten_mapping(node)
    return {_value(k): _value(v) for k, v in node.value}


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _is_null(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null")


# --- loading ---------------------------------------------------------------------

@dataclass
class _HostEntry:
    """One listing of a host under a group's `hosts:` (a host may be listed several times)."""
    name: str
    group: str
    file: str
    line: int
    vars: dict[str, Any]


@dataclass
class _VarsFile:
    """group_vars/<name> or host_vars/<name>: the vars of its files merged in Ansible's order."""
    first: str  # the first file read (or the directory)
    vars: dict[str, Any]
    lines: dict[str, tuple[str, int]]  # var -> (file, line) of the value kept


def _key_line(file: str, node: yaml.MappingNode, key: str) -> tuple[str, int | None]:
    """Where `key` is in a mapping node (asked only when there is a problem to report)."""
    for k, _v in node.value:
        if k.value == key:
            return file, _line(k)
    return file, _line(node)


class _Reader:
    def __init__(self, source: Path, declared: Mapping[str, VarSpec]):
        self.source = source
        self.declared = declared  # host vars are checked as they are read, where their lines are at hand
        self.problems: list[Problem] = []
        self.groups: dict[str, Group] = {}
        self.entries: list[_HostEntry] = []  # every listing of a host, in file order
        self.group_parents: dict[str, set[str]] = {}

    def problem(self, file: str, line: int | None, subject: str, code: str, **params: Any) -> None:
        self.problems.append(Problem(file, line, subject, code, params))

    def read_yaml(self, path: Path) -> yaml.Node | None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            self.problem(str(path), None, "", "file", reason=getattr(e, "strerror", None) or str(e))
            return None
        try:
            return yaml.compose(text, Loader=_Loader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            self.problem(str(path), mark.line + 1 if mark else None, "", "yaml",
                         reason=(e.problem or e.context or "").strip())
        except yaml.YAMLError as e:
            self.problem(str(path), None, "", "yaml", reason=str(e))
        return None

    def mapping_items(self, node: yaml.Node | None, file: str, subject: str,
                      what: str) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) of a mapping, reporting duplicate keys once each."""
        if _is_null(node):
            return
        if not isinstance(node, yaml.MappingNode):
            self.problem(file, _line(node), subject, "not_mapping", what=what)
            return
        seen: dict[str, int] = {}
        for k, v in node.value:
            key = str(k.value)
            if key in seen:
                self.problem(file, _line(k), subject, "duplicate_key", key=key, first=seen[key])
            seen[key] = _line(k)
            yield key, k, v

    # inventory file: all -> groups -> ...
    def load_file(self, path: Path) -> None:
        root = self.read_yaml(path)
        if root is None:
            return
        file = str(path)
        for name, knode, gnode in self.mapping_items(root, file, "", "the inventory"):
            # A top-level group other than all becomes a child of all only if nothing else
            # is its parent (Ansible's InventoryData.reconcile_inventory): see _tree().
            self.group(name, knode, gnode, file, parent=None)

    def group(self, name: str, knode: yaml.Node, node: yaml.Node, file: str, parent: str | None) -> None:
        subject = _subject_group(name)
        g = self.groups.get(name)
        if g is None:
            g = self.groups[name] = Group(name, "other", file, _line(knode))
        if parent is not None:
            self.group_parents.setdefault(name, set()).add(parent)
        for key, k, v in self.mapping_items(node, file, subject, f"group {name}"):
            if key in GROUP_KEYS and isinstance(v, yaml.ScalarNode) and v.tag == "tag:yaml.org,2002:str":
                # `hosts: pc1` is `hosts: {pc1: }` to Ansible's yaml plugin (and so for children, vars)
                v = yaml.MappingNode("tag:yaml.org,2002:map", [(v, yaml.ScalarNode("tag:yaml.org,2002:null", "",
                                                                                       v.start_mark, v.end_mark))],
                                     v.start_mark, v.end_mark)
            if key == "vars":
                for var, vk, vnode in self.mapping_items(v, file, subject, f"vars of {name}"):
                    value = _value(vnode)
                    if var == GROUP_PRIORITY:  # Ansible keeps it as the group's priority, not as a variable
                        try:
                            g.priority = int(value)
                        except (TypeError, ValueError):
                            self.problem(file, _line(vk), subject, "bad_var", var=var,
                                         reason=f"expected int / cần kiểu int, got {value!r:.40}")
                        continue
                    g.vars[var] = value
                    g.var_lines[var] = (file, _line(vk))
            elif key == "children":
                for child, ck, cnode in self.mapping_items(v, file, subject, f"children of {name}"):
                    if child not in g.children:
                        g.children.append(child)
                    self.group(child, ck, cnode, file, parent=name)
            elif key == "hosts":
                for host, hk, hnode in self.mapping_items(v, file, subject, f"hosts of {name}"):
                    hvars = {}
                    if not _is_null(hnode):
                        if isinstance(hnode, yaml.MappingNode):
                            hvars = _value(hnode)
                            _check_vars(self, hvars, self.declared, lambda var, n=hnode: _key_line(file, n, var),
                                        _subject_host(host))
                        else:
                            self.problem(file, _line(hnode), _subject_host(host), "not_mapping",
                                         what=f"host {host}")
                    g.hosts.append(host)
                    self.entries.append(_HostEntry(host, name, file, _line(hk), hvars))
            else:
                hint = closest(key, GROUP_KEYS, cutoff=0.75)
                self.problem(file, _line(k), subject, "unknown_group_key", key=key,
                             hint=f" (did you mean '{hint}'?)" if hint else "")

    def vars_files(self, base: Path, kind: str, names: Iterable[str]) -> dict[str, _VarsFile]:
        """group_vars/ or host_vars/ of the given groups or hosts, found and merged as Ansible's
        host_group_vars plugin does (DataLoader.find_vars_files): `<name>` (a directory of files,
        or a file), else `<name>.yml`, else `.yaml`, else `.json` — only the first that exists."""
        d = base / kind
        try:
            listing = list(os.scandir(d))
        except OSError:
            return {}
        found: dict[str, tuple[int, os.DirEntry]] = {}
        for entry in listing:
            for rank, suffix in enumerate(YAML_SUFFIXES):
                if not entry.name.endswith(suffix):
                    continue
                stem = entry.name[:len(entry.name) - len(suffix)] if suffix else entry.name
                if stem and (stem not in found or rank < found[stem][0]):
                    found[stem] = (rank, entry)
        out: dict[str, _VarsFile] = {}
        for name in names:
            hit = found.get(name)
            if hit is None or name.startswith(os.sep):
                continue
            entry = hit[1]
            files = _dir_vars_files(Path(entry.path)) if entry.is_dir() else [Path(entry.path)]
            merged: dict[str, Any] = {}
            lines: dict[str, tuple[str, int]] = {}
            for f in files:
                if _vault_encrypted(f):  # ansible-vault: opened by Ansible with the vault password, not here
                    continue
                node = self.read_yaml(f)
                for var, k, v in self.mapping_items(node, str(f), "", f"{kind}/{name}"):
                    merged[var] = _value(v)
                    lines[var] = (str(f), _line(k))
            out[name] = _VarsFile(str(files[0]) if files else entry.path, merged, lines)
        return out


def _dir_vars_files(path: Path) -> list[Path]:
    """The files of a group_vars/<name>/ directory in Ansible's order (DataLoader._get_dir_vars_files):
    sorted by name at each level, hidden and backup~ files skipped, subdirectories without an
    extension walked, files kept when they have no extension or .yml, .yaml, .json."""
    out: list[Path] = []
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return out
    for name in names:
        if name.startswith(".") or name.endswith("~"):
            continue
        full = path / name
        ext = os.path.splitext(name)[1]
        if full.is_dir():
            if not ext:
                out.extend(_dir_vars_files(full))
        elif full.is_file() and (not ext or ext in YAML_SUFFIXES):
            out.append(full)
    return out


def _vault_encrypted(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(14) == b"$ANSIBLE_VAULT"
    except OSError:
        return False


_IPV4 = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")


def _address_problem(address: str) -> str | None:
    if _IPV4.match(address):  # the common case, without building an ipaddress object
        return None
    try:
        ipaddress.ip_address(address)
        return None
    except ValueError:
        pass
    if re.fullmatch(r"[\d.]+", address):
        return "not a valid IPv4 address / không phải địa chỉ IPv4 hợp lệ"
    if len(address) > 253 or not all(_HOSTNAME_LABEL.match(p) for p in address.rstrip(".").split(".")):
        return "neither an IP address nor a DNS name / không phải địa chỉ IP hay tên miền"
    return None


def _sources(path: Path) -> tuple[list[Path], Path]:
    """The inventory files, and the directory holding group_vars/ and host_vars/."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in INVENTORY_SUFFIXES)
        return files, path
    return [path], path.parent


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Building a million YAML nodes triggers the cyclic GC again and again for nothing
    (nodes hold no cycles worth collecting), and every full collection walks the whole
    inventory: pausing it halves the time of a big inventory. On the way out, the objects made
    meanwhile (all still in the youngest generation) are moved to the oldest one, or the
    first collection after would walk them all at once."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()  # every tracked object to the permanent generation, young counts reset ...
            gc.unfreeze()  # ... then all of them to the oldest generation
            gc.enable()


def scan_inventory(path: str | Path, declared: Mapping[str, VarSpec] | None = None,
                   check_names: bool = True) -> Inventory:
    """Load and check; every problem is in `.problems` (nothing raised for bad content)."""
    with no_gc():
        return _scan(path, declared, check_names)


def _scan(path: str | Path, declared: Mapping[str, VarSpec] | None, check_names: bool) -> Inventory:
    source = Path(path)
    if not source.exists():
        raise FleetError(f"{source}: inventory not found / không tìm thấy tệp kiểm kê")
    files, base = _sources(source)
    declared = declared_variables() if declared is None else declared
    loader = _Reader(source, declared)
    for f in files:
        loader.load_file(f)
    groups = loader.groups
    top = _tree(loader, str(source))

    group_files = loader.vars_files(base, "group_vars", list(groups))
    for name, vf in group_files.items():
        groups[name].file_vars, groups[name].file_var_lines = vf.vars, vf.lines

    # the tree: all -> district_* -> commune_*
    district_names = {c for c in top.children if c.startswith(DISTRICT_PREFIX)}
    for name, g in groups.items():
        subject = _subject_group(name)
        parents = loader.group_parents.get(name, set())
        if name in district_names:
            g.kind = "district"
        elif name.startswith(COMMUNE_PREFIX):
            districts = sorted(p for p in parents if p in district_names)
            if districts:
                g.kind, g.parent = "commune", districts[0]
                if len(districts) > 1:
                    loader.problem(g.file, g.line, subject, "commune_two_districts", group=name,
                                   a=districts[0], b=districts[1])
            else:
                loader.problem(g.file, g.line, subject, "group_misplaced", group=name,
                               where="a commune_* group must be a child of a district_* group / "
                                     "nhóm commune_* phải là con của một nhóm district_*")
        elif name.startswith(DISTRICT_PREFIX) and name not in district_names:
            loader.problem(g.file, g.line, subject, "group_misplaced", group=name,
                           where="a district_* group must be a child of all / nhóm district_* phải là con của all")
        if check_names and name != "all":
            safe = _ANSIBLE_INVALID.sub("_", name)
            var = "wardwatch_commune_name" if name.startswith(COMMUNE_PREFIX) else "wardwatch_district_name"
            if safe != name or keyword.iskeyword(name):
                loader.problem(g.file, g.line, subject, "group_rewrite", group=name, safe=safe, var=var)
            elif not _SAFE_GROUP.match(name):
                loader.problem(g.file, g.line, subject, "group_not_ascii", group=name,
                               example=fold(name) or "commune_phuc_xa")
        if g.kind == "district" and not (g.vars.get("wardwatch_district_name")
                                         or g.file_vars.get("wardwatch_district_name")):
            loader.problem(g.file, g.line, subject, "no_district_name")
        if g.kind == "commune" and not (g.vars.get("wardwatch_commune_name")
                                        or g.file_vars.get("wardwatch_commune_name")):
            loader.problem(g.file, g.line, subject, "no_commune_name")

    # variables of groups (checked once per group, not once per host), each at its own line
    for name, g in groups.items():
        _check_vars(loader, g.vars, declared, g.var_lines.__getitem__, _subject_group(name), inventory_file=True)
        if name in group_files:
            _check_vars(loader, g.file_vars, declared, _lines_or(g.file_var_lines, group_files[name].first),
                        _subject_group(name))

    # every listing of every host, in file order
    first: dict[str, _HostEntry] = {}
    more: dict[str, list[_HostEntry]] = {}
    for e in loader.entries:
        if e.name in first:
            more.setdefault(e.name, [first[e.name]]).append(e)
        else:
            first[e.name] = e
    host_files = loader.vars_files(base, "host_vars", first)
    for name, vf in host_files.items():
        _check_vars(loader, vf.vars, declared, _lines_or(vf.lines, vf.first), _subject_host(name))

    # The groups' part of a host's vars depends only on the groups it is listed in: merged
    # once per set of groups (once per commune, for most PCs), as Ansible's VariableManager does.
    closure = _closures(groups, loader.group_parents)
    order = {name: (g.depth, g.priority, name) for name, g in groups.items()}
    all_group = groups["all"]
    levels: dict[frozenset[str], _Level] = {}
    single: dict[str, _Level] = {}

    def level_of(direct: frozenset[str]) -> _Level:
        lv = levels.get(direct)
        if lv is None:
            member: set[str] = set()
            for d in direct:
                member |= closure.get(d, {d})
            ordered = sorted(member, key=order.__getitem__)
            merged = dict(all_group.vars)
            for gname in ordered:
                merged.update(groups[gname].vars)
            merged.update(all_group.file_vars)
            for gname in ordered:
                merged.update(groups[gname].file_vars)
            communes = sorted(gname for gname in member if groups[gname].kind == "commune")
            others = tuple(sorted(gname for gname in member if groups[gname].kind == "other"))
            lv = levels[direct] = _Level(merged, communes, others)
        return lv

    hosts: list[Host] = []
    by_address: dict[tuple[str, Any], str] = {}
    for name, e in first.items():
        subject = _subject_host(name)
        if "[" in name or "]" in name or ":" in name:
            loader.problem(e.file, e.line, subject, "host_pattern", host=name)
            continue
        if name in groups:
            loader.problem(e.file, e.line, subject, "host_is_group", host=name)
            continue
        entries = more.get(name)
        if entries is None:  # the common case: listed once
            lv = single.get(e.group) or single.setdefault(e.group, level_of(frozenset((e.group,)) - _IMPLICIT))
            home = e
            merged = {**lv.vars, **e.vars}
        else:
            lv = level_of(frozenset(x.group for x in entries) - _IMPLICIT)
            in_communes = [x for x in entries if groups[x.group].kind == "commune"]
            for dup in in_communes[1:]:
                loader.problem(dup.file, dup.line, subject, "duplicate_host",
                               other=f"{in_communes[0].file}:{in_communes[0].line} ({in_communes[0].group})")
            if len(in_communes) > 1:
                continue
            home = in_communes[0] if in_communes else e
            merged = dict(lv.vars)
            for x in entries:
                merged.update(x.vars)
        if len(lv.communes) > 1:
            loader.problem(home.file, home.line, subject, "two_communes", a=lv.communes[0], b=lv.communes[1])
            continue
        if not lv.communes:
            listed = [x.group for x in entries or (e,)]
            if all(gr in _IMPLICIT or groups[gr].kind == "district" for gr in listed):
                loader.problem(e.file, e.line, subject, "outside_commune")
            else:
                loader.problem(e.file, e.line, subject, "not_in_tree",
                               group=next(gr for gr in listed if gr not in _IMPLICIT))
            continue
        commune = groups[lv.communes[0]]
        hv = host_files.get(name)
        if hv is not None:
            merged.update(hv.vars)
        h = Host(name, commune.parent, commune.name, home.file, home.line, merged, lv.others)
        address = h.address
        reason = _address_problem(address)
        if reason:
            loader.problem(home.file, home.line, subject, "bad_address", address=address, reason=reason)
        key = (address, merged.get("ansible_port", 22), h.agent_port)
        other = by_address.get(key)
        if other is not None:
            loader.problem(home.file, home.line, subject, "duplicate_address", address=address, other=other)
        else:
            by_address[key] = name
        hosts.append(h)
    if not hosts and not loader.problems:
        loader.problem(str(source), None, "", "empty")
    hosts.sort(key=lambda h: (h.district, h.commune, h.name))
    return Inventory(str(source), hosts, groups, loader.problems)


# Groups whose listing of a host adds no vars to it: `all` (every host is in it, its vars come
# first anyway), and `ungrouped`, which Ansible empties of every host that is in another group.
_IMPLICIT = frozenset(("all", "ungrouped"))


@dataclass
class _Level:
    vars: dict[str, Any]  # the merged vars of a set of groups and their ancestors
    communes: list[str]
    others: tuple[str, ...]


def _tree(loader: _Reader, source: str) -> Group:
    """Ansible's implicit groups and edges: `all`, `ungrouped`, and every group with no parent
    made a child of all; then each group's depth (its longest path from all)."""
    groups, parents = loader.groups, loader.group_parents
    top = groups.setdefault("all", Group("all", "other", source, 0))
    if "ungrouped" not in groups:
        groups["ungrouped"] = Group("ungrouped", "other", source, 0)
    for name, g in groups.items():
        if name == "all":
            if parents.get(name):
                loader.problem(g.file, g.line, _subject_group(name), "group_misplaced", group=name,
                               where="all is the root: it cannot be a child / all là gốc, không thể là nhóm con")
            continue
        if name == "ungrouped" and (g.children or parents.get(name, {"all"}) != {"all"}):
            loader.problem(g.file, g.line, _subject_group(name), "group_misplaced", group=name,
                           where="ungrouped is Ansible's own group of hosts in no other group: only hosts, under "
                                 "all / ungrouped là nhóm riêng của Ansible: chỉ chứa máy, nằm ngay dưới all")
        if not parents.get(name):
            parents[name] = {"all"}
            if name not in top.children:
                top.children.append(name)
    depth: dict[str, int] = {"all": 0}
    visiting: list[str] = []

    def depth_of(name: str) -> int:
        d = depth.get(name)
        if d is not None:
            return d
        if name in visiting:
            cycle = visiting[visiting.index(name):] + [name]
            g = groups[name]
            loader.problem(g.file, g.line, _subject_group(name), "group_cycle", group=name,
                           path=" -> ".join(reversed(cycle)))
            return 0
        visiting.append(name)
        d = max((depth_of(p) + 1 for p in parents.get(name, ()) if p in groups), default=1)
        visiting.pop()
        depth[name] = d
        return d

    for name, g in groups.items():
        g.depth = depth_of(name)
    return top


def _closures(groups: Mapping[str, Group], parents: Mapping[str, set[str]]) -> dict[str, frozenset[str]]:
    """Each group with all its ancestors but `all` (a host listed in a group is in all of them)."""
    out: dict[str, frozenset[str]] = {}

    def closure(name: str, seen: frozenset[str]) -> frozenset[str]:
        c = out.get(name)
        if c is None:
            c = frozenset((name,))
            for p in parents.get(name, ()):
                if p != "all" and p in groups and p not in seen:  # a cycle was reported by _tree
                    c |= closure(p, seen | {name})
            out[name] = c
        return c

    for name in groups:
        if name != "all":
            closure(name, frozenset())
    return out


def _lines_or(lines: Mapping[str, tuple[str, int]], file: str) -> Callable[[str], tuple[str, int | None]]:
    return lambda var: lines.get(var) or (file, None)


def _check_vars(loader: _Reader, values: Mapping[str, Any], declared: Mapping[str, VarSpec],
                where: Callable[[str], tuple[str, int | None]], subject: str, inventory_file: bool = False) -> None:
    """Every variable declared and of its declared type; each problem at the variable's own file:line."""
    for var, value in values.items():
        spec = declared.get(var)
        if var == GROUP_PRIORITY and not inventory_file:
            loader.problem(*where(var), subject, "priority_not_here")
            continue
        if spec is None:
            if _ansible_family(var):
                continue
            hint = closest(var, declared, cutoff=0.75)
            loader.problem(*where(var), subject, "unknown_var", var=var,
                           hint=f" (did you mean '{hint}'?)" if hint else "")
            continue
        reason = _type_problem(spec, value)
        if reason:
            loader.problem(*where(var), subject, "bad_var", var=var, reason=reason)


def load_inventory(path: str | Path, declared: Mapping[str, VarSpec] | None = None,
                   lang: str = "en") -> Inventory:
    """The inventory, or a one-line FleetError naming the first problem's file and host."""
    inv = scan_inventory(path, declared)
    if inv.problems:
        first = inv.problems[0].text(lang)
        more = len(inv.problems) - 1
        if more:
            first += "; " + MESSAGES["more"][lang].format(n=more)
        raise FleetError(first, EXIT_USAGE)
    return inv
