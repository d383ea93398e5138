"""`wardwatch report weekly` against a real Prometheus holding a scripted fortnight of a
simulated fleet (tests/fleet_sim.py's model): outages, printer failures, link drops, some at
night, at the weekend and on a holiday, one still open at the end of the week. The agents'
series are written as TSDB blocks, then the real rules (alerts/rules/) evaluated over them
(tests/rule_backfill.py), recording rules and ALERTS alike.

The expected figures come from the script alone: which reasons hold each office minute
(fleet_sim's `truth()`, not the rules), and when each alert must fire and end (the script's
intervals, the office hours for the alerts that count only then, and their `for:` in
alerts/config.yml). They must equal the report's, to the scrape interval."""

from __future__ import annotations

import bisect
import copy
import csv
import datetime as dt
import importlib.util
import io
import json
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml
from fleet_sim import DOWN, UP, Fleet
from rule_backfill import Blocks, with_rules
from support import REPO

from fleet.report import calendar as cal_mod
from fleet.report import weekly as wk

SCHEMA = json.loads((REPO / "docs/weekly-report.schema.json").read_text())
TZ = dt.timezone(dt.timedelta(hours=7))
STEP = 60
WEEK = "2026-W48"                                  # Monday 23 to Sunday 29 November 2026
HOLIDAY = dt.date(2026, 11, 26)                    # Thursday, declared a holiday in the test's config
DATA_START = dt.datetime(2026, 11, 16, tzinfo=TZ)  # the previous week's Monday
DATA_END = dt.datetime(2026, 11, 30, 2, tzinfo=TZ)  # two hours into the next week
CONFIG = yaml.safe_load((REPO / "alerts/config.yml").read_text())


def t(day: int, hh: int, mm: int = 0) -> float:
    """Unix time of 2026-11-<day> hh:mm, office time (UTC+7)."""
    return dt.datetime(2026, 11, day, hh, mm, tzinfo=TZ).timestamp()


@dataclass(frozen=True)
class Event:
    kind: str       # outage, printer, scanner, portal_down, gateway_down, gateway_degraded, client
    district: str
    commune: str
    start: float
    end: float


SCRIPT = [
    Event("client", "ba_dinh", "truc_bach", t(16, 10), t(16, 12)),            # previous week, 120 min
    Event("outage", "ba_dinh", "phuc_xa", t(23, 9), t(23, 11, 30)),           # Monday morning
    Event("printer", "ba_dinh", "truc_bach", t(24, 14), t(25, 10)),           # Tuesday 14:00 to Wednesday 10:00
    Event("scanner", "cau_giay", "xuan_la", t(24, 20), t(24, 23)),            # Tuesday night: never counts
    Event("portal_down", "cau_giay", "dich_vong", t(25, 13), t(25, 13, 40)),  # Wednesday, a link drop
    Event("printer", "cau_giay", "xuan_la", t(26, 10), t(26, 11)),            # Thursday, the holiday
    Event("gateway_degraded", "ba_dinh", "phuc_xa", t(27, 8, 30), t(27, 9, 30)),
    Event("gateway_down", "cau_giay", "xuan_la", t(27, 15), DATA_END.timestamp() + 3600),  # still open
    Event("outage", "ba_dinh", "truc_bach", t(28, 9), t(28, 12)),             # Saturday: never counts
]


def build_fleet() -> Fleet:
    f = Fleet()
    for district, dname, commune, cname, n in (("ba_dinh", "Ba Đình", "phuc_xa", "Phúc Xá", 2),
                                               ("ba_dinh", "Ba Đình", "truc_bach", "Trúc Bạch", 2),
                                               ("cau_giay", "Cầu Giấy", "dich_vong", "Dịch Vọng", 2),
                                               ("cau_giay", "Cầu Giấy", "xuan_la", "Xuân La", 1)):
        c = f.add_commune(district, dname, commune, cname)
        for i in range(n):
            f.add_pc(c, f"{commune.replace('_', '-')}-{i + 1:02d}")
    f.add_commune("cau_giay", "Cầu Giấy", "quan_thanh", "Quán Thánh")  # in the inventory, no data at all
    return f


