#!/usr/bin/env python3
"""Renders wardwatch's Prometheus rule files from alerts/config.yml (the alerts' own thresholds,
durations, selectors: the one place to change them; what the agents judge is the agents' config,
read through the series they export) and the templates in alerts/src/.

    python3 alerts/generate.py               rewrite alerts/rules/*.yml
    python3 alerts/generate.py --check       exit 1 if alerts/rules/ is not what config.yml gives
    python3 alerts/generate.py --out DIR --time-scale 60 --always-office-hours
                                             a variant for end-to-end tests: every duration of
                                             config.yml divided by 60 (15m -> 15s), office hours
                                             all day; never deployed

In a template, <<dotted.key>> is a value of config.yml and <<dotted.key|filter>> the same value
formatted: pct (0.15 -> 15%), ms (0.15 -> 150ms), seconds (3m -> 180), vi and en (15m -> 15 phút /
15 minutes).
Templates write each text twice, summary_vi/summary_en and description_vi/description_en; the
rendered rules also carry `summary` and `description`, the conventional annotations Alertmanager's
default templates, Grafana and most receivers read, in the language config.yml `language` names.
A bad config or template gives one line naming the file, line and key, and exit status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SOURCES = ("district.rules.yml", "readiness.rules.yml", "city.rules.yml")
PLACEHOLDER = re.compile(r"<<([A-Za-z0-9_.]+)(?:\|([a-z]+))?>>")
DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
UNIT_SECONDS = (604800, 86400, 3600, 60, 1)
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
LANGUAGES = ("vi", "en")
# An annotation in one language, as the templates write it (one line each).
TEXT_ANNOTATION = re.compile(r"^( +)(summary|description)_(vi|en): (.*)$", re.M)


class GenerateError(Exception):
    """A problem in config.yml or a template: printed as one line, exit status 2."""


@dataclass(frozen=True)
class Value:
    value: Any
    line: int  # 1-based line in config.yml


def load_config(path: Path) -> dict[str, Value]:
    """config.yml flattened to dotted keys, each with its line."""
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text)
    except OSError as e:
        raise GenerateError(f"{path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise GenerateError(f"{path}{where}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(root, yaml.MappingNode):
        raise GenerateError(f"{path}:1: expected a mapping of settings")
    out: dict[str, Value] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        for key_node, value_node in node.value:
            key = f"{prefix}{key_node.value}"
            if isinstance(value_node, yaml.MappingNode):
                walk(value_node, key + ".")
            else:
                out[key] = Value(yaml.safe_load(yaml.serialize(value_node)), key_node.start_mark.line + 1)

    walk(root, "")
    return out


def seconds(text: str) -> int:
    m = DURATION.match(text)
    if not text or not m:
        raise ValueError(text)
    return sum(int(n) * u for n, u in zip(m.groups(), UNIT_SECONDS, strict=True) if n)


def duration(total: int) -> str:
    """Seconds as Prometheus writes durations: 900 -> 15m, 5400 -> 1h30m."""
    parts = []
    for unit, suffix in zip(UNIT_SECONDS, "wdhms", strict=True):
        n, total = divmod(total, unit)
        if n:
            parts.append(f"{n}{suffix}")
    return "".join(parts) or "0s"


WORDS = {"vi": {"w": "tuần", "d": "ngày", "h": "giờ", "m": "phút", "s": "giây"},
         "en": {"w": "week", "d": "day", "h": "hour", "m": "minute", "s": "second"}}


def spoken(text: str, lang: str) -> str:
    """15m -> "15 phút" / "15 minutes"; 1h30m -> "1 giờ 30 phút" / "1 hour 30 minutes"."""
    words = []
    for n, unit in re.findall(r"(\d+)([wdhms])", text):
        word = WORDS[lang][unit]
        if lang == "en" and n != "1":
            word += "s"
        words.append(f"{n} {word}")
    return " ".join(words)


def number(v: float) -> str:
    return f"{v:g}"


FILTERS = {
    "pct": lambda v: f"{number(round(float(v) * 100, 4))}%",
    "ms": lambda v: f"{number(round(float(v) * 1000, 3))}ms",
    "seconds": lambda v: str(seconds(str(v))),
    "vi": lambda v: spoken(str(v), "vi"),
    "en": lambda v: spoken(str(v), "en"),
}


def office_hours_expr(cfg: dict[str, Value], source: Path) -> str:
    """A PromQL expression that is 1 inside office hours (local time) and 0 outside."""

    def get(key: str) -> Value:
        if f"office_hours.{key}" not in cfg:
            raise GenerateError(f"{source}: office_hours.{key} is missing")
        return cfg[f"office_hours.{key}"]

    offset, days, start, end = get("utc_offset_hours"), get("days"), get("start"), get("end")
    if not isinstance(offset.value, int | float) or not -14 <= offset.value <= 14:
        raise GenerateError(f"{source}:{offset.line}: office_hours.utc_offset_hours: expected hours from -14 to 14")
    if (not isinstance(days.value, list) or not days.value
            or not all(isinstance(d, int) and 0 <= d <= 6 for d in days.value)):
        raise GenerateError(f"{source}:{days.line}: office_hours.days: expected a list of 0 (Sunday) .. 6 (Saturday)")
    bounds = []
    for v, key in ((start, "start"), (end, "end")):
        m = HHMM.match(str(v.value))
        if not m:
            raise GenerateError(f"{source}:{v.line}: office_hours.{key}: expected HH:MM, got {v.value!r}")
        bounds.append(int(m[1]) * 3600 + int(m[2]) * 60)
    if bounds[0] >= bounds[1]:
        raise GenerateError(f"{source}:{end.line}: office_hours.end must be after office_hours.start")
    shift = int(round(offset.value * 3600))
    now = f"time() + {shift}" if shift >= 0 else f"time() - {-shift}"
    runs: list[list[int]] = []
    for d in sorted(set(days.value)):
        if runs and runs[-1][1] == d - 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    dow = f"day_of_week(vector({now}))"
    day_terms = [f"{dow} == {a}" if a == b else f"{dow} >= {a} <= {b}" for a, b in runs]
    day_expr = " or ".join(f"({t})" for t in day_terms) if len(day_terms) > 1 else day_terms[0]
    return (f"(vector(1) and on () ({day_expr}) and on () (vector(({now}) % 86400) >= {bounds[0]} < {bounds[1]}))"
            " or vector(0)")


def is_duration_key(key: str) -> bool:
    last = key.rsplit(".", 1)[-1]
    return last in ("for", "stale_after") or last.endswith("_window")


def validate(cfg: dict[str, Value], source: Path) -> None:
    """Types by key name, and the orderings the alerts rely on."""

    def fail(key: str, why: str) -> None:
        raise GenerateError(f"{source}:{cfg[key].line}: {key}: {why}")

    for key, v in cfg.items():
        last = key.rsplit(".", 1)[-1]
        if is_duration_key(key):
            try:
                if seconds(str(v.value)) <= 0:
                    fail(key, "must be longer than 0s")
            except ValueError:
                fail(key, f"expected a duration like 30s, 15m or 1h, got {v.value!r}")
        elif key.startswith("office_hours."):
            continue  # checked by office_hours_expr
        elif last in ("above", "below", "days") or last.startswith("min_"):
            if isinstance(v.value, bool) or not isinstance(v.value, int | float) or v.value < 0:
                fail(key, f"expected a number of at least 0, got {v.value!r}")
            if last.startswith("min_") and not isinstance(v.value, int):
                fail(key, f"expected a whole number, got {v.value!r}")
        elif last in ("problems", "wan_roles"):
            try:
                re.compile(str(v.value))
            except re.error as e:
                fail(key, f"not a valid regular expression: {e}")
        elif key == "language" and v.value not in LANGUAGES:
            fail(key, f"expected one of {', '.join(LANGUAGES)}, got {v.value!r}")
        elif key == "runbook_base_url" and not re.match(r"^https?://\S+[^/]$", str(v.value)):
            fail(key, "expected an http(s) URL without a trailing slash")

    def val(key: str) -> float:
        if key not in cfg:
            raise GenerateError(f"{source}: {key} is missing")
        return cfg[key].value

    warn, crit = val("alerts.DiskAlmostFull.warning.below"), val("alerts.DiskAlmostFull.critical.below")
    if crit >= warn:
        fail("alerts.DiskAlmostFull.critical.below", f"must be below the warning's below ({warn})")
    if seconds(val("alerts.CommuneLinkDown.for")) >= seconds(val("alerts.PCDown.for")):
        fail("alerts.CommuneLinkDown.for", "must be shorter than alerts.PCDown.for, so that the link alert "
             "reaches Alertmanager first and inhibits the PC alerts behind it")


def prepare(config: Path, time_scale: float = 1.0,
            always_office_hours: bool = False) -> tuple[dict[str, Any], set[str]]:
    """The values templates may use, and the config keys consumed without a placeholder."""
    cfg = load_config(config)
    validate(cfg, config)
    values: dict[str, Any] = {k: v.value for k, v in cfg.items()}
    if time_scale != 1.0:
        for key in values:
            if is_duration_key(key):
                values[key] = duration(max(1, int(round(seconds(str(values[key])) / time_scale))))
    values["office_hours.expr"] = "vector(1)" if always_office_hours else office_hours_expr(cfg, config)
    if "language" not in cfg:
        raise GenerateError(f"{config}: language is missing")
    derived_from = {k for k in cfg if k.startswith("office_hours.")} | {"language"}
    return values, derived_from


def render_text(template: str, values: dict[str, Any], source: str, used: set[str]) -> str:
    def sub(m: re.Match, lineno: int) -> str:
        key, filt = m[1], m[2]
        if key not in values:
            raise GenerateError(f"{source}:{lineno}: <<{key}>>: no such key in config.yml")
        used.add(key)
        v = values[key]
        if filt is None:
            return number(v) if isinstance(v, float) else str(v)
        if filt not in FILTERS:
            raise GenerateError(f"{source}:{lineno}: <<{key}|{filt}>>: unknown filter (known: {', '.join(FILTERS)})")
        return FILTERS[filt](v)

    lines = template.splitlines(keepends=True)
    return "".join(PLACEHOLDER.sub(lambda m, n=n: sub(m, n), line) for n, line in enumerate(lines, 1))


def with_conventional_annotations(text: str, language: str) -> str:
    """Before each summary_<language> / description_<language>, the same text as summary / description."""

    def sub(m: re.Match) -> str:
        indent, part, lang, value = m.groups()
        return f"{indent}{part}: {value}\n{m[0]}" if lang == language else m[0]

    return TEXT_ANNOTATION.sub(sub, text)


def header(name: str) -> str:
    return (f"# GENERATED by alerts/generate.py from alerts/config.yml and alerts/src/{name}.\n"
            "# Do not edit: change those and run `python3 alerts/generate.py`.\n")


def render(config: Path = HERE / "config.yml", src: Path = HERE / "src", time_scale: float = 1.0,
           always_office_hours: bool = False) -> dict[str, str]:
    """File name -> rendered rule file."""
    values, used = prepare(config, time_scale, always_office_hours)
    templates = {}
    for name in SOURCES:
        path = src / name
        try:
            templates[name] = path.read_text(encoding="utf-8")
        except OSError as e:
            raise GenerateError(f"{path}: {e.strerror}") from None
    # A key no template uses is most likely a typo (fro: 10m): say that before "missing key".
    referenced = {m[1] for t in templates.values() for m in PLACEHOLDER.finditer(t)}
    cfg = load_config(config)
    unused = [k for k in cfg if k not in referenced and k not in used]
    if unused:
        raise GenerateError(f"{config}:{cfg[unused[0]].line}: {unused[0]}: not used by any rule (a typo?)")
    out = {}
    for name, template in templates.items():
        path = src / name
        text = header(name) + with_conventional_annotations(render_text(template, values, str(path), used),
                                                            values["language"])
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise GenerateError(f"{path}: renders to invalid YAML: {e}") from None
        out[name] = text
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=HERE / "config.yml", help="thresholds (default: %(default)s)")
    p.add_argument("--out", type=Path, default=HERE / "rules", help="where the rule files go (default: %(default)s)")
    p.add_argument("--check", action="store_true", help="compare with --out instead of writing; exit 1 if different")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="N",
                   help="divide every duration by N (tests only)")
    p.add_argument("--always-office-hours", action="store_true", help="office hours all day (tests only)")
    args = p.parse_args(argv)
    if args.time_scale <= 0:
        p.error("--time-scale must be above 0")
    try:
        files = render(args.config, HERE / "src", args.time_scale, args.always_office_hours)
    except GenerateError as e:
        print(f"generate: {e}", file=sys.stderr)
        return 2
    if args.check:
        stale = [n for n, text in files.items()
                 if not (args.out / n).exists() or (args.out / n).read_text(encoding="utf-8") != text]
        for n in stale:
            print(f"generate: {args.out / n} differs from what {args.config} gives: run python3 alerts/generate.py",
                  file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for n, text in files.items():
        tmp = args.out / f".{n}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.out / n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
