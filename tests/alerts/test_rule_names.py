"""Every metric and label the rules (and any dashboard) read exists: a metric is in the catalogue
(exporters/metrics.csv), a recording rule, or one of the few series wardwatch does not emit itself;
each label of a selector is one its metric carries (catalogued, or added by the scrape), and every
label of a `by`/`on`/... list or a `$labels.x` in a text is one some series carries or a rule makes.
A renamed metric or label in the agent then fails here, not silently in production."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator

import pytest
import yaml
from alerting_support import ALERTS
from promql_names import names
from support import REPO

from exporters import catalogue

# Labels every scraped series carries: Prometheus's job and instance, and the inventory's target
# labels (fleet/targets.py: district, commune, role, instance).
TARGET_LABELS = frozenset({"job", "instance", "district", "commune", "role"})
# Series the rules read that wardwatch's agent does not emit, with the labels they carry.
OTHER_SERIES = {
    "up": TARGET_LABELS,                                      # Prometheus, per scrape target
    "probe_success": TARGET_LABELS,                           # blackbox_exporter probing the routers
    # The Pushgateway, per group pushed: the grouping key (agent config push.job, instance, grouping).
    "push_time_seconds": frozenset({"job", "instance", "district", "commune", "role"}),
    "ALERTS": frozenset({"alertname", "alertstate"}),         # Prometheus, alerts' state (+ the alert's labels)
}
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__"}


def external_labels() -> frozenset[str]:
    """The labels a district server adds to everything it remote-writes or federates
    (prometheus-district.yml `external_labels`): the city's rules may read them."""
    cfg = yaml.safe_load((ALERTS / "prometheus-district.yml").read_text(encoding="utf-8"))
    return frozenset(cfg["global"]["external_labels"])


