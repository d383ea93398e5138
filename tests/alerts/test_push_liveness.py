"""A PC that only pushes (Pushgateway mode) counts in PCDown and readiness like a scraped one:
a real agent pushes to a real Pushgateway, which a real district Prometheus scrapes with the
production config (job wardwatch-pushgateway) and rules (durations divided by 30); the readiness
report (`wardwatch readiness`) counts it too."""

from __future__ import annotations

import json
import time

import yaml
from alerting_support import ALERTS, district_prometheus_config, render_rules
from support import agent, free_port, need, process, prometheus_from, prometheus_query, wait_until

from fleet import readiness as rd
from fleet.inventory import load_inventory
from fleet.promapi import Prometheus

PC = {"instance": "tl-pc09", "district": "ba_vi", "commune": "tan_linh"}


def value(prom: str, query: str) -> float | None:
    found = prometheus_query(prom, query)
    return float(found[0]["value"][1]) if len(found) == 1 else None


def reporting(prom: str, inventory, at: float | None = None) -> list[str]:
    """The PCs the readiness report counts as reporting in the PC's commune."""
    report = rd.build(rd.scope_from_inventory(inventory), Prometheus(prom, timeout=10), at=at)
    (commune,) = [c for c in report.communes if c.commune == PC["commune"]]
    return commune.reporting


def test_the_report_and_the_rules_share_the_push_staleness():
    stale_after = yaml.safe_load((ALERTS / "config.yml").read_text(encoding="utf-8"))["push"]["stale_after"]
    assert stale_after == "3m" and rd.PUSH_STALE_AFTER == 180


def test_a_pushing_pc_reports_then_goes_down_like_a_scraped_one(tmp_path):
    # PCDown's 15m become 30s, push.stale_after's 3m become 6s.
    rules = render_rules(tmp_path / "rules", time_scale=30, always_office_hours=True)
    port = free_port()
    with process([need("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{port}",
                  f"--persistence.file={tmp_path / 'pg.data'}"], port=port, log=tmp_path / "pg.log"):
        sd = tmp_path / "sd"
        sd.mkdir()
        (sd / "ba_vi.json").write_text("[]")  # no scrape target: this PC only pushes
        cfg = district_prometheus_config(sd, rules)
        (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "wardwatch-pushgateway"]
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
        config = (f"push:\n  enabled: true\n  url: http://127.0.0.1:{port}\n  instance: {PC['instance']}\n"
                  f"  grouping: {{district: {PC['district']}, commune: {PC['commune']}}}\n  interval: 1s\n"
                  "collectors:\n  printers: {enabled: false}\n  scanners: {enabled: false}\n")
        (tmp_path / "agent").mkdir()
        (tmp_path / "hosts.yml").write_text(
            "all:\n  children:\n    district_ba_vi:\n      vars: {wardwatch_district_name: Ba Vì}\n"
            "      children:\n        commune_tan_linh:\n          vars: {wardwatch_commune_name: Tản Lĩnh}\n"
            f"          hosts:\n            {PC['instance']}: {{ansible_host: 127.0.0.9}}\n", encoding="utf-8")
        inventory = load_inventory(tmp_path / "hosts.yml")
        with prometheus_from(tmp_path / "prom", cfg) as prom:
            pc = f'instance="{PC["instance"]}", district="{PC["district"]}", commune="{PC["commune"]}"'
            commune = f'district="{PC["district"]}", commune="{PC["commune"]}"'
            not_reporting = f'commune:wardwatch_not_ready_reason:bool{{{commune}, reason="pcs_not_reporting"}}'
            with agent(tmp_path / "agent", config):
                wait_until(lambda: value(prom, f"instance:wardwatch_pc_up:max{{{pc}}}") == 1, timeout=60,
                           what="the pushing PC counted as reporting")
                wait_until(lambda: value(prom, not_reporting) == 0, timeout=30, what="readiness sees it report")
                assert value(prom, f"commune:wardwatch_pcs_reporting:count{{{commune}}}") == 1
                # The pushed series carry the grouping labels, and role="pc" as a scraped PC's do.
                memory = prometheus_query(prom, f'wardwatch_memory_total_bytes{{{pc}, role="pc", job="wardwatch"}}')
                assert len(memory) == 1, memory
                assert reporting(prom, inventory) == [PC["instance"]]
            stopped = time.time()
            # The agent stopped: its last push grows old in the Pushgateway.
            wait_until(lambda: value(prom, f"instance:wardwatch_pc_up:max{{{pc}}}") == 0, timeout=60,
                       what="the silent PC counted as not reporting")
            wait_until(lambda: value(prom, not_reporting) == 1, timeout=30, what="readiness: pcs_not_reporting")
            firing = wait_until(lambda: prometheus_query(
                prom, f'ALERTS{{alertname="PCDown", alertstate="firing", {pc}}}'), timeout=90, what="PCDown firing")
            labels = firing[0]["metric"]
            assert (labels["job"], labels["role"], labels["severity"], labels["scope"]) == (
                "wardwatch", "pc", "warning", "pc"), json.dumps(labels)
            # The report: 3 minutes after the last push (its staleness is not scaled), not reporting.
            assert reporting(prom, inventory, at=stopped + rd.PUSH_STALE_AFTER + 5) == []
            # The Pushgateway itself is no PC.
            assert value(prom, f"commune:wardwatch_pcs:count{{{commune}}}") == 1
            assert not prometheus_query(prom, 'instance:wardwatch_pc_up:max{job="wardwatch-pushgateway"}')
