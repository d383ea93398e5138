"""The agent's configuration: declared once, typed, validated with file and line.

The whole schema is a tree of `Section`s and `Option`s. Collectors declare their
own options (see `agent.collectors.base.Collector.options`); `schema()` joins
them under `collectors.<name>`. Loading walks the YAML node tree (not the
parsed dict) so that every error names the file, the line and the dotted key.

Thresholds live here and only here: the `spec` section (the minimum PC for the
virtualized client) and the `thresholds` section. Collectors read them from the
loaded config; alert rules and readiness read the verdicts the agent exports and
the thresholds it applied (wardwatch_wan_threshold), never copies of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PORT = 10713


class ConfigError(Exception):
    """One line naming the file, the line and the key at fault."""

    def __init__(self, message: str, *, source: str = "", line: int | None = None, key: str = ""):
        self.message = message
        self.source = source
        self.line = line
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            where += f": {self.key}"
        return f"{where}: {self.message}"


# --- value types -------------------------------------------------------------
# Each parser takes the YAML scalar/sequence value and returns the typed value or
# raises ValueError with a short reason.

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_BYTES_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$")
_BYTES_UNITS = {
    None: 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise ValueError(f"expected true or false, got {v!r}")


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected a whole number, got {v!r}")
    return v


def _float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {v!r}")
    return float(v)


def _str(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise ValueError(f"expected text, got {type(v).__name__}")
    return str(v)


def _duration(v: Any) -> float:
    """Seconds; accepts 15, 1.5, "15s", "500ms", "2m", "1h", "7d"."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    m = _DURATION_RE.match(str(v).strip()) if isinstance(v, str) else None
    if not m:
        raise ValueError(f"expected a duration like 30s, 500ms or 5m, got {v!r}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


def _bytes(v: Any) -> int:
    """Bytes; accepts 4294967296, "4GiB", "500 MB"."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    m = _BYTES_RE.match(str(v).strip()) if isinstance(v, str) else None
    if not m:
        raise ValueError(f"expected a size like 4GiB or 500MB, got {v!r}")
    return int(float(m.group(1)) * _BYTES_UNITS[m.group(2)])


def _str_list(v: Any) -> list[str]:
    if not isinstance(v, list):
        raise ValueError(f"expected a list of text, got {type(v).__name__}")
    return [_str(x) for x in v]


def _str_map(v: Any) -> dict[str, str]:
    if not isinstance(v, dict):
        raise ValueError(f"expected a mapping of names to text, got {type(v).__name__}")
    return {_str(k): _str(x) for k, x in v.items()}


def _listen(v: Any) -> str:
    s = _str(v)
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT like :{DEFAULT_PORT} or 127.0.0.1:{DEFAULT_PORT}, got {s!r}")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"an IPv6 host goes in brackets, like [::1]:{DEFAULT_PORT}; got {s!r}")
    return s


def _regex(v: Any) -> str:
    s = _str(v)
    try:
        re.compile(s)
    except re.error as e:
        raise ValueError(f"not a valid regular expression ({e})") from None
    return s


TYPES: dict[str, tuple[Callable[[Any], Any], str]] = {
    # name: (parser, how it reads in the reference)
    "bool": (_bool, "boolean"),
    "int": (_int, "integer"),
    "float": (_float, "number"),
    "str": (_str, "string"),
    "path": (_str, "path"),
    "duration": (_duration, "duration"),
    "bytes": (_bytes, "size"),
    "list[str]": (_str_list, "list of strings"),
    "map[str]": (_str_map, "mapping of strings"),
    "listen": (_listen, "HOST:PORT"),
    "regex": (_regex, "regex"),
}


@dataclass(frozen=True)
class Option:
    key: str
    type: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    secret: bool = False  # shown as <secret> by print-config (never logged or exported anyway)

    def parse(self, value: Any) -> Any:
        parser, _ = TYPES[self.type]
        out = parser(value)
        if self.choices is not None and out not in self.choices:
            raise ValueError(f"expected one of {', '.join(map(str, self.choices))}; got {out!r}")
        if self.minimum is not None and out < self.minimum:
            raise ValueError(f"must be at least {self.minimum:g}, got {value!r}")
        if self.maximum is not None and out > self.maximum:
            raise ValueError(f"must be at most {self.maximum:g}, got {value!r}")
        return out


class InvalidSettingError(ValueError):
    """Raised by a `Section.check` when options are fine one by one but not together;
    `key` is the option at fault, relative to the section (its line is reported)."""

    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class Section:
    key: str
    help: str
    children: tuple[Option | Section | ListOf, ...] = ()
    # Checks across the section's options once each is valid (e.g. "kind: tcp needs a port");
    # raises InvalidSettingError. Reported with the file, the line and the dotted key like any other error.
    check: Callable[[Settings], None] | None = None


@dataclass(frozen=True)
class ListOf:
    """A list of mappings, each validated against `item` (e.g. printers, WAN targets)."""

    key: str
    help: str
    item: Section
    default: tuple[Mapping[str, Any], ...] = ()
    unique: str | None = None  # an item key whose value must differ between items (e.g. "name")


Node = Option | Section | ListOf


class Settings(Mapping[str, Any]):
    """A read-only mapping with attribute access: `cfg.spec.min_memory`."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]):
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Settings({self._data!r})"

    def to_plain(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self._data.items()}


def _plain(v: Any) -> Any:
    if isinstance(v, Settings):
        return v.to_plain()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


# --- the schema --------------------------------------------------------------

SPEC = Section("spec", "Minimum PC configuration for the virtualized client (the one place these thresholds live).", (
    Option("min_memory", "bytes", 4 * 2**30, "Installed RAM needed.", minimum=0),
    Option("min_disk_free", "bytes", 10 * 2**30, "Free space needed on the system disk.", minimum=0),
    Option("system_disk", "path", "", "Mount point or drive of the system disk; empty: / on Linux, C:\\ on Windows."),
    Option("min_cpu_cores", "int", 2, "Physical CPU cores needed.", minimum=1),
    Option("min_cpu_frequency_mhz", "float", 1600.0, "Maximum CPU frequency needed, in MHz.", minimum=0),
    Option("allowed_os", "list[str]", [],
           "OS names/versions allowed, matched as a prefix of \"<name> <version>\" "
           "(e.g. \"Windows 10\", \"Windows 11\", \"Ubuntu 22.04\"); empty allows any."),
))

THRESHOLDS = Section("thresholds", "Where readings become verdicts (the one place these live): `check`, the "
                     "exported verdicts and, through wardwatch_wan_threshold, the alerts' warnings and readiness "
                     "all use them (docs/alerts.md, \"Who owns which threshold\").", (
    Option("wan_rtt_degraded", "duration", 0.2,
           "A WAN target whose median round-trip time over the window is above this is degraded.", minimum=0),
    Option("wan_loss_degraded", "float", 0.05,
           "A WAN target losing more than this share of its probes over the window is degraded.",
           minimum=0, maximum=1),
    Option("wan_jitter_degraded", "duration", 0.05,
           "A WAN target whose jitter (mean change between consecutive round-trip times) over the window "
           "is above this is degraded.", minimum=0),
    Option("wan_failures_down", "int", 2,
           "Consecutive failed probe rounds after which a WAN target is down (the outage is counted from "
           "the first of them).", minimum=1),
    Option("wan_cert_expiry_warning", "duration", 14 * 86400.0,
           "A TLS certificate expiring sooner than this fails `check` and raises CertificateExpiring (warning).",
           minimum=0),
    Option("printer_supply_low_ratio", "float", 0.1,
           "A toner or ink supply at or below this fraction is reported low (toner_low).", minimum=0, maximum=1),
    Option("printer_queue_stuck_after", "duration", 900.0,
           "A print queue whose oldest waiting job is older than this is reported stuck (queue_stuck).",
           minimum=1),
))

WEB = Section("web", "How /metrics is served.", (
    Option("listen", "listen", f":{DEFAULT_PORT}",
           "Address to serve /metrics and /healthz on; :PORT means every interface."),
    Option("config_file", "path", "",
           "Prometheus-style web config file (tls_server_config, basic_auth_users with bcrypt hashes); "
           "empty: plain HTTP, no auth."),
))

PUSH = Section("push", "Pushgateway mode, for PCs Prometheus cannot reach.", (
    Option("enabled", "bool", False, "Push the latest snapshot to a Pushgateway."),
    Option("url", "str", "", "Pushgateway base URL, e.g. https://pushgw.district.example:9091."),
    Option("job", "str", "wardwatch", "Job name in the grouping key."),
    Option("instance", "str", "", "Instance in the grouping key; empty: this PC's hostname."),
    Option("grouping", "map[str]", {},
           "More labels of the grouping key, which the Pushgateway puts on every series pushed: what file_sd "
           "gives a scraped PC, e.g. {district: ba_vi, commune: tan_linh} (not role: the WAN series have their "
           "own)."),
    Option("interval", "duration", 60.0, "How often to push.", minimum=1),
    Option("timeout", "duration", 10.0, "Timeout of one push.", minimum=0.1),
    Option("username", "str", "", "Basic auth user for the Pushgateway (optional)."),
    Option("password_file", "path", "", "File holding the basic auth password (never put the password itself here)."),
))

TEXTFILE = Section("textfile", "Textfile mode, for node_exporter / windows_exporter's textfile collector.", (
    Option("enabled", "bool", False, "Write the latest snapshot to a .prom file."),
    Option("directory", "path", "", "The textfile collector's directory."),
    Option("interval", "duration", 60.0, "How often to rewrite the file (atomically).", minimum=1),
))

REMOTE_WRITE = Section("remote_write", "Store and forward over weak links: every snapshot is recorded on disk "
                       "and sent, oldest first, with the Prometheus remote-write protocol (1.0).", (
    Option("enabled", "bool", False, "Record snapshots on disk and send them to a remote-write receiver."),
    Option("url", "str", "",
           "The receiver's remote-write URL, e.g. https://prometheus.district.example:9090/api/v1/write "
           "(Prometheus with --web.enable-remote-write-receiver, Mimir, Thanos Receive, VictoriaMetrics)."),
    Option("job", "str", "wardwatch", "The job label of every series sent."),
    Option("instance", "str", "", "The instance label of every series sent; empty: this PC's hostname."),
    Option("external_labels", "map[str]", {},
           "Labels added to every series sent, e.g. {district: ..., commune: ..., role: pc}; "
           "a label of the sample itself wins over one of these."),
    Option("directory", "path", "", "Where the on-disk buffer lives; empty: <state_dir>/remote-write."),
    Option("record_interval", "duration", 15.0,
           "How often the latest snapshot is recorded: one sample per series each time.", minimum=1),
    Option("max_bytes", "bytes", 64 * 2**20,
           "Disk the buffer may take; beyond it the oldest samples are dropped (and counted).", minimum=64 * 2**10),
    Option("max_age", "duration", 86400.0,
           "Samples older than this are dropped unsent (and counted); keep it within what the receiver "
           "accepts (see docs/store-and-forward.md).", minimum=60),
    Option("batch_samples", "int", 2000, "Most samples in one request (whole snapshots).", minimum=1, maximum=100000),
    Option("timeout", "duration", 30.0, "Timeout of one request.", minimum=0.1),
    Option("min_backoff", "duration", 1.0, "Wait after a failed request; doubled after each failure.", minimum=0.01),
    Option("max_backoff", "duration", 60.0, "Longest wait between two tries.", minimum=0.01),
    Option("username", "str", "", "Basic auth user for the receiver (optional)."),
    Option("password_file", "path", "", "File holding the basic auth password (never put the password itself here)."),
    Option("bearer_token_file", "path", "", "File holding a bearer token for the receiver (instead of basic auth)."),
    Option("ca_file", "path", "", "CA certificate(s) (PEM) to verify the receiver with; empty: the system's CAs."),
    Option("insecure_skip_verify", "bool", False, "Do not verify the receiver's TLS certificate (testing only)."),
))

COLLECTOR_COMMON = ("enabled", "interval", "timeout")


def collector_section(collector: Any) -> Section:
    """The config section of one collector: the common options, then its own."""
    common = (
        Option("enabled", "bool", collector.default_enabled, f"Run the {collector.name} collector."),
        Option("interval", "duration", collector.default_interval, "Seconds between two runs.", minimum=1),
        Option("timeout", "duration", collector.default_timeout,
               "A run that takes longer is cut off and reported failed.", minimum=0.1),
    )
    return Section(collector.name, collector.help, common + tuple(collector.options),
                   check=collector.check_settings)


def schema() -> Section:
    from agent.collectors import REGISTRY  # the explicit list of collectors

    return Section("", "wardwatch agent configuration", (
        Option("language", "str", "vi", "Language of operator-facing text (check output).", choices=("vi", "en")),
        Option("state_dir", "path", "",
               "Where the agent keeps state that must survive restarts; empty: /var/lib/wardwatch "
               "(Linux) or %ProgramData%\\wardwatch (Windows)."),
        WEB,
        SPEC,
        THRESHOLDS,
        Section("collectors", "Per-collector switches, schedules and options.",
                tuple(collector_section(c) for c in REGISTRY)),
        PUSH,
        TEXTFILE,
        REMOTE_WRITE,
    ))


# --- loading -----------------------------------------------------------------

def defaults(section: Section | None = None) -> Settings:
    section = section or schema()
    return Settings({child.key: _default_of(child) for child in section.children})


def _default_of(node: Node) -> Any:
    if isinstance(node, Section):
        return defaults(node)
    if isinstance(node, ListOf):
        return [_validate(node.item, yaml.compose(yaml.safe_dump(dict(d))), "<default>", "") for d in node.default]
    return list(node.default) if isinstance(node.default, list) else node.default


def load(path: str | Path | None) -> Settings:
    """The config at `path`, or the built-in default when `path` is None."""
    if path is None:
        return defaults()
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", source=source) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a file", source=source) from None
    except PermissionError:
        raise ConfigError("permission denied", source=source) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text (byte {e.start})", source=source) from None
    return loads(text, source)