def rules() -> list[dict]:
    out = []
    for path in sorted((ALERTS / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            out += [dict(r, _where=f"alerts/rules/{path.name}: {r.get('alert') or r.get('record')}")
                    for r in group["rules"]]
    return out


def dashboard_files() -> Iterator[os.PathLike]:
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        if "dashboards" in os.path.relpath(root, REPO).split(os.sep):
            yield from (os.path.join(root, f) for f in sorted(files) if f.endswith(".json"))


def dashboard_queries(doc: object, where: str) -> Iterator[tuple[str, str]]:
    """Every PromQL string of a Grafana dashboard: panel targets' expr, template variables' query."""
    if isinstance(doc, dict):
        if "templating" in where and doc.get("type") == "datasource":
            return  # a data source variable: its query is a plugin type, not PromQL
        for key, value in doc.items():
            if key == "expr" and isinstance(value, str) and value.strip():
                yield f"{where}: expr", value
            elif key == "query" and isinstance(value, str) and value.strip() and "templating" in where:
                yield f"{where}: query", re.sub(r"^\s*query_result\((.*)\)\s*$", r"\1", value, flags=re.S)
            else:
                yield from dashboard_queries(value, where + ("/templating" if key == "templating" else ""))
    elif isinstance(doc, list):
        for item in doc:
            yield from dashboard_queries(item, where)


def problems(exprs: list[tuple[str, str]], texts: list[tuple[str, str]], records: set[str],
             rule_labels: set[str]) -> list[str]:
    """What `exprs` (where, PromQL) and `texts` (where, annotation) use that nothing provides."""
    samples = catalogue.sample_index()
    parsed = [(where, names(expr)) for where, expr in exprs]
    made = {label for _, n in parsed for label in n.labels_made}
    every_label = (TARGET_LABELS | {"__name__"} | {label for _, ls in samples.values() for label in ls}
                   | {label for ls in OTHER_SERIES.values() for label in ls} | made | rule_labels
                   | external_labels())
    out = []
    for where, n in parsed:
        for metric, labels in n.selectors:
            if metric is None or metric in records:
                allowed = every_label
            elif metric in samples:
                allowed = TARGET_LABELS | set(samples[metric][1]) | {"__name__"}
            elif metric in OTHER_SERIES:
                allowed = OTHER_SERIES[metric] | (every_label if metric == "ALERTS" else set())
            else:
                out.append(f"{where}: metric {metric} is not in exporters/metrics.csv nor a recording rule")
                continue
            out += [f"{where}: {metric or 'selector'} has no label {label}" for label in labels
                    if label not in allowed]
        out += [f"{where}: label {label} is on no series" for label in sorted(n.labels_read - every_label)]
    for where, text in texts:
        out += [f"{where}: $labels.{label} is on no series" for label in re.findall(r"\$labels\.(\w+)", text)
                if label not in every_label]
    return out


def rule_inputs() -> tuple[list[tuple[str, str]], list[tuple[str, str]], set[str], set[str]]:
    rs = rules()
    exprs = [(r["_where"], str(r["expr"])) for r in rs]
    texts = [(f"{r['_where']} {k}", v) for r in rs for k, v in r.get("annotations", {}).items()]
    records = {r["record"] for r in rs if "record" in r}
    rule_labels = {k for r in rs for k in r.get("labels", {})}
    return exprs, texts, records, rule_labels


def test_the_rules_and_dashboards_read_only_what_exists():
    exprs, texts, records, rule_labels = rule_inputs()
    assert len(exprs) > 40 and records
    for path in dashboard_files():
        doc = json.loads(open(path, encoding="utf-8").read())
        exprs += list(dashboard_queries(doc, os.path.relpath(path, REPO)))
    assert not (found := problems(exprs, texts, records, rule_labels)), "\n".join(found)


def test_every_catalogued_metric_the_rules_name_is_one_of_the_agents():
    """The check is not vacuous: the rules do read the agent's metrics and labels by name."""
    exprs, _, records, _ = rule_inputs()
    used = {m for _, e in exprs for m, _ in names(e).selectors}
    assert {"wardwatch_wan_threshold", "wardwatch_printer_problem", "wardwatch_wan_rtt_seconds_sum",
            "wardwatch_spec_requirement_met", "up"} <= used
    labels = {label for _, e in exprs for _, ls in names(e).selectors for label in ls}
    assert {"threshold", "problem", "job", "role"} <= labels


@pytest.mark.parametrize(("expr", "text", "expected"), [
    ('wardwatch_wan_rtt_medain_seconds{job="wardwatch"} > 0.2', "",
     "x: metric wardwatch_wan_rtt_medain_seconds is not in exporters/metrics.csv nor a recording rule"),
    ('wardwatch_printer_problem{job="wardwatch", problm="toner_low"} == 1', "",
     "x: wardwatch_printer_problem has no label problm"),
    # A label another metric has is still not this metric's.
    ('wardwatch_spec_ok{printer="a"}', "", "x: wardwatch_spec_ok has no label printer"),
    ("max by (district, comune) (wardwatch_scanner_up)", "", "x: label comune is on no series"),
    ('label_replace(wardwatch_scanner_up, "device", "$1", "scaner", "(.*)")', "",
     "x: label scaner is on no series"),
    ("wardwatch_scanner_up == 0", "Máy quét {{ $labels.scaner }}", "t: $labels.scaner is on no series"),
])
def test_a_misspelt_name_is_found(expr, text, expected):
    found = problems([("x", expr)], [("t", text)] if text else [], set(), set())
    assert found == [expected]


def test_names_made_by_the_rules_themselves_are_known():
    expr = 'label_replace(wardwatch_scanner_up == 0, "device", "$1", "scanner", "(.*)")'
    texts = [("t", "{{ $labels.device }} {{ $labels.scope }}")]
    assert problems([("x", expr), ("y", 'commune:wardwatch_pcs:count{district="a"}')], texts,
                    {"commune:wardwatch_pcs:count"}, {"scope"}) == []


def test_dashboard_queries_are_read_from_panels_and_template_variables():
    doc = {"panels": [{"type": "row", "panels": [{"targets": [
        {"expr": 'sum by (commune) (wardwatch_printer_up{district=~"$district"})', "refId": "A"}]}]}],
        "templating": {"list": [
            {"name": "commune", "query": {"query": "label_values(wardwatch_pc_info{district=~\"$district\"}, comune)"}},
            {"name": "pc", "query": "label_values(up{job=\"wardwatch\"}, instance)"}]}}
    queries = list(dashboard_queries(doc, "d.json"))
    assert [q for _, q in queries] == [
        'sum by (commune) (wardwatch_printer_up{district=~"$district"})',
        'label_values(wardwatch_pc_info{district=~"$district"}, comune)',
        'label_values(up{job="wardwatch"}, instance)']
    assert problems(queries, [], set(), set()) == ["d.json/templating: query: label comune is on no series"]
