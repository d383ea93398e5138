"""The dashboards and the city tier, end to end (docs/city-tier.md):

fleet simulator --scrape--> district Prometheus (alerts/prometheus-district.yml, the rendered rules)
                --remote_write (its production filter)--> VictoriaMetrics <--> vmalert (readiness.rules.yml)

Every panel query of every dashboard (dashboards/*.json, template variables set to real values
of the fleet) returns data from the district Prometheus and from the city VictoriaMetrics; the
template variables chain on both; the committed JSON is the generator's output; and
`wardwatch readiness` gives the same verdicts and reasons against VictoriaMetrics as against
Prometheus, both equal to the simulator's ground truth."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time

import pytest
from alerting_support import district_prometheus_config, render_rules
from fleet_sim import DOWN, UNSEEN, Fleet, Printer, serve
from support import REPO, free_port, prometheus_from, wait_until
from victoria import api, victoria_metrics, vmalert

from fleet import readiness as rd
from fleet.inventory import load_inventory
from fleet.promapi import Prometheus

DASHBOARDS = REPO / "dashboards"
# The values the template variables take: a commune with a PC, printer, scanner, spec and client fault
# each on a different PC (it stays READY), in a district that also has NOT READY communes.
DISTRICT, COMMUNE, PC = "tay_ho", "quang_an", "quang-an-01"
RANGE_S = 120


def generator():
    name = "wardwatch_dashboards_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DASHBOARDS / "generate.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def build_fleet() -> Fleet:
    fleet = Fleet.generate(districts=2, communes_per_district=4, pcs_per_commune=3, seed=3)
    fleet.details = True
    c = fleet.add_commune(DISTRICT, "Tây Hồ", COMMUNE, "Quảng An")
    pcs = [fleet.add_pc(c, f"quang-an-{i:02d}") for i in (1, 2, 3)]
    pcs[0].printers.append(Printer("may-in-rieng", up=False, problems=("jammed",)))
    pcs[1].scanners[0].up = False
    pcs[2].spec_ok, pcs[2].vclient = False, False
    bad = fleet.add_commune(DISTRICT, "Tây Hồ", "yen_phu", "Yên Phụ")        # NOT READY: no working printer
    for i in (1, 2):
        pc = fleet.add_pc(bad, f"yen-phu-{i:02d}")
        pc.printers = [Printer("may-in-yen_phu", up=False, problems=("door_open",))]
    down = fleet.add_commune(DISTRICT, "Tây Hồ", "thuy_khue", "Thụy Khuê")  # NOT READY: nothing reports
    for i in (1, 2):
        fleet.add_pc(down, f"thuy-khue-{i:02d}").state = DOWN
    return fleet


@pytest.fixture(scope="module")
def tier(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("city-tier")
    fleet = build_fleet()
    port = free_port()
    (tmp / "sd").mkdir()
    (tmp / "sd" / "pcs.json").write_text(json.dumps(fleet.file_sd(f"127.0.0.1:{port}")))
    inventory = tmp / "inventory.yml"
    inventory.write_text(fleet.inventory_yaml())
    rules = render_rules(tmp / "rules")
    seen = sum(pc.state != UNSEEN for pc in fleet.pcs.values())
    communes = len(fleet.communes)
    with serve(fleet, port), victoria_metrics(tmp / "vm") as vm:
        cfg = district_prometheus_config(tmp / "sd", rules, remote_write_url=f"{vm}/api/v1/write")
        with prometheus_from(tmp / "prom", cfg) as prom, \
                vmalert(tmp / "vmalert", vm, [rules["readiness.rules.yml"]]) as _va:
            for base in (prom, vm):
                wait_until(lambda b=base: len(api(b, "query", {"query": 'up{role="pc"}'})["result"]) == seen,
                           timeout=60, what=f"every scraped PC in {base}")
                # rate() over the recorded means needs several scrapes of every PC
                wait_until(lambda b=base: api(b, "query", {"query": 'min(count_over_time(up{role="pc"}[5m])) >= 5'})
                           ["result"], timeout=60, what=f"five scrapes of every PC in {base}")
                wait_until(lambda b=base: len(api(b, "query", {
                    "query": "max by (district, commune) (commune:wardwatch_ready:bool)"})["result"]) == communes,
                    timeout=60, what=f"readiness of every commune in {base}")
                # the per-district series come last (vmalert reads back what it recorded): a few of them too
                wait_until(lambda b=base: api(b, "query", {
                    "query": "min(count_over_time(district:wardwatch_communes_ready:count[5m])) >= 5"})["result"],
                    timeout=60, what=f"five evaluations of the district series in {base}")
            yield {"fleet": fleet, "prom": prom, "vm": vm, "inventory": inventory}


# --- the generator --------------------------------------------------------------------------------

def test_committed_json_and_runbooks_are_the_generators_output():
    gen = generator()
    src = gen.load_sources()
    for name, text in gen.render(src).items():
        assert (DASHBOARDS / name).read_text(encoding="utf-8") == text, (
            f"dashboards/{name} differs: run python3 dashboards/generate.py and commit")
    for path, text in gen.runbooks(src).items():
        assert path.read_text(encoding="utf-8") == text, f"{path}: run python3 dashboards/generate.py"
    assert gen.main(["--check"]) == 0


def panels(doc: dict) -> list[dict]:
    out = []
    for p in doc["panels"]:
        out += [p] if p.get("type") != "row" else []
        out += p.get("panels", [])
    return out


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}


def test_every_panel_has_a_unit_a_bilingual_description_and_its_runbooks():
    runbooks = {p.stem for p in (REPO / "alerts/runbooks").glob("*.md")}
    linked = set()
    docs = dashboards()
    assert set(docs) == {"wardwatch-city.json", "wardwatch-district.json", "wardwatch-commune.json",
                         "wardwatch-pc.json"}
    for name, doc in docs.items():
        assert doc["uid"] == name.removesuffix(".json") and "wardwatch" in doc["tags"]
        for p in panels(doc):
            where = f"{name}: {p['title']!r}"
            assert p["fieldConfig"]["defaults"].get("unit"), where
            assert "\n\nEnglish: " in p["description"], where
            assert p["targets"] and all(t["expr"] and t["refId"] for t in p["targets"]), where
            assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
            for link in p.get("links", []):
                m = re.fullmatch(r"https://\S+/alerts/runbooks/(\w+)\.md", link["url"])
                assert m and m[1] in runbooks, (where, link["url"])
                linked.add(m[1])
    # every alert but the city's own (about the district servers) is linked from some panel
    assert runbooks - linked <= {"DistrictPrometheusDown", "DistrictRemoteWriteStale"}, runbooks - linked
    # each runbook links back to its dashboard, with the variables the alert's labels fill
    for book in runbooks:
        text = (REPO / "alerts/runbooks" / f"{book}.md").read_text(encoding="utf-8")
        m = re.search(r"\]\(https://[^)/]+/d/(wardwatch-[a-z]+)\?var-district=<district>", text)
        assert m and (DASHBOARDS / f"{m[1]}.json").exists(), book


def test_thresholds_come_from_their_owners():
    """The warning line is the agents' default thresholds.wan_rtt_degraded (the agent owns it), the
    critical line the alerts' own critical level (docs/alerts.md, who owns which threshold)."""
    import yaml

    from agent import config as agent_config

    cfg = yaml.safe_load((REPO / "alerts/config.yml").read_text(encoding="utf-8"))["alerts"]
    warning = agent_config.defaults(agent_config.THRESHOLDS)["wan_rtt_degraded"]
    doc = dashboards()["wardwatch-district.json"]
    lat = next(p for p in panels(doc) if "WANLatencyHigh" in p["description"])
    steps = [s["value"] for s in lat["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert steps == [None, warning, cfg["WANLatencyHigh"]["critical"]["above"]]


# --- every query against both engines -----------------------------------------------------------

VALUES = {"district": DISTRICT, "commune": COMMUNE, "pc": PC}


def substitute(expr: str) -> str:
    for k, v in {"$__rate_interval": "1m", "$__range_s": str(RANGE_S), "$__range": f"{RANGE_S}s",
                 "$__interval": "5s"}.items():
        expr = expr.replace(k, v)
    return re.sub(r"\$(district|commune|pc)\b", lambda m: VALUES[m[1]], expr)


def run_target(base: str, target: dict) -> list[dict]:
    expr = substitute(target["expr"])
    assert "$" not in expr, expr
    now = time.time()
    if target.get("instant"):
        return api(base, "query", {"query": expr, "time": f"{now:.3f}"})["result"]
    return api(base, "query_range", {"query": expr, "start": f"{now - RANGE_S:.3f}", "end": f"{now:.3f}",
                                     "step": "5"})["result"]


@pytest.mark.parametrize("engine", ["prom", "vm"])
def test_every_panel_query_returns_data(tier, engine):
    base = tier[engine]
    empty, ran = [], 0
    for name, doc in dashboards().items():
        for p in panels(doc):
            for t in p["targets"]:
                ran += 1
                result = run_target(base, t)
                if not result or not any(r.get("value") or r.get("values") for r in result):
                    empty.append(f"{name} {p['title']!r} {t['refId']}: {substitute(t['expr'])}")
    assert ran >= 40
    assert not empty, f"{engine}: no data for\n" + "\n".join(empty)


@pytest.mark.parametrize("engine", ["prom", "vm"])
def test_template_variables_chain(tier, engine):
    """district -> commune -> PC: each label_values query, with the variables before it set, lists the
    fleet's values (the way Grafana's Prometheus data source asks: /api/v1/label/<name>/values?match[])."""
    fleet: Fleet = tier["fleet"]
    base = tier[engine]
    now = time.time()
    for name, doc in dashboards().items():
        for var in doc["templating"]["list"]:
            if var["type"] != "query":
                continue
            m = re.fullmatch(r"label_values\((.+), (\w+)\)", var["query"])
            assert m, (name, var["query"])
            selector, label = substitute(m[1]), m[2]
            values = set(api(base, f"label/{label}/values", [("match[]", selector), ("start", f"{now - 600:.0f}"),
                                                            ("end", f"{now:.0f}")]))
            scraped = [pc for pc in fleet.pcs.values() if pc.state != UNSEEN]
            expected = {"district": {pc.district for pc in scraped},
                        "commune": {pc.commune for pc in scraped if pc.district == DISTRICT},
                        "instance": {pc.name for pc in scraped if pc.commune == COMMUNE}}[label]
            assert values == expected, (engine, name, var["name"])


# --- readiness against both ------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["raw", "recorded"])
def test_readiness_same_on_victoria_metrics_as_on_prometheus(tier, source):
    """Both sources (the agents' series; the district rules' per-commune series) on both engines:
    the same verdicts, reasons and counts, equal to the simulator's ground truth."""
    fleet: Fleet = tier["fleet"]
    scope = rd.scope_from_inventory(load_inventory(tier["inventory"]))
    at = time.time()
    reports = {e: rd.build(scope, Prometheus(tier[e]), at=at, source=source) for e in ("prom", "vm")}

    def verdicts(report: rd.Report) -> dict:
        return {c.key: (c.verdict, c.reasons, c.reporting, c.never_seen, c.pcs_spec_ok, c.pcs_client_installed,
                        c.printers_working, c.printers_total, c.printer_problems, c.scanners_working,
                        c.scanners_total, sorted((t.target, t.role, t.state) for t in c.wan_targets))
                for c in report.communes}

    assert verdicts(reports["vm"]) == verdicts(reports["prom"])
    truth = fleet.truth()
    assert {c.key: c.reasons for c in reports["vm"].communes} == truth
    assert {tuple(r) for r in truth.values()} >= {(), ("no_working_printer",), ("pcs_not_reporting",)}
    assert reports["vm"].queries == reports["prom"].queries == (10 if source == "raw" else 7)
    for c in reports["vm"].communes:
        other = next(o for o in reports["prom"].communes if o.key == c.key)
        assert (c.wan_loss_ratio is None) == (other.wan_loss_ratio is None), c.key
        if c.wan_loss_ratio is not None:
            assert c.wan_loss_ratio == pytest.approx(other.wan_loss_ratio, abs=1e-9)
    if source == "recorded":  # the same counts as from the agents' own series
        raw = rd.build(scope, Prometheus(tier["prom"]), at=at, source="raw")
        assert verdicts(reports["prom"]) == verdicts(raw)


def test_city_readiness_series_from_vmalert_equal_the_district_prometheus(tier):
    """readiness.rules.yml evaluated by vmalert on the remote-written counts gives, for every commune
    and reason, what the district Prometheus records itself."""
    def series(base: str, metric: str) -> dict:
        res = api(base, "query", {"query": f"max by (district, commune, reason) ({metric})"})["result"]
        return {(r["metric"]["district"], r["metric"]["commune"], r["metric"].get("reason", "")): r["value"][1]
                for r in res}

    for metric in ("commune:wardwatch_ready:bool", "commune:wardwatch_not_ready_reason:bool"):
        assert series(tier["vm"], metric) == series(tier["prom"], metric), metric
    # the district's own readiness series are not remote-written (one copy per commune at the city)
    res = api(tier["vm"], "query", {"query": "count by (prometheus) (commune:wardwatch_ready:bool)"})["result"]
    assert [r["metric"] for r in res] == [{}]



def test_cli_report_from_victoria_metrics(tier):
    """`wardwatch readiness --source recorded` against the city VictoriaMetrics, as an operator runs it."""
    import subprocess

    r = subprocess.run([sys.executable, "-m", "fleet", "readiness", "--inventory", str(tier["inventory"]),
                        "--prometheus", tier["vm"], "--source", "recorded", "--format", "json", "-q"],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 1, r.stderr  # some commune is NOT READY
    doc = json.loads(r.stdout)
    got = {(c["district"], c["commune"]): [x["code"] for x in c["reasons"]] for c in doc["communes"]}
    assert got == tier["fleet"].truth()
    assert doc["queries"] == 7