def apply(fleet: Fleet, e: Event) -> None:
    for name in fleet.communes[(e.district, e.commune)].pcs:
        pc = fleet.pcs[name]
        if e.kind == "outage":
            pc.state = DOWN
        elif e.kind == "printer":
            for p in pc.printers:
                p.up, p.problems = False, ("jammed",)
        elif e.kind == "scanner":
            for s in pc.scanners:
                s.up = False
        elif e.kind == "client":
            pc.vclient = False
        else:
            role = "portal" if e.kind == "portal_down" else "gateway"
            for w in pc.wan:
                if w.role == role:
                    if e.kind == "gateway_degraded":
                        w.degraded = True
                    else:
                        w.up = False


class Timeline:
    """The fleet's state at any instant: constant between the script's breakpoints."""

    def __init__(self, make: Callable[[], Fleet], script: list[Event]):
        cuts = sorted({e.start for e in script} | {e.end for e in script})
        self.cuts = cuts
        self.states = []
        for i in range(len(cuts) + 1):
            at = cuts[i - 1] if i else float("-inf")
            f = make()
            for e in script:
                if e.start <= at < e.end:
                    apply(f, e)
            self.states.append(f)

    def at(self, ts: float) -> Fleet:
        return self.states[bisect.bisect_right(self.cuts, ts)]


