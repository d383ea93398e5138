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

Vars are merged the way Ansible merges them (inventory-file group vars by depth,
then group_vars/all, district, commune files, then the host's own vars, then
host_vars/<host>). Every problem is kept with its file and line; `load_inventory`
raises a one-line `FleetError` when there is any, `scan_inventory` returns them.

The YAML is composed once by libyaml into nodes (for line numbers and duplicate
keys, which a plain load would silently drop) and walked by hand: 50,000 hosts
load in about a second.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import ipaddress
import keyword
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleet.errors import EXIT_USAGE, FleetError

# libyaml's safe loader: an order of magnitude faster on big inventories.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DISTRICT_PREFIX = "district_"
COMMUNE_PREFIX = "commune_"
DEFAULT_AGENT_PORT = 10713
GROUP_KEYS = ("hosts", "children", "vars")
YAML_SUFFIXES = ("", ".yml", ".yaml", ".json")
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
    "host_pattern": {"vi": "tên máy '{host}' dùng dải [a:b]; hãy liệt kê từng máy",
                     "en": "host name '{host}' uses a [a:b] range; list each PC by name"},
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
# Connection variables an inventory commonly sets (Ansible's own).
ANSIBLE_VARS: tuple[VarSpec, ...] = tuple(VarSpec(n, t, source="ansible") for n, t in (
    ("ansible_host", "str"), ("ansible_port", "int"), ("ansible_user", "str"), ("ansible_connection", "str"),
    ("ansible_python_interpreter", "str"), ("ansible_shell_type", "str"), ("ansible_shell_executable", "str"),
    ("ansible_become", "bool"), ("ansible_become_method", "str"), ("ansible_become_user", "str"),
    ("ansible_become_password", "str"), ("ansible_password", "str"), ("ansible_private_key_file", "path"),
    ("ansible_pipelining", "bool"), ("ansible_timeout", "int"),
))
ANSIBLE_VAR_PREFIXES = ("ansible_ssh_", "ansible_winrm_", "ansible_psrp_", "ansible_paramiko_")


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
                hint = _closest(str(k), keys)
                return (f"unknown key / khóa không có '{k}'" + (f" (did you mean '{hint}'?)" if hint else "")
                        + f"; known / có: {', '.join(keys)}")
            reason = _type_problem(keys[k], v)
            if reason:
                return f"{k}: {reason}"
    return None


# --- YAML nodes ------------------------------------------------------------------

