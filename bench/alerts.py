"""What wardwatch's rules cost a district Prometheus, and what federation sends to the city.

A simulated district (tests/fleet_sim.py: a third of the communes broken, a third partly) scraped by a real
Prometheus with alerts/prometheus-district.yml and the production rules:
- each rule group's evaluation time, beside the evaluation interval of prometheus-district.yml
  (the time it must fit in), median of five evaluations;
- bytes per commune of the city's /federate request (prometheus-city.yml's match[]), beside the
  bytes per commune of the agents' own /metrics (what federating raw series would carry).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import yaml
from alerting_support import ALERTS, district_prometheus_config
from fleet_sim import UP, Fleet, serve
from support import free_port, http_get, prometheus_from, prometheus_query, wait_until

from bench.common import Row

GROUP_DURATION = r'^prometheus_rule_group_last_duration_seconds\{rule_group="[^"]*;([^"]+)"\} (\S+)$'


def run(quick: bool) -> list[Row]:
    communes, pcs_per_commune = (60, 4) if quick else (150, 5)
    fleet = Fleet.generate(1, communes, pcs_per_commune, seed=1)
    rules = {p.name: p for p in (ALERTS / "rules").glob("*.yml")}
    interval = yaml.safe_load((ALERTS / "prometheus-district.yml").read_text())["global"]["evaluation_interval"]
    interval_ms = float(re.fullmatch(r"(\d+)s", interval)[1]) * 1000
    city = yaml.safe_load((ALERTS / "prometheus-city.yml").read_text())
    match = city["scrape_configs"][0]["params"]["match[]"]
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"ww-bench-alerts-{os.getpid()}-") as tmp, \
            serve(fleet, free_port()) as address:
        tmp = Path(tmp)
        (tmp / "sd").mkdir()
        (tmp / "sd" / "d.json").write_text(json.dumps(fleet.file_sd(address)))
        cfg = district_prometheus_config(tmp / "sd", rules)
        cfg["global"].update(scrape_interval="2s", scrape_timeout="2s", evaluation_interval="2s")
        with prometheus_from(tmp / "prom", cfg) as prom:
            reporting = sum(1 for pc in fleet.pcs.values() if pc.state == UP)

            def all_in() -> bool:
                r = prometheus_query(prom, "sum(commune:wardwatch_pcs_reporting:count)")
                return bool(r) and int(float(r[0]["value"][1])) == reporting

            wait_until(all_in, 120, f"{reporting} PCs reporting")
            time.sleep(4)  # a few evaluations with every series present
            # Prometheus' own metrics (it does not scrape itself here): the median of a few evaluations.
            samples: dict[str, list[float]] = {}
            for _ in range(5):
                code, own = http_get(f"{prom}/metrics", timeout=10)
                assert code == 200
                for m in re.finditer(GROUP_DURATION, own.decode(), re.M):
                    samples.setdefault(m[1], []).append(float(m[2]) * 1000)
                time.sleep(2)
            assert samples, "no rule group durations in Prometheus' /metrics"
            durations = {g: statistics.median(v) for g, v in samples.items()}
            for group, ms in sorted(durations.items()):
                rows.append(Row("alerts", f"rule group {group}, {len(fleet.pcs)} PCs", ms, "ms",
                                f"evaluation interval ({interval})", interval_ms))
            code, body = http_get(f"{prom}/federate?" + urlencode([("match[]", m) for m in match]), timeout=30)
            assert code == 200
            raw = sum(len(fleet.render_pc(n) or "") for n in fleet.pcs) / communes
            rows.append(Row("alerts", "federated to the city per commune", len(body) / communes, "bytes",
                            "agents' /metrics per commune", raw))
    return rows