MAX_CONFIG_BYTES = 1 << 20


def loads(text: str, source: str = "<config>", section: Section | None = None) -> Settings:
    section = section or schema()
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"larger than {MAX_CONFIG_BYTES // 1024} KiB: not a config file", source=source)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        problem = (e.problem or e.context or "malformed YAML").strip()
        raise ConfigError(f"malformed YAML: {problem}", source=source, line=line) from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow
        line = text[:e.position].count("\n") + 1
        code = e.character if isinstance(e.character, int) else ord(e.character)
        raise ConfigError(f"malformed YAML: character U+{code:04X} is not allowed", source=source,
                          line=line) from None
    except yaml.YAMLError as e:
        raise ConfigError("malformed YAML: " + " ".join(str(e).split()), source=source) from None
    if node is None:  # empty file: every default
        return defaults(section)
    return _validate(section, node, source, "")


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _validate(section: Section, node: yaml.Node, source: str, prefix: str) -> Settings:
    where = prefix.rstrip(".") or "(top level)"
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError("expected a mapping of keys to values", source=source, line=_line(node), key=where)
    children = {c.key: c for c in section.children}
    seen: dict[str, int] = {}
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
        dotted = prefix + key
        if key in seen:
            raise ConfigError(f"duplicate key (first at line {seen[key]})", source=source,
                              line=_line(key_node), key=dotted)
        seen[key] = _line(key_node)
        child = children.get(key)
        if child is None:
            hint = _closest(key, children)
            raise ConfigError("unknown key" + (f" (did you mean {hint!r}?)" if hint else ""),
                              source=source, line=_line(key_node), key=dotted)
        out[key] = _validate_node(child, value_node, source, dotted)
    for key, child in children.items():
        if key not in out:
            out[key] = _default_of(child)
    settings = Settings(out)
    if section.check is not None:
        try:
            section.check(settings)
        except InvalidSettingError as e:
            line = next((_line(v) for k, v in node.value if getattr(k, "value", None) == e.key), _line(node))
            raise ConfigError(e.message, source=source, line=line, key=prefix + e.key) from None
    return settings