_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SCALARS = {
    "tag:yaml.org,2002:str": lambda n: n.value,
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:null": lambda n: None,
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
    name: str
    group: str
    file: str
    line: int
    vars: dict[str, Any]


class _Reader:
    def __init__(self, source: Path):
        self.source = source
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
            if name == "all":
                self.group(name, knode, gnode, file, parent=None)
                continue
            # A top-level group other than all is a child of all, as in Ansible.
            top = self.groups.setdefault("all", Group("all", "other", file, _line(knode)))
            if name not in top.children:
                top.children.append(name)
            self.group(name, knode, gnode, file, parent="all")

    def group(self, name: str, knode: yaml.Node, node: yaml.Node, file: str, parent: str | None) -> None:
        subject = _subject_group(name)
        g = self.groups.get(name)
        if g is None:
            g = self.groups[name] = Group(name, "other", file, _line(knode))
        if parent is not None:
            self.group_parents.setdefault(name, set()).add(parent)
        for key, k, v in self.mapping_items(node, file, subject, f"group {name}"):
            if key == "vars":
                for var, _vk, vnode in self.mapping_items(v, file, subject, f"vars of {name}"):
                    g.vars[var] = _value(vnode)
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
                        else:
                            self.problem(file, _line(hnode), _subject_host(host), "not_mapping",
                                         what=f"host {host}")
                    g.hosts.append(host)
                    self.entries.append(_HostEntry(host, name, file, _line(hk), hvars))
            else:
                hint = _closest(key, GROUP_KEYS)
                self.problem(file, _line(k), subject, "unknown_group_key", key=key,
                             hint=f" (did you mean '{hint}'?)" if hint else "")

    def vars_dir(self, base: Path, kind: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """group_vars/ or host_vars/: name -> (file, merged vars). A name may be a file or a directory."""
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        d = base / kind
        if not d.is_dir():
            return out
        for entry in sorted(os.scandir(d), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                files = sorted(Path(entry.path).rglob("*"))
                name = entry.name
            else:
                stem, suffix = os.path.splitext(entry.name)
                if suffix not in YAML_SUFFIXES:
                    continue
                files, name = [Path(entry.path)], stem
            merged: dict[str, Any] = {}
            first = ""
            for f in files:
                if f.is_dir() or f.suffix not in YAML_SUFFIXES:
                    continue
                if _vault_encrypted(f):  # ansible-vault: opened by Ansible with the vault password, not here
                    continue
                node = self.read_yaml(f)
                first = first or str(f)
                for var, _k, v in self.mapping_items(node, str(f), "", f"{kind}/{name}"):
                    merged[var] = _value(v)
            out[name] = (first, merged)
        return out


def _vault_encrypted(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(14) == b"$ANSIBLE_VAULT"


def _closest(word: str, options: Iterable[str]) -> str | None:
    options = list(options)
    swapped = [o for o in options if len(o) == len(word) and sorted(o) == sorted(word)]  # "prot" for "port"
    if swapped:
        return swapped[0]
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.75)
    return match[0] if match else None


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
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".yml", ".yaml"))
        return files, path
    return [path], path.parent


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Building a million YAML nodes triggers the cyclic GC again and again for nothing
    (nodes hold no cycles worth collecting), and every full collection walks the whole
    inventory: pausing it halves the time of a big inventory."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
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
    loader = _Reader(source)
    for f in files:
        loader.load_file(f)
    group_files = loader.vars_dir(base, "group_vars")
    host_files = loader.vars_dir(base, "host_vars")
    groups = loader.groups
    for name, (_file, gv) in group_files.items():
        if name in groups:
            groups[name].file_vars = gv
    declared = declared_variables() if declared is None else declared

    # the tree: all -> district_* -> commune_*
    top = groups.get("all")
    district_names = set()
    if top is not None:
        top.kind = "other"
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

    # variables of groups (checked once per group, not once per host)
    for name, g in groups.items():
        _check_vars(loader, g.vars, declared, g.file, g.line, _subject_group(name))
        if name in group_files:
            _check_vars(loader, g.file_vars, declared, group_files[name][0], None, _subject_group(name))
    for name, (file, hv) in host_files.items():
        _check_vars(loader, hv, declared, file, None, _subject_host(name))

    # hosts: one commune each
    gv_all = groups["all"].vars if "all" in groups else {}
    fv_all = groups["all"].file_vars if "all" in groups else group_files.get("all", ("", {}))[1]
    level_vars: dict[str, dict[str, Any]] = {}

    def commune_level(commune: Group) -> dict[str, Any]:
        merged = level_vars.get(commune.name)
        if merged is None:
            district = groups[commune.parent]
            merged = {**gv_all, **district.vars, **commune.vars, **fv_all, **district.file_vars, **commune.file_vars}
            level_vars[commune.name] = merged
        return merged

    home: dict[str, _HostEntry] = {}
    extra_groups: dict[str, list[str]] = {}
    for e in loader.entries:
        g = groups[e.group]
        if e.vars:
            _check_vars(loader, e.vars, declared, e.file, e.line, _subject_host(e.name))
        if "[" in e.name and ":" in e.name:
            loader.problem(e.file, e.line, _subject_host(e.name), "host_pattern", host=e.name)
            continue
        if g.kind == "commune":
            first = home.get(e.name)
            if first is not None:
                loader.problem(e.file, e.line, _subject_host(e.name), "duplicate_host",
                               other=f"{first.file}:{first.line} ({first.group})")
                continue
            home[e.name] = e
        else:
            extra_groups.setdefault(e.name, []).append(e.group)
    for name, in_groups in extra_groups.items():
        if name not in home:
            first = next(e for e in loader.entries if e.name == name)
            if all(gr in ("all", "ungrouped") or groups[gr].kind == "district" for gr in in_groups):
                loader.problem(first.file, first.line, _subject_host(name), "outside_commune")
            else:
                loader.problem(first.file, first.line, _subject_host(name), "not_in_tree", group=in_groups[0])

    hosts: list[Host] = []
    by_address: dict[tuple[str, Any], str] = {}
    for name, e in home.items():
        commune = groups[e.group]
        if commune.kind != "commune" or commune.parent not in groups:
            continue
        base_vars = commune_level(commune)
        others = tuple(extra_groups.get(name, ()))
        hv = host_files.get(name)
        if others:  # vars of extra groups sit between the commune's and the host's own (by depth, then name)
            merged = dict(base_vars)
            for gr in sorted(others):
                merged.update(groups[gr].vars)
                merged.update(groups[gr].file_vars)
            merged.update(e.vars)
        else:
            merged = {**base_vars, **e.vars}
        if hv:
            merged.update(hv[1])
        h = Host(name, commune.parent, commune.name, e.file, e.line, merged, others)
        address = h.address
        reason = _address_problem(address)
        if reason:
            loader.problem(e.file, e.line, _subject_host(name), "bad_address", address=address, reason=reason)
        key = (address, merged.get("ansible_port", 22), h.agent_port)
        other = by_address.get(key)
        if other is not None:
            loader.problem(e.file, e.line, _subject_host(name), "duplicate_address", address=address, other=other)
        else:
            by_address[key] = name
        hosts.append(h)
    if not hosts and not loader.problems:
        loader.problem(str(source), None, "", "empty")
    hosts.sort(key=lambda h: (h.district, h.commune, h.name))
    return Inventory(str(source), hosts, groups, loader.problems)


def _check_vars(loader: _Reader, values: Mapping[str, Any], declared: Mapping[str, VarSpec],
                file: str, line: int | None, subject: str) -> None:
    for var, value in values.items():
        spec = declared.get(var)
        if spec is None:
            if var.startswith(ANSIBLE_VAR_PREFIXES):
                continue
            hint = _closest(var, declared)
            loader.problem(file, line, subject, "unknown_var", var=var,
                           hint=f" (did you mean '{hint}'?)" if hint else "")
            continue
        reason = _type_problem(spec, value)
        if reason:
            loader.problem(file, line, subject, "bad_var", var=var, reason=reason)


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
