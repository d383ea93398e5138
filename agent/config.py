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

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from agent.collectors import REGISTRY  # the explicit list of collectors (they import agent.options, not this)
from agent.options import (  # the declaration language, also used here as cfg.Option, cfg.ConfigError...
    DEFAULT_PORT,
    TYPES,
    ConfigError,
    InvalidSettingError,
    ListOf,
    Node,
    Option,
    Section,
    Settings,
    _plain,
)
from agent.syntax import closest

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
    Option("printer_waste_nearly_full_ratio", "float", 0.9,
           "A waste receptacle at or above this fraction full is reported nearly full (waste_nearly_full).",
           minimum=0, maximum=1),
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
            hint = closest(key, children)
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
