"""The fleet simulator: what it serves is valid exposition with the agreed names and labels,
and its ground truth says what readiness must conclude."""

from __future__ import annotations

import csv
import re
import subprocess

import pytest
from fleet_sim import COMPONENTS, PC, PROBES_PER_SCRAPE, Fleet, Printer, Scanner, Thresholds, WanTarget, generate
from support import REPO, http_get, need

# The names agreed in COMMON.md for collectors not in the catalogue yet, with their labels.
CONTRACT = {
    "wardwatch_printer_up": {"printer"},
    "wardwatch_printer_problem": {"printer", "problem"},
    "wardwatch_printer_supply_ratio": {"printer", "supply"},
    "wardwatch_printer_jobs_waiting": {"printer"},
    "wardwatch_scanner_up": {"scanner"},
    "wardwatch_wan_up": {"target", "role"},
    "wardwatch_wan_loss_ratio": {"target", "role"},
    "wardwatch_wan_rtt_seconds": {"target", "role"},
    "wardwatch_wan_cert_expiry_timestamp_seconds": {"target", "role"},
    "wardwatch_vclient_installed": {"product"},
    "wardwatch_vclient_running": {"product"},
    "wardwatch_vclient_gateway_up": set(),
}


def families(text: str) -> dict[str, set[str]]:
    """metric family -> label names, from an exposition."""
    out: dict[str, set[str]] = {}
    kinds = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    for name, labels in re.findall(r"^([a-z_:]+)(?:\{(.*)\})? \S+$", text, re.M):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if kinds.get(base) != "histogram":
            base = name
        keys = set(re.findall(r'(\w+)="', labels)) - ({"le"} if name.endswith("_bucket") else set())
        out.setdefault(base, set()).update(keys)
    return out


def full_pc(name: str = "pc1", **kw) -> PC:
    return PC(name, "ba_vi", "tan_linh", printers=[Printer("HP_M404", problems=("paused",), supplies={"black": 0.1})],
              scanners=[Scanner("epson")], wan=[WanTarget("dichvucong", "portal", cert_expiry=2e9),
                                                WanTarget("vdi-gw", "gateway", rtt=0.2)], **kw)


