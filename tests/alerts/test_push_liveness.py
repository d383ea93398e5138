"""A PC that only pushes (Pushgateway mode) counts in PCDown and readiness like a scraped one:
a real agent pushes to a real Pushgateway, which a real district Prometheus scrapes with the
production config (job wardwatch-pushgateway) and rules (durations divided by 30)."""

from __future__ import annotations

import json

from alerting_support import district_prometheus_config, render_rules
from support import agent, free_port, need, process, prometheus_from, prometheus_query, wait_until

PC = {"instance": "tl-pc09", "district": "ba_vi", "commune": "tan_linh"}


def value(prom: str, query: str) -> float | None:
    found = prometheus_query(prom, query)
    return float(found[0]["value"][1]) if len(found) == 1 else None


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
            # The agent stopped: its last push grows old in the Pushgateway.
            wait_until(lambda: value(prom, f"instance:wardwatch_pc_up:max{{{pc}}}") == 0, timeout=60,
                       what="the silent PC counted as not reporting")
            wait_until(lambda: value(prom, not_reporting) == 1, timeout=30, what="readiness: pcs_not_reporting")
            firing = wait_until(lambda: prometheus_query(
                prom, f'ALERTS{{alertname="PCDown", alertstate="firing", {pc}}}'), timeout=90, what="PCDown firing")
            labels = firing[0]["metric"]
            assert (labels["job"], labels["role"], labels["severity"], labels["scope"]) == (
                "wardwatch", "pc", "warning", "pc"), json.dumps(labels)
            # The Pushgateway itself is no PC.
            assert value(prom, f"commune:wardwatch_pcs:count{{{commune}}}") == 1
            assert not prometheus_query(prom, 'instance:wardwatch_pc_up:max{job="wardwatch-pushgateway"}')
