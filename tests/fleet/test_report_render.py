"""The readiness renderers on reports built by hand: escaping, CSV formulas, the JSON
schema's strictness, durations, and the SVG charts' geometry."""

from __future__ import annotations

import copy
import csv
import io
import json
import re

import jsonschema
import pytest
from support import REPO

from fleet import readiness as rd
from fleet import report_render as rr
from fleet.svg_charts import sparkline, stacked_bars

SCHEMA = json.loads((REPO / "docs/readiness.schema.json").read_text())
NASTY = '<img src=x onerror="alert(1)">'


def report() -> rd.Report:
    crit = rd.Criteria()
    good = rd.Commune("ba_dinh", "Ba Đình", "phuc_xa", "Phúc Xá", ["pc1", "pc2"], reporting=["pc1", "pc2"],
                      pcs_spec_ok=2, pcs_client_installed=2, printers_total=1, printers_working=1, scanners_total=1,
                      scanners_working=1, wan_targets=[rd.WanTarget("dvc", "portal", "ok"),
                                                       rd.WanTarget("gw", "gateway", "ok")],
                      wan_rtt_seconds=0.031, wan_loss_ratio=0.0,
                      history=rd.History([(1000.0, 0.03), (4600.0, 0.05)], [(1000.0, 0.0), (4600.0, 0.01)]))
    bad = rd.Commune("ba_dinh", "Ba Đình", "x", NASTY, ["=cmd|calc", "pc4"], reporting=["pc4"],
                     never_seen=["=cmd|calc"], printers_total=2, printer_problems={"jammed": 1, "toner_empty": 1},
                     wan_targets=[rd.WanTarget("dvc", "portal", "down")])
    for c in (good, bad):
        c.reasons = rd.judge(c, crit)
    return rd.Report(evaluated_at=8200.0, generated_at=8201.0, prometheus="http://p:9090", inventory="inv.yml",
                     district_filter=None, commune_filter=None, criteria=crit,
                     districts=[rd.District("ba_dinh", "Ba Đình", [good, bad])], queries=12, history_seconds=7200.0)


def test_judge_lists_every_reason():
    bad = report().communes[1]
    assert bad.reasons == ["no_pc_meets_spec", "no_working_printer", "no_working_scanner", "wan_down",
                           "client_missing"]
    assert rd.judge(rd.Commune("d", "D", "c", "C", []), rd.Criteria()) == ["no_pcs"]
    assert rd.judge(rd.Commune("d", "D", "c", "C", ["a"]), rd.Criteria()) == ["pcs_not_reporting"]


def test_html_escapes_inventory_names_and_loads_nothing():
    html = rr.render_html(report(), "en")
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<script" not in html and "http://" not in html.replace("http://p:9090", "").replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert "the 2 hours up to the evaluation time" in html


def test_csv_neutralises_formulas_and_parses_back():
    rows = list(csv.DictReader(io.StringIO(rr.render_csv(report(), "en").lstrip("\ufeff"))))
    assert [r["verdict"] for r in rows] == ["READY", "NOT_READY"]
    assert rows[1]["not_reporting"] == "'=cmd|calc"
    assert rows[1]["reasons"] == "no_pc_meets_spec;no_working_printer;no_working_scanner;wan_down;client_missing"
    assert "jammed 1, toner empty 1" in rows[1]["reasons_text"]
    assert rows[0]["wan_rtt_ms"] == "31" and rows[0]["wan_loss_percent"] == "0.0"
    assert list(rows[0]) == list(rr.CSV_COLUMNS)


def test_json_schema_is_strict():
    doc = rr.to_doc(report(), "vi")
    jsonschema.validate(doc, SCHEMA)
    assert doc["communes"][0]["wan"]["history"]["rtt_seconds"] == [[1000.0, 0.03], [4600.0, 0.05]]
    assert doc["communes"][1]["reasons"][0] == {"code": "no_pc_meets_spec",
                                                "text": "không máy nào đạt cấu hình tối thiểu (0/1 máy đang báo)"}
    for mutate in (lambda d: d.update(extra=1),
                   lambda d: d["communes"][0].pop("verdict"),
                   lambda d: d["communes"][0]["pcs"].update(renamed=1),
                   lambda d: d["communes"][0]["reasons"].append({"code": "made_up", "text": ""}),
                   lambda d: d.update(schema_version=2)):
        broken = copy.deepcopy(doc)
        mutate(broken)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_durations_in_both_languages():
    assert rr.fmt_duration(7 * 86400, "en") == "7 days" and rr.fmt_duration(7 * 86400, "vi") == "7 ngày"
    assert rr.fmt_duration(86400, "en") == "1 day" and rr.fmt_duration(5400, "en") == "90 minutes"
    assert rr.fmt_duration(600, "vi") == "10 phút"


def test_sparkline_breaks_at_gaps_and_scales():
    svg = sparkline([(0, 0.0), (10, 1.0), (20, 0.5), (80, 0.5), (90, 1.0)], 0, 100, width=104, height=24, gap=15)
    d = re.search(r' d="([^"]+)"', svg).group(1)
    assert d == "M2.0 22.0L12.0 2.0L22.0 12.0M82.0 12.0L92.0 2.0"
    assert "<circle" in sparkline([(50, 1.0)], 0, 100)
    assert "<path" not in sparkline([], 0, 100)


def test_bars_are_proportional():
    svg = stacked_bars([("A", 3, 1), ("B", 0, 2)], ("ready", "not ready"), "t", width=440)
    widths = [float(w) for w in re.findall(r'<rect class="[a-z-]+" x="[\d.]+" y="\d+" width="([\d.]+)"', svg)]
    assert widths == pytest.approx([150.0, 50.0, 100.0])  # plot width 200 for a maximum of 4