def test_exposition_passes_promtool_and_follows_the_catalogue_and_contract():
    text = Fleet([full_pc()]).exposition("pc1")
    r = subprocess.run([need("promtool"), "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r.stdout + r.stderr
    with (REPO / "exporters" / "metrics.csv").open(encoding="utf-8") as f:
        catalogue = {row["name"]: set(row["labels"].split()) for row in csv.DictReader(f)}
    seen = families(text)
    for name, labels in seen.items():
        if name in catalogue:
            assert labels == catalogue[name], name
        else:
            assert name in CONTRACT, f"{name} is neither catalogued nor agreed"
            assert labels == CONTRACT[name], name
    assert set(CONTRACT) <= set(seen)


def test_rtt_histogram_grows_by_scrape_and_only_while_up():
    fleet = Fleet([full_pc()])
    for _ in range(3):
        text = fleet.exposition("pc1")

    def value(series: str) -> float:
        m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
        assert m, series
        return float(m[1])

    n = 3 * PROBES_PER_SCRAPE
    gw = 'target="vdi-gw",role="gateway"'
    assert value(f"wardwatch_wan_rtt_seconds_count{{{gw}}}") == n
    assert value(f"wardwatch_wan_rtt_seconds_sum{{{gw}}}") == pytest.approx(n * 0.2)
    assert value(f'wardwatch_wan_rtt_seconds_bucket{{{gw},le="0.1"}}') == 0
    assert value(f'wardwatch_wan_rtt_seconds_bucket{{{gw},le="0.25"}}') == n
    assert value(f'wardwatch_wan_rtt_seconds_bucket{{{gw},le="+Inf"}}') == n
    fleet.pc("pc1").wan[1].up = False
    text = fleet.exposition("pc1")
    assert value(f"wardwatch_wan_rtt_seconds_count{{{gw}}}") == n
    assert value(f"wardwatch_wan_up{{{gw}}}") == 0 and value(f"wardwatch_wan_loss_ratio{{{gw}}}") == 1


def test_serves_each_pc_and_answers_503_when_unreachable():
    fleet = Fleet([full_pc("pc1"), full_pc("pc2"), PC("pc3", "ba_vi", "ba_trai")])
    with fleet.serve():
        base = f"http://{fleet.address}"
        code, body = http_get(base + fleet.metrics_path("pc1"))
        assert code == 200 and b'wardwatch_printer_problem{printer="HP_M404",problem="paused"} 1.0' in body
        assert http_get(base + "/pc/nope/metrics")[0] == 404
        fleet.set_link("ba_vi", "tan_linh", up=False)
        assert http_get(base + fleet.metrics_path("pc1"))[0] == 503
        assert http_get(base + fleet.metrics_path("pc2"))[0] == 503
        assert http_get(base + fleet.metrics_path("pc3"))[0] == 200
        sd = fleet.file_sd("ba_vi")
        assert sd[2] == {"targets": [fleet.address], "labels": {
            "district": "ba_vi", "commune": "ba_trai", "role": "pc", "instance": "pc3",
            "__metrics_path__": "/pc/pc3/metrics"}}
    assert fleet.scrapes("pc1") == 1 and fleet.scrapes("pc3") == 1
    with pytest.raises(KeyError):
        fleet.set_link("ba_vi", "nowhere", up=False)
    with pytest.raises(ValueError, match="duplicate"):
        Fleet([PC("a", "d", "c"), PC("a", "d", "c2")])


def test_ground_truth():
    def pc(name: str, commune: str, **kw) -> PC:
        kw.setdefault("printers", [Printer("p")])
        kw.setdefault("scanners", [Scanner("s")])
        return PC(name, "ba_vi", commune, **kw)

    slow = [WanTarget("dichvucong", "portal", rtt=0.2), WanTarget("vdi-gw", "gateway")]
    lossy = [WanTarget("dichvucong", "portal", loss=0.05), WanTarget("vdi-gw", "gateway")]
    fleet = Fleet([
        pc("a1", "ready"), pc("a2", "ready", reachable=False, printers=[], scanners=[]),
        pc("b1", "printer", printers=[Printer("p", up=False)]),
        pc("c1", "dead", reachable=False), pc("c2", "dead", reachable=False),
        pc("d1", "mixed", spec_failed=("memory",), vclient_installed=False, scanners=[Scanner("s", up=False)]),
        pc("e1", "slow", wan=slow), pc("e2", "slow", wan=[WanTarget("dichvucong", "portal", rtt=0.05),
                                                          WanTarget("vdi-gw", "gateway")]),
        pc("f1", "lossy", wan=lossy),
        pc("g1", "gw_half", wan=[WanTarget("dichvucong"), WanTarget("vdi-gw", "gateway", up=False)]),
        pc("g2", "gw_half", wan=[WanTarget("dichvucong"), WanTarget("vdi-gw", "gateway")]),
        pc("h1", "no_wan", wan=[WanTarget("dns1", "dns")]),
    ])
    truth = fleet.ground_truth(Thresholds())
    reasons = {k[1]: t.reasons for k, t in truth.items()}
    assert reasons == {
        "ready": frozenset(),
        "printer": {"printer"},
        "dead": set(COMPONENTS),
        "mixed": {"pc_spec", "vclient", "scanner"},
        "slow": frozenset(),                         # mean of 200ms and 50ms is 125ms: under 150ms
        "lossy": {"wan"},
        # One PC reaches the gateway: reachable. Its loss is the mean of 1.0 and 0: degraded.
        "gw_half": {"wan"},
        "no_wan": {"wan"},                           # no portal/gateway target: not ready
    }
    assert truth[("ba_vi", "ready")].ready and not truth[("ba_vi", "dead")].ready
    assert truth[("ba_vi", "ready")].counts == {
        "pcs": 2, "pcs_reporting": 1, "pcs_spec_ok": 1, "vclient_installed": 1, "printers": 1,
        "printers_working": 1, "scanners": 1, "scanners_working": 1, "wan_targets": 2, "wan_targets_down": 0,
        "wan_targets_degraded": 0}
    # Raising the latency threshold's effect: with 100ms, "slow" is degraded.
    assert fleet.ground_truth(Thresholds(rtt_degraded=0.1))[("ba_vi", "slow")].reasons == {"wan"}


def test_thresholds_come_from_the_alerts_config():
    th = Thresholds.from_config()
    assert th.wan_roles == "portal|gateway" and th.rtt_degraded == 0.15 and th.loss_degraded == 0.02
    assert th.min_printers_working == 1


def test_generate_is_deterministic_and_breaks_a_share():
    a, b = generate(3, 20, 4, seed=7), generate(3, 20, 4, seed=7)
    assert len(a.pcs) == 3 * 20 * 4 and len(a.communes()) == 60
    ta, tb = a.ground_truth(), b.ground_truth()
    assert {k: t.reasons for k, t in ta.items()} == {k: t.reasons for k, t in tb.items()}
    not_ready = sum(1 for t in ta.values() if not t.ready)
    assert 3 <= not_ready <= 25  # about 20% of 60
    assert generate(3, 20, 4, seed=8).ground_truth() != ta