def _validate_node(child: Node, value_node: yaml.Node, source: str, dotted: str) -> Any:
    if isinstance(child, Section):
        if isinstance(value_node, yaml.ScalarNode) and value_node.value in ("", "~", "null"):
            return defaults(child)
        return _validate(child, value_node, source, dotted + ".")
    if isinstance(child, ListOf):
        if not isinstance(value_node, yaml.SequenceNode):
            raise ConfigError("expected a list", source=source, line=_line(value_node), key=dotted)
        items = [_validate(child.item, item, source, f"{dotted}[{i}].") for i, item in enumerate(value_node.value)]
        if child.unique:
            first: dict[Any, int] = {}
            for i, (item, item_node) in enumerate(zip(items, value_node.value, strict=True)):
                value = item[child.unique]
                line = next((_line(v) for k, v in item_node.value if getattr(k, "value", None) == child.unique),
                            _line(item_node))
                if value in first:
                    raise ConfigError(f"{child.unique} {value!r} is already used (line {first[value]})",
                                      source=source, line=line, key=f"{dotted}[{i}].{child.unique}")
                first[value] = line
        return items
    try:
        return child.parse(yaml.safe_load(yaml.serialize(value_node)))
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(str(e), source=source, line=_line(value_node), key=dotted) from None


def _closest(key: str, options: Mapping[str, Any]) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, list(options), n=1, cutoff=0.7)
    return match[0] if match else None