def agent_series(timeline: Timeline, blocks: Blocks, start: float, end: float) -> None:
    """The series a district Prometheus would hold for each PC, every STEP seconds (a PC down
    answers no scrape: up 0; its last values stay, as they do within Prometheus's lookback)."""
    grid = [start + i * STEP for i in range(int((end - start) // STEP))]
    base = timeline.states[0]
    for name, pc in base.pcs.items():
        target = {"job": "wardwatch", "instance": name, "district": pc.district, "commune": pc.commune}
        pcs = [(ts, timeline.at(ts).pcs[name]) for ts in grid]
        blocks.add("up", {**target, "role": "pc"}, [(ts, int(p.state == UP)) for ts, p in pcs])
        blocks.add("wardwatch_spec_ok", {**target, "role": "pc"}, [(ts, int(p.spec_ok)) for ts, p in pcs])
        blocks.add("wardwatch_vclient_installed", {**target, "role": "pc", "product": "vdi-client"},
                   [(ts, int(bool(p.vclient))) for ts, p in pcs])
        for i, pr in enumerate(pc.printers):
            blocks.add("wardwatch_printer_up", {**target, "role": "pc", "printer": pr.name},
                       [(ts, int(p.printers[i].up)) for ts, p in pcs])
            blocks.add("wardwatch_printer_problem", {**target, "role": "pc", "printer": pr.name, "problem": "jammed"},
                       [(ts, int("jammed" in p.printers[i].problems)) for ts, p in pcs])
        for i, sc in enumerate(pc.scanners):
            blocks.add("wardwatch_scanner_up", {**target, "role": "pc", "scanner": sc.name},
                       [(ts, int(p.scanners[i].up)) for ts, p in pcs])
        for i, w in enumerate(pc.wan):
            lab = {**target, "target": w.name, "role": w.role}
            blocks.add("wardwatch_wan_up", lab, [(ts, int(p.wan[i].up)) for ts, p in pcs])
            blocks.add("wardwatch_wan_degraded", lab, [(ts, int(p.wan[i].degraded)) for ts, p in pcs])


# --- what the script says -----------------------------------------------------------------

def office(ts: float) -> bool:
    local = dt.datetime.fromtimestamp(ts, TZ)
    return local.isoweekday() <= 5 and 8 <= local.hour < 17


def expected_minutes(timeline: Timeline, days: list[dt.date]) -> dict[tuple[str, str], dict[str, float]]:
    """Per commune: office minutes, minutes READY and per reason, from fleet_sim's truth()."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    truths: dict[int, dict] = {}
    for day in days:
        if day.isoweekday() > 5 or day == HOLIDAY:
            continue
        t0 = dt.datetime.combine(day, dt.time(8), TZ).timestamp()
        for i in range(9 * 60):
            ts = t0 + i * 60
            f = timeline.at(ts)
            truth = truths.setdefault(id(f), f.truth())
            for key, reasons in truth.items():
                if reasons == ["no_pcs"]:
                    continue  # no series at all: see the test
                m = out.setdefault(key, {"office": 0, "ready": 0} | {r: 0 for r in wk.REASONS})
                m["office"] += 1
                m["ready"] += not reasons
                for r in reasons:
                    m[r] += 1
    return out


GATED = {"PCDown", "CommuneLinkDown", "PrinterProblem", "ScannerDown", "NoWorkingPrinter", "NoWorkingScanner"}


def alert_for(name: str) -> float:
    return wk_seconds(CONFIG["alerts"][name]["for"])


def wk_seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhd])", text))


def expected_incidents(fleet: Fleet) -> list[tuple[str, str, str, float, float | None]]:
    """(alert, commune, subject, start, end or None) of every firing the script causes."""
    out = []
    week_end = dt.datetime(2026, 11, 30, tzinfo=TZ).timestamp()
    for e in SCRIPT:
        pcs = fleet.communes[(e.district, e.commune)].pcs
        alerts: list[tuple[str, str]] = {
            "outage": [("CommuneLinkDown", "")] * (len(pcs) >= 2) + [("PCDown", p) for p in pcs],
            "printer": [("NoWorkingPrinter", "")] + [("PrinterProblem", p) for p in pcs],
            "scanner": [("NoWorkingScanner", "")] + [("ScannerDown", p) for p in pcs],
            "portal_down": [("PortalUnreachable", "")],
            "gateway_down": [("VirtualizationGatewayUnreachable", "")],
            "gateway_degraded": [],
            "client": [("VirtualClientMissing", p) for p in pcs],
        }[e.kind]
        for name, subject in alerts:
            hold = alert_for(name)
            spans = [(e.start, e.end)]
            if name in GATED:  # only inside office hours: cut at each day's 08:00 and 17:00
                spans = []
                day = dt.datetime.fromtimestamp(e.start, TZ).date()
                while dt.datetime.combine(day, dt.time(), TZ).timestamp() < e.end:
                    a = dt.datetime.combine(day, dt.time(8), TZ).timestamp()
                    b = dt.datetime.combine(day, dt.time(17), TZ).timestamp()
                    if day.isoweekday() <= 5 and max(a, e.start) < min(b, e.end):
                        spans.append((max(a, e.start), min(b, e.end)))
                    day += dt.timedelta(days=1)
            for a, b in spans:
                if b - a > hold:
                    out.append((name, e.commune, subject, a + hold, None if b >= week_end else b))
    return out


# --- the fixture --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("weekly")
    fleet = build_fleet()
    timeline = Timeline(build_fleet, SCRIPT)
    start, end = DATA_START.timestamp(), DATA_END.timestamp()
    blocks = Blocks(tmp)
    agent_series(timeline, blocks, start, end)
    config = tmp / "config.yml"
    doc = copy.deepcopy(CONFIG)
    doc["office_hours"]["holidays"] = [HOLIDAY.isoformat()]
    config.write_text(yaml.safe_dump(doc, allow_unicode=True))
    inventory = tmp / "inventory.yml"
    inventory.write_text(fleet.inventory_yaml())
    rules = [REPO / "alerts/rules/district.rules.yml", REPO / "alerts/rules/readiness.rules.yml"]
    with with_rules(tmp, blocks, rules, start, end - STEP, STEP,
                    keep=lambda r: not r.get("record", "").startswith("district:")) as prom:
        yield {"fleet": fleet, "timeline": timeline, "prom": prom, "config": config, "inventory": inventory,
               "tmp": tmp}


def wardwatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fleet", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "WARDWATCH_INVENTORY": ""}, timeout=300)


def report(env, *extra: str, fmt: str = "json", lang: str = "en") -> subprocess.CompletedProcess:
    r = wardwatch("report", "weekly", "--week", WEEK, "--prometheus", env["prom"], "--config", str(env["config"]),
                  "--inventory", str(env["inventory"]), "--format", fmt, "--lang", lang, *extra)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def doc(env):
    r = report(env)
    d = json.loads(r.stdout)
    jsonschema.validate(d, SCHEMA)
    assert "weekly report: [" in r.stderr  # progress on stderr
    return d


def local(text: str | None) -> float | None:
    return None if text is None else dt.datetime.fromisoformat(text).timestamp()


# --- the tests ------------------------------------------------------------------------------------

def test_availability_and_minutes_by_reason_equal_the_script(env, doc):
    week = [dt.date(2026, 11, 23) + dt.timedelta(days=i) for i in range(7)]
    expected = expected_minutes(env["timeline"], week)
    got = {(c["district"], c["commune"]): c for c in doc["communes"]}
    assert set(got) == set(expected) | {("cau_giay", "quan_thanh")}
    # a commune of the inventory without any series: no data, never READY
    assert got[("cau_giay", "quan_thanh")]["minutes"] == {
        "office": 2160, "ready": 0, "not_ready": 0, "no_data": 2160, "by_reason": {r: 0 for r in wk.REASONS}}
    assert got[("cau_giay", "quan_thanh")]["availability"] == 0
    for key, e in expected.items():
        c = got[key]
        assert c["minutes"]["office"] == e["office"] == 4 * 540  # Monday..Friday but the holiday
        assert c["minutes"]["ready"] == pytest.approx(e["ready"], abs=1), key
        assert c["minutes"]["no_data"] == 0, key
        for r in wk.REASONS:
            assert c["minutes"]["by_reason"][r] == pytest.approx(e[r], abs=1), (key, r)
        assert c["availability"] == pytest.approx(e["ready"] / e["office"], abs=1 / e["office"])
    # the figures the script was written for (office minutes only)
    by = {c["commune"]: c["minutes"] for c in doc["communes"]}
    assert by["phuc_xa"]["by_reason"]["pcs_not_reporting"] == pytest.approx(150, abs=1)   # Monday 09:00-11:30
    assert by["phuc_xa"]["by_reason"]["wan_degraded"] == pytest.approx(60, abs=1)
    assert by["truc_bach"]["by_reason"]["no_working_printer"] == pytest.approx(180 + 120, abs=1)
    assert by["dich_vong"]["by_reason"]["wan_down"] == pytest.approx(40, abs=1)
    assert by["xuan_la"]["by_reason"]["wan_down"] == pytest.approx(120, abs=1)            # Friday 15:00-17:00
    # night, weekend and holiday events count nowhere
    assert by["xuan_la"]["by_reason"]["no_working_scanner"] == 0                           # Tuesday night
    assert by["truc_bach"]["by_reason"]["pcs_not_reporting"] == 0                          # Saturday
    assert by["xuan_la"]["by_reason"]["no_working_printer"] == 0                           # the holiday
    # lowest availability first; roll-ups are the sums
    ranks = [c["availability"] for c in doc["communes"]]
    assert ranks == sorted(ranks) and [c["commune"] for c in doc["communes"][:2]] == ["quan_thanh", "truc_bach"]
    ready = sum(e["ready"] for e in expected.values())
    assert doc["city"]["availability"] == pytest.approx(ready / (5 * 2160), abs=4 / (5 * 2160))
    assert doc["city"]["minutes"]["no_data"] == 2160
    dist = {d["district"]: d for d in doc["districts"]}
    ba_dinh = [e for k, e in expected.items() if k[0] == "ba_dinh"]
    assert dist["ba_dinh"]["availability"] == pytest.approx(sum(e["ready"] for e in ba_dinh) / (2 * 2160),
                                                            abs=2 / (2 * 2160))
    assert doc["period"]["holidays"] == [HOLIDAY.isoformat()]


def test_change_from_the_previous_week(env, doc):
    prev = {(c["district"], c["commune"]): c for c in doc["communes"]}
    # the previous week: only truc_bach's client missing on Monday 16 10:00-12:00 (5 office days)
    assert prev[("ba_dinh", "truc_bach")]["previous_availability"] == pytest.approx((2700 - 120) / 2700, abs=1 / 2700)
    assert prev[("ba_dinh", "phuc_xa")]["previous_availability"] == 1.0
    c = prev[("ba_dinh", "phuc_xa")]
    assert c["change"] == pytest.approx(c["availability"] - 1.0, abs=1e-6) and c["change"] < 0
    assert doc["previous_period"] == {"label": "2026-W47", "from": "2026-11-16", "to": "2026-11-22"}
    assert doc["city"]["previous_incidents"] == 2  # VirtualClientMissing on both PCs of truc_bach


def test_incidents_and_times_to_restore_equal_the_script(env, doc):
    expected = sorted(i for i in expected_incidents(env["fleet"]) if i[3] >= dt.datetime(2026, 11, 23, tzinfo=TZ)
                      .timestamp())
    got = sorted((i["alertname"], i["commune"], i["labels"].get("instance", ""), local(i["start"]), local(i["end"]))
                 for i in doc["incidents"] if i["alertname"] in {e[0] for e in expected} | GATED
                 | {"VirtualClientMissing"})
    assert [g[:3] for g in got] == [e[:3] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g[3] == pytest.approx(e[3], abs=STEP), g
        assert (g[4] is None) == (e[4] is None), g
        if e[4] is not None:
            assert g[4] == pytest.approx(e[4], abs=STEP), g
    # night, weekend: nothing fired; the holiday's printer failure did (the alerts know no holidays)
    assert not [i for i in doc["incidents"] if i["alertname"] in ("ScannerDown", "NoWorkingScanner")]
    assert not [i for i in doc["incidents"] if i["commune"] == "truc_bach" and i["alertname"] == "PCDown"]
    assert [i["commune"] for i in doc["incidents"] if i["alertname"] == "NoWorkingPrinter"].count("xuan_la") == 1
    # the one still open at the end of the week
    still = [i for i in doc["incidents"] if i["open"]]
    assert [(i["alertname"], i["commune"], i["end"], i["ttr_minutes"]) for i in still] == [
        ("VirtualizationGatewayUnreachable", "xuan_la", None, None)]
    # times to restore: per incident, median and worst per cause and district
    ttr = {}
    for name, _commune, _s, a, b in expected:
        if b is not None:
            ttr.setdefault(name, []).append((b - a) / 60)
    by_cause = {x["cause"]: x for x in doc["ttr_by_cause"]}
    for name, values in ttr.items():
        assert by_cause[name]["median_minutes"] == pytest.approx(statistics.median(values), abs=1), name
        assert by_cause[name]["worst_minutes"] == pytest.approx(max(values), abs=1), name
    assert by_cause["CommuneLinkDown"]["worst_minutes"] == pytest.approx(145, abs=1)
    assert by_cause["NoWorkingPrinter"]["resolved"] == 3  # Tuesday, Wednesday, and the holiday
    assert by_cause["VirtualizationGatewayUnreachable"] == {
        "cause": "VirtualizationGatewayUnreachable", "incidents": 1, "resolved": 0, "open": 1,
        "median_minutes": None, "worst_minutes": None}
    by_district = {x["district"]: x for x in doc["ttr_by_district"]}
    cau_giay = [(b - a) / 60 for name, c, _s, a, b in expected if b is not None and c in ("dich_vong", "xuan_la")]
    assert by_district["cau_giay"]["median_minutes"] == pytest.approx(statistics.median(cau_giay), abs=1)
    assert by_district["cau_giay"]["worst_minutes"] == pytest.approx(max(cau_giay), abs=1)


def test_a_bounded_number_of_queries(doc):
    # READY, data and 7 reasons over the week; READY and data over the previous week; ALERTS over
    # both weeks at one minute (20,160 points: two chunks under Prometheus's 11,000)
    assert doc["queries"] == 2 + 7 + 2 + 2


def test_csv_for_the_spreadsheet(env, doc):
    r = report(env, fmt="csv", lang="vi")
    assert r.stdout.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(r.stdout[1:])))
    assert [row["commune"] for row in rows] == [c["commune"] for c in doc["communes"]]
    first = rows[1]
    c = doc["communes"][1]
    assert float(first["availability_percent"]) == pytest.approx(c["availability"] * 100, abs=0.001)
    assert float(first["minutes_no_working_printer"]) == c["minutes"]["by_reason"]["no_working_printer"]
    assert first["commune_name"] == "Trúc Bạch"


def test_texts_in_both_languages(env):
    vi = report(env, fmt="table", lang="vi").stdout
    en = report(env, fmt="table", lang="en").stdout
    assert "Báo cáo tuần" in vi and "chưa khắc phục" in vi and "Toàn thành phố" in vi
    assert "Weekly report" in en and "still open" in en and "City:" in en
    assert "2026-11-27 15:05" in en  # times in the office's time zone


def test_html_opens_offline_in_chromium_with_tables_and_charts(env, doc, tmp_path):
    spec = importlib.util.spec_from_file_location("readiness_tests", Path(__file__).with_name("test_readiness.py"))
    readiness_tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(readiness_tests)  # its headless Chromium and PNG reader
    chromium, decode_png = readiness_tests.chromium, readiness_tests.decode_png
    out = tmp_path / "week.html"
    report(env, "--out", str(out), fmt="html", lang="vi")
    html = out.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html) and "<script" not in html
    dom, png = chromium(out, tmp_path)
    rows = re.findall(r'<tr class="commune[^"]*" data-district="([a-z_]+)" data-commune="([a-z_]+)"', dom)
    assert [c for _, c in rows] == [c["commune"] for c in doc["communes"]]
    assert len(re.findall(r'<tr class="incident', dom)) == len(doc["incidents"])
    assert dom.count(">chưa khắc phục<") == 1
    bars = re.search(r'<figure id="chart-districts">(.*?)</figure>', dom, re.S).group(1)
    assert bars.count('class="available"') == 2
    assert re.search(r'<figure id="chart-reasons">.*class="reason" data-key="no_working_printer"', dom, re.S)
    assert len(re.findall(r'<svg class="chart days"', dom)) == 5
    width, height, pixels = decode_png(png)
    assert width == 1280 and height > 500
    assert (0x2E, 0x7D, 0x32) in pixels and (0xC6, 0x28, 0x28) in pixels


def test_bad_input_is_one_line(env, tmp_path):
    cases = [
        (["--week", "2026-W60"], "--week"),
        (["--week", WEEK, "--config", str(tmp_path / "none.yml")], "none.yml"),
        (["--from", "2026-11-29", "--to", "2026-11-23"], "--to"),
        (["--week", WEEK, "--step", "7"], "--step"),
    ]
    for args, text in cases:
        extra = [] if "--config" in args else ["--config", str(env["config"])]
        r = wardwatch("report", "weekly", "--prometheus", env["prom"], "-q", *extra, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and text in r.stderr, r.stderr
    bad = tmp_path / "config.yml"
    bad.write_text("office_hours: {utc_offset_hours: 7, days: [1], start: '08:00', end: '17:00', "
                   "holidays: [2026-13-01]}\n")
    r = wardwatch("report", "weekly", "--prometheus", env["prom"], "--config", str(bad), "-q")
    assert r.returncode == 2 and "office_hours.holidays" in r.stderr


def test_reasons_are_those_of_the_rules():
    rules = yaml.safe_load((REPO / "alerts/src/readiness.rules.yml").read_text())
    recorded = [r for g in rules["groups"] for r in g["rules"] if "record" in r]
    assert [r["labels"]["reason"] for r in recorded if r["record"] == wk.REASON_RULE] == list(wk.REASONS)
    assert any(r["record"] == wk.READY_RULE for r in recorded)


def test_weeks_and_the_calendar():
    cal = cal_mod.load_calendar(REPO / "alerts/config.yml")
    assert cal_mod.iso_week("2026-W48").first == dt.date(2026, 11, 23)
    assert cal_mod.iso_week("2026-W01").first == dt.date(2025, 12, 29)
    assert cal_mod.last_week(cal, dt.datetime(2026, 12, 2, 9, tzinfo=TZ).timestamp()).label == "2026-W48"
    # Monday 00:30 in Hanoi is still Sunday in UTC: the office's time zone decides
    assert cal_mod.last_week(cal, dt.datetime(2026, 11, 30, 0, 30, tzinfo=TZ).timestamp()).label == "2026-W48"
    assert cal_mod.iso_week("2026-W48").previous().label == "2026-W47"
    assert not cal.is_office_time(t(23, 7, 59)) and cal.is_office_time(t(23, 8)) and not cal.is_office_time(t(23, 17))
    assert not cal.is_office_time(t(28, 10))  # Saturday
