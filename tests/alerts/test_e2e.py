"""End to end on loopback: the fleet simulator's PCs scraped by a real district Prometheus
(alerts/prometheus-district.yml with the rules rendered by alerts/generate.py), alerts through
a real Alertmanager (alerts/alertmanager.yml) to a webhook receiver; and a city Prometheus
(alerts/prometheus-city.yml) federating two district ones, with commune readiness equal to
the simulator's ground truth at both levels.

The metrics source is a fixture (`alert_source`, `readiness_source`): the fleet simulator of
tests/fleet_sim.py behind a narrow interface, `Source`: write_file_sd(path, district),
set_link(district, commune, up), set_reachable(pc, up) and truth(). Real agents (see
test_e2e_agent.py: a real CUPS queue, a namespace link) can stand in for it by offering the
same calls, without changing what is asserted.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

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
    render_rules,
)
from fleet_sim import DOWN, UNSEEN, UP, Fleet, Printer, serve
from support import free_port, prometheus_from, prometheus_query, wait_until


class Source:
    """The fleet simulator as a metrics source for these tests."""

    def __init__(self, fleet: Fleet, address: str):
        self.fleet, self.address = fleet, address

    def write_file_sd(self, path: Path, district: str | None = None) -> None:
        entries = [e for e in self.fleet.file_sd(self.address)
                   if district is None or e["labels"]["district"] == district]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entries))

    def set_reachable(self, pc: str, up: bool) -> None:
        self.fleet.update(pc, lambda p: setattr(p, "state", UP if up else DOWN))

    def set_link(self, district: str, commune: str, up: bool) -> None:
        for pc in self.fleet.communes[(district, commune)].pcs:
            self.set_reachable(pc, up)

    def truth(self) -> dict[tuple[str, str], frozenset[str]]:
        """Every commune's reasons (empty: READY), for the communes Prometheus can know: those
        with at least one PC in the targets (the report alone knows the inventory's others)."""
        known = {(pc.district, pc.commune) for pc in self.fleet.pcs.values() if pc.state != UNSEEN}
        return {k: frozenset(v) for k, v in self.fleet.truth().items() if k in known}


# The end-to-end rules: every duration of alerts/config.yml divided by 120 (PrinterProblem 5s,
# CommuneLinkDown 2s, PCDown 8s) and office hours all day, so the test does not depend on the clock.
TIME_SCALE = 120


@pytest.fixture
def short_rules(tmp_path):
    return render_rules(tmp_path / "rules", time_scale=TIME_SCALE, always_office_hours=True)


@pytest.fixture
def alert_source():
    """ba_vi: tan_linh with three PCs (tl-pc01's printer HP_M404 paused), ba_trai with two."""
    fleet = Fleet()
    tan_linh = fleet.add_commune("ba_vi", "Ba Vì", "tan_linh", "Tản Lĩnh")
    ba_trai = fleet.add_commune("ba_vi", "Ba Vì", "ba_trai", "Ba Trại")
    fleet.add_pc(tan_linh, "tl-pc01", printers=[Printer("HP_M404", up=False, problems=("paused",))])
    fleet.add_pc(tan_linh, "tl-pc02", printers=[Printer("Canon_LBP")])
    fleet.add_pc(tan_linh, "tl-pc03")
    fleet.add_pc(ba_trai, "bt-pc01")
    fleet.add_pc(ba_trai, "bt-pc02")
    with serve(fleet, free_port()) as address:
        yield Source(fleet, address)


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
    """Two districts of the simulator's generated fleet: communes with every kind of fault, whole
    (NOT READY) and partial (READY anyway), chosen by the seed."""
    fleet = Fleet.generate(districts=2, communes_per_district=8, pcs_per_commune=3, seed=16)
    with serve(fleet, free_port()) as address:
        yield Source(fleet, address)


def readiness_seen(prom: str) -> dict[tuple[str, str], frozenset[str]] | None:
    """Per commune, the reasons the rules find (empty: READY), once READY agrees with no reason
    everywhere; None before that (the two queries can fall either side of a rule evaluation)."""
    ready = {(r["metric"]["district"], r["metric"]["commune"]): r["value"][1]
             for r in prometheus_query(prom, "commune:wardwatch_ready:bool")}
    reasons: dict[tuple[str, str], set[str]] = {k: set() for k in ready}
    for r in prometheus_query(prom, "commune:wardwatch_not_ready_reason:bool == 1"):
        reasons.setdefault((r["metric"]["district"], r["metric"]["commune"]), set()).add(r["metric"]["reason"])
    if not all(ready.get(k) == ("0" if v else "1") for k, v in reasons.items()):
        return None
    return {k: frozenset(v) for k, v in reasons.items()}


def test_commune_readiness_at_district_and_city_level(tmp_path, readiness_source):
    source = readiness_source
    rules = {p.name: p for p in (ALERTS / "rules").glob("*.yml")}  # the committed, production rules
    expected = source.truth()
    districts = sorted({d for d, _ in expected})
    # The seed gives every reason somewhere, and READY communes with partial faults.
    assert {r for reasons in expected.values() for r in reasons} == {
        "pcs_not_reporting", "no_pc_meets_spec", "no_working_printer", "no_working_scanner", "wan_down",
        "wan_degraded", "client_missing"}
    assert sum(1 for reasons in expected.values() if not reasons) >= 5
    with contextlib.ExitStack() as stack:
        servers = {}
        for district in districts:
            source.write_file_sd(tmp_path / district / "sd" / f"{district}.json", district=district)
            cfg = district_prometheus_config(tmp_path / district / "sd", rules, interval="2s",
                                             external_label=f"district-{district}")
            servers[district] = stack.enter_context(prometheus_from(tmp_path / district / "prom", cfg))
        # National level: a Prometheus receiving the city's remote_write, as docs/alerts.md shows
        # for Mimir or Thanos Receive (the same protocol).
        national = stack.enter_context(prometheus_from(
            tmp_path / "national", {"global": {"scrape_interval": "1m"}}, ["--web.enable-remote-write-receiver"]))
        city_cfg = city_prometheus_config({d: url.split("//", 1)[1] for d, url in servers.items()}, rules,
                                          interval="2s")
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
        assert ready_count == {d: sum(1 for k, v in expected.items() if k[0] == d and not v) for d in districts}
        want_reporting = {d: sum(1 for pc in source.fleet.pcs.values() if pc.district == d and pc.state == UP)
                          for d in districts}

        def reporting() -> dict[str, int]:
            return {r["metric"]["district"]: int(r["value"][1])
                    for r in prometheus_query(city, "district:wardwatch_pcs_reporting:count")}

        assert wait_until(lambda: reporting() == want_reporting and reporting(), 30,
                          lambda: f"PCs reporting {want_reporting} (last: {reporting()})") == want_reporting
        # The city computed readiness itself: the district servers' results were not federated.
        own = '{__name__=~"commune:wardwatch_(ready|not_ready).*", job="wardwatch-federate"}'
        assert not prometheus_query(city, own)
        assert prometheus_query(city, 'count(up{job="wardwatch-federate"} == 1)')[0]["value"][1] == "2"

        # Sent on to the national level: readiness and the commune series, nothing else.
        got = wait_until(lambda: readiness_seen(national) == expected and readiness_seen(national), 30,
                         lambda: f"readiness at national level (last: {readiness_seen(national)})")
        assert got == expected
        names = {r["metric"]["__name__"] for r in prometheus_query(national, '{__name__=~".+"}')}
        assert "district:wardwatch_communes_ready:count" in names and "commune:wardwatch_pcs:count" in names
        assert all(n.startswith(("commune:", "commune_target:", "district:", "ALERTS")) for n in names), names
