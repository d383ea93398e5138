"""End to end on loopback: the fleet simulator's PCs scraped by a real district Prometheus
(alerts/prometheus-district.yml with the rules rendered by alerts/generate.py), alerts through
a real Alertmanager (alerts/alertmanager.yml) to a webhook receiver; and a city Prometheus
(alerts/prometheus-city.yml) federating two district ones, with commune readiness equal to
the simulator's ground truth at both levels.

The metrics source is a fixture (`alert_source`, `readiness_source`): a started fleet simulator
whose tests use only write_file_sd(path, district=...), set_link(district, commune, up),
set_reachable(pc, up) and ground_truth(). Real agents with real CUPS queues and network
namespaces can replace it by offering the same five calls, without changing what is asserted.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from alerting_support import (
    ALERTS,
    WebhookReceiver,
    alertmanager,
    alertmanager_test_config,
    am_alerts,
    city_prometheus_config,
    city_remote_write_example,
    district_prometheus_config,
    prometheus_from,
    render_rules,
    wait_until,
)
from fleet_sim import COMPONENTS, PC, Fleet, Printer, Scanner
from support import prometheus_query

# The end-to-end rules: every duration of alerts/config.yml divided by 120 (PrinterProblem 5s,
# CommuneLinkDown 2s, PCDown 8s) and office hours all day, so the test does not depend on the clock.
TIME_SCALE = 120


@pytest.fixture
def short_rules(tmp_path):
    return render_rules(tmp_path / "rules", time_scale=TIME_SCALE, always_office_hours=True)


@pytest.fixture
def alert_source():
    """ba_vi: tan_linh with three PCs (tl-pc01's printer HP_M404 paused), ba_trai with two."""
    fleet = Fleet([
        PC("tl-pc01", "ba_vi", "tan_linh", printers=[Printer("HP_M404", up=False, problems=("paused",))]),
        PC("tl-pc02", "ba_vi", "tan_linh", printers=[Printer("Canon_LBP")], scanners=[Scanner("epson_ds1630")]),
        PC("tl-pc03", "ba_vi", "tan_linh"),
        PC("bt-pc01", "ba_vi", "ba_trai", printers=[Printer("HP_M404")], scanners=[Scanner("canon_dr_c225")]),
        PC("bt-pc02", "ba_vi", "ba_trai"),
    ])
    with fleet.serve():
        yield fleet


def test_printer_problem_and_commune_link_down_reach_the_support_team(tmp_path, short_rules, alert_source):
    source = alert_source
    with WebhookReceiver() as hook, alertmanager(tmp_path / "am", alertmanager_test_config(hook)) as am:
        source.write_file_sd(tmp_path / "sd" / "ba_vi.json", district="ba_vi")
        cfg = district_prometheus_config(tmp_path / "sd", short_rules, alertmanager_url=am)
        with prometheus_from(tmp_path / "prom", cfg, ["--rules.alert.resend-delay=1s"]) as prom:
            # Every PC answers first, then ba_trai's link goes down and tl-pc03 is switched off.
            wait_until(lambda: (r := prometheus_query(prom, 'count(up{role="pc"} == 1)')) and r[0]["value"][1] == "5",
                       30, "every PC up")
            source.set_link("ba_vi", "ba_trai", up=False)
            source.set_reachable("tl-pc03", up=False)

            # The printer's problem arrives with where it is and why.
            (recv, printer), *_ = wait_until(lambda: hook.find("PrinterProblem"), 60, "PrinterProblem")
            assert recv == "support-ba_vi"
            assert printer["labels"] == {
                "alertname": "PrinterProblem", "severity": "warning", "scope": "device", "job": "wardwatch",
                "role": "pc", "district": "ba_vi", "commune": "tan_linh", "instance": "tl-pc01",
                "printer": "HP_M404", "device": "HP_M404", "problem": "paused", "prometheus": "district-ba_vi"}
            assert printer["annotations"]["summary_vi"] == "Máy in HP_M404 trên tl-pc01 (tan_linh) lỗi: paused"
            assert printer["annotations"]["summary_en"] == "Printer HP_M404 on tl-pc01 (tan_linh) has a problem: paused"
            assert printer["annotations"]["runbook_url"].endswith("/alerts/runbooks/PrinterProblem.md")

            # The commune's link alert arrives, by the critical (SMS) route.
            (recv, link), *_ = wait_until(lambda: hook.find("CommuneLinkDown", commune="ba_trai"), 60,
                                          "CommuneLinkDown")
            assert recv == "support-ba_vi-critical"
            assert link["labels"]["cause"] == "all_pcs_unreachable" and "instance" not in link["labels"]

            # A PC down elsewhere is sent; the PCs behind the dead link are not.
            wait_until(lambda: hook.find("PCDown", instance="tl-pc03"), 60, "PCDown of tl-pc03")

            def behind_link() -> list[dict]:
                return [a for a in am_alerts(am)
                        if a["labels"]["alertname"] == "PCDown" and a["labels"]["commune"] == "ba_trai"]

            held = wait_until(lambda: len(behind_link()) == 2 and behind_link(), 30, "ba_trai's PCDown in Alertmanager")
            assert sorted(a["labels"]["instance"] for a in held) == ["bt-pc01", "bt-pc02"]
            assert all(a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"] for a in held)
            time.sleep(3)  # several group_intervals
            assert not hook.find("PCDown", commune="ba_trai", status=None)
            assert not [a for _, a in hook.received(None) if a["labels"]["commune"] == "ba_trai"
                        and a["labels"]["alertname"] != "CommuneLinkDown"]

            # The agents' WAN series keep their own role after the clash with the target's role="pc".
            assert len(prometheus_query(prom, 'wardwatch_wan_up{role="portal"}')) == 2  # tl-pc01, tl-pc02
            assert prometheus_query(prom, 'count(up{role="pc"})')[0]["value"][1] == "5"
            assert not prometheus_query(prom, '{exported_role!=""}')


@pytest.fixture
def readiness_source():
    """Two districts, communes each broken in a known way."""
    def ok(name: str, district: str, commune: str, **kw) -> PC:
        kw.setdefault("printers", [Printer("printer1")])
        kw.setdefault("scanners", [Scanner("scanner1")])
        return PC(name, district, commune, **kw)

    pcs = [
        ok("tl-pc01", "ba_vi", "tan_linh"), ok("tl-pc02", "ba_vi", "tan_linh", printers=[], scanners=[]),
        ok("tl-pc03", "ba_vi", "tan_linh", reachable=False),
        ok("bt-pc01", "ba_vi", "ba_trai", printers=[Printer("printer1", up=False, problems=("jammed",))]),
        ok("bt-pc02", "ba_vi", "ba_trai", printers=[]),
        ok("vh-pc01", "ba_vi", "van_hoa", reachable=False), ok("vh-pc02", "ba_vi", "van_hoa", reachable=False),
        ok("cl-pc01", "ba_vi", "cam_linh"), ok("cl-pc02", "ba_vi", "cam_linh"),
        ok("pl-pc01", "soc_son", "phu_linh", vclient_installed=False, scanners=[Scanner("scanner1", up=False)]),
        ok("pl-pc02", "soc_son", "phu_linh", vclient_installed=False, printers=[], scanners=[]),
        ok("mp-pc01", "soc_son", "minh_phu", spec_failed=("memory",)),
        ok("mp-pc02", "soc_son", "minh_phu", spec_failed=("cpu_cores", "os")),
        ok("td-pc01", "soc_son", "tien_duoc"), ok("td-pc02", "soc_son", "tien_duoc"),
        ok("hk-pc01", "soc_son", "hong_ky"),
    ]
    for pc in pcs:
        for t in pc.wan:
            if pc.commune == "cam_linh" and t.role == "portal":
                t.rtt = 0.3            # slow: degraded
            if pc.commune == "tien_duoc" and t.role == "gateway":
                t.up = False           # unreachable from every PC
            if pc.commune == "hong_ky" and t.role == "dns":
                t.up = False           # DNS is not a readiness role: hong_ky stays READY
    fleet = Fleet(pcs)
    with fleet.serve():
        yield fleet


def readiness_seen(prom: str) -> dict[tuple[str, str], tuple[int, frozenset[str]]]:
    ready = {(r["metric"]["district"], r["metric"]["commune"]): int(r["value"][1])
             for r in prometheus_query(prom, "commune:wardwatch_ready:bool")}
    failing: dict[tuple[str, str], set[str]] = {k: set() for k in ready}
    for r in prometheus_query(prom, "commune:wardwatch_ready_component:bool == 0"):
        failing.setdefault((r["metric"]["district"], r["metric"]["commune"]), set()).add(r["metric"]["component"])
    return {k: (ready.get(k, -1), frozenset(v)) for k, v in failing.items()}


def test_commune_readiness_at_district_and_city_level(tmp_path, readiness_source):
    source = readiness_source
    rules = {p.name: p for p in (ALERTS / "rules").glob("*.yml")}  # the committed, production rules
    truth = source.ground_truth()
    expected = {k: (int(t.ready), t.reasons) for k, t in truth.items()}
    servers = {}
    with contextlib.ExitStack() as stack:
        for district in ("ba_vi", "soc_son"):
            source.write_file_sd(tmp_path / district / "sd" / f"{district}.json", district=district)
            cfg = district_prometheus_config(tmp_path / district / "sd", rules,
                                             external_label=f"district-{district}")
            servers[district] = stack.enter_context(prometheus_from(tmp_path / district / "prom", cfg))
        # National level: a Prometheus receiving the city's remote_write, as docs/alerts.md shows
        # for Mimir or Thanos Receive (the same protocol).
        national = stack.enter_context(prometheus_from(
            tmp_path / "national", {"global": {"scrape_interval": "1m"}}, ["--web.enable-remote-write-receiver"]))
        city_cfg = city_prometheus_config({d: url.split("//", 1)[1] for d, url in servers.items()}, rules)
        city_cfg["remote_write"] = city_remote_write_example(f"{national}/api/v1/write")
        city = stack.enter_context(prometheus_from(tmp_path / "city", city_cfg))

        for district, prom in servers.items():
            want = {k: v for k, v in expected.items() if k[0] == district}
            got = wait_until(lambda p=prom, w=want: readiness_seen(p) == w and readiness_seen(p), 60,
                             lambda p=prom, w=want, d=district: f"readiness at {d} = {w} (last: {readiness_seen(p)})")
            assert got == want
        got = wait_until(lambda: readiness_seen(city) == expected and readiness_seen(city), 60,
                         lambda: f"readiness at city = {expected} (last: {readiness_seen(city)})")
        assert got == expected

        ready_count = {r["metric"]["district"]: int(r["value"][1])
                       for r in prometheus_query(city, "district:wardwatch_communes_ready:count")}
        assert ready_count == {d: sum(1 for k, t in truth.items() if k[0] == d and t.ready)
                               for d in ("ba_vi", "soc_son")}
        pcs = {r["metric"]["district"]: int(r["value"][1])
               for r in prometheus_query(city, "district:wardwatch_pcs_reporting:count")}
        assert pcs == {"ba_vi": 6, "soc_son": 7}
        assert pcs == {d: sum(t.counts["pcs_reporting"] for k, t in truth.items() if k[0] == d) for d in pcs}
        # The city computed readiness itself: the district servers' results were not federated.
        assert not prometheus_query(city, '{__name__=~"commune:wardwatch_ready.*", job="wardwatch-federate"}')
        assert prometheus_query(city, 'count(up{job="wardwatch-federate"} == 1)')[0]["value"][1] == "2"

        # Sent on to the national level: readiness and the commune series, nothing else.
        got = wait_until(lambda: readiness_seen(national) == expected and readiness_seen(national), 30,
                         lambda: f"readiness at national level (last: {readiness_seen(national)})")
        assert got == expected
        names = {r["metric"]["__name__"] for r in prometheus_query(national, '{__name__=~".+"}')}
        assert "district:wardwatch_communes_ready:count" in names and "commune:wardwatch_pcs:count" in names
        assert all(n.startswith(("commune:", "commune_target:", "district:", "ALERTS")) for n in names), names
    assert set(COMPONENTS) >= {c for _, reasons in expected.values() for c in reasons}