def walk(section: Section | None = None, prefix: str = "") -> Iterator[tuple[str, Node]]:
    """Every option of the schema with its dotted key, in declaration order."""
    section = section or schema()
    for child in section.children:
        dotted = prefix + child.key
        yield dotted, child
        if isinstance(child, Section):
            yield from walk(child, dotted + ".")
        elif isinstance(child, ListOf):
            yield from walk(child.item, dotted + "[].")


SECRET = "<secret>"  # noqa: S105 - the placeholder shown instead of a secret, not one


def redacted(settings: Settings, section: Section | None = None) -> dict[str, Any]:
    """The settings as plain data, with the value of every secret option (an SNMP community) replaced
    by <secret> unless it is the documented default: what `print-config` shows, safe to paste into a
    support ticket."""
    section = section or schema()
    out: dict[str, Any] = {}
    for child in section.children:
        value = settings[child.key]
        if isinstance(child, Section):
            out[child.key] = redacted(value, child)
        elif isinstance(child, ListOf):
            out[child.key] = [redacted(item, child.item) for item in value]
        else:
            out[child.key] = SECRET if child.secret and value and value != child.default else _plain(value)
    return out


def reference_markdown() -> str:
    """The config reference table in the README is this text, checked by a test."""
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for dotted, node in walk():
        if isinstance(node, Section):
            rows.append(f"| **`{dotted}`** | section | | {node.help} |")
        elif isinstance(node, ListOf):
            rows.append(f"| **`{dotted}`** | list | `[]` | {node.help} |")
        else:
            shown = yaml.safe_dump(node.default, default_flow_style=True, allow_unicode=True).strip()
            shown = shown.removesuffix("...").strip()
            extra = ""
            if node.choices:
                extra = " One of: " + ", ".join(f"`{c}`" for c in node.choices) + "."
            rows.append(f"| `{dotted}` | {TYPES[node.type][1]} | `{shown}` | {node.help}{extra} |")
    return "\n".join(rows) + "\n"
