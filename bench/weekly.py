"""`wardwatch report weekly` over a simulated city: 1,000 communes of 100 districts (10,000
PCs; --quick: 50 communes) with two weeks of the series the readiness recording rules write
(`commune:wardwatch_ready:bool`, `commune:wardwatch_not_ready_reason:bool{reason}`; a point
every 5 minutes, which the report counts every minute) and the ALERTS series of their
incidents, imported into a real VictoriaMetrics (the city tier; Prometheus answers the same
queries: tests/fleet/test_report_weekly.py). Figures: wall time and number of PromQL queries
of the week's report, beside the same figures computed one commune at a time (measured on a
sample, scaled), and the availability the report gives against the one the generator knows."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from support import REPO, free_port, http_get, need, process

from bench.common import Row
from fleet.promapi import PARALLEL, Prometheus
from fleet.report import calendar as cal_mod
from fleet.report import weekly as wk

SEED = 3
STEP = 60          # the report's resolution
SAMPLE = 300       # the imported history's interval (5 min: a fortnight of 8,000 series stays quick to load)
CAUSE = {"pcs_not_reporting": "CommuneLinkDown", "no_working_printer": "NoWorkingPrinter",
         "no_working_scanner": "NoWorkingScanner", "wan_down": "PortalUnreachable",
         "wan_degraded": "WANLatencyHigh", "no_pc_meets_spec": "PCBelowMinimumSpec",
         "client_missing": "VirtualClientMissing"}


def history(cal: cal_mod.Calendar, week: cal_mod.Period, districts: int, communes: int, post) -> float:
    """Two weeks of readiness series and ALERTS, a sample every SAMPLE seconds (values change only
    there); returns the city's availability the report must give."""
    rnd = random.Random(SEED)
    start = cal.day_start(week.previous().first)
    end = cal.day_start(week.last + dt.timedelta(days=1))
    n = int((end - start) // SAMPLE)
    stamps = json.dumps([int((start + i * SAMPLE) * 1000) for i in range(n)])
    per = SAMPLE // STEP
    week_from = cal.day_start(week.first)
    # the slot of every office minute of the week (a slot holds its value for SAMPLE seconds)
    office_slots = [int((t - start) // SAMPLE) for t in range(int(week_from), int(end), STEP)
                    if cal.is_office_time(t)]
    ready_total = 0
    batch: list[str] = []
    for d in range(districts):
        for c in range(communes):
            labels = {"district": f"quan_{d:03d}", "commune": f"xa_{d:03d}_{c:02d}"}
            reasons = {r: [0] * n for r in wk.REASONS}
            alerts = []
            for _ in range(rnd.choice((0, 1, 2, 3, 5))):  # episodes over the fortnight, day or night
                r = rnd.choice(wk.REASONS)
                a = rnd.randrange(n)
                b = min(n, a + rnd.randint(2, 60))
                reasons[r][a:b] = [1] * (b - a)
                alerts.append((CAUSE[r], a + 1, b))
            ready = [1 - max(v) for v in zip(*reasons.values(), strict=True)]
            ready_total += sum(ready[i] for i in office_slots)
            batch.append(_line({"__name__": wk.READY_RULE, **labels}, ready, stamps))
            for r, values in reasons.items():
                batch.append(_line({"__name__": wk.REASON_RULE, **labels, "reason": r}, values, stamps))
            for name, a, b in alerts:
                ts = json.dumps([int((start + i * SAMPLE) * 1000) for i in range(a, b)])
                batch.append(_line({"__name__": "ALERTS", "alertname": name, "alertstate": "firing",
                                    "severity": "critical", **labels}, [1] * (b - a), ts))
        if len(batch) > 100:
            post(batch)
            batch = []
    if batch:
        post(batch)
    assert per >= 1
    return ready_total / (len(office_slots) * districts * communes)


def _line(metric: dict[str, str], values: list[int], stamps: str) -> str:
    return f'{{"metric":{json.dumps(metric)},"values":{json.dumps(values)},"timestamps":{stamps}}}'


def run(quick: bool) -> list[Row]:
    districts, communes = (10, 5) if quick else (100, 10)
    sample = 10 if quick else 20
    tmp = Path(tempfile.mkdtemp(prefix="wardwatch-bench-weekly-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cal = cal_mod.load_calendar(REPO / "alerts/config.yml")
    week = cal_mod.last_week(cal, time.time())
    vm = [need("victoria-metrics"), f"-storageDataPath={tmp / 'vm'}", f"-httpListenAddr=127.0.0.1:{port}",
          "-retentionPeriod=100y", "-search.disableCache", "-loggerLevel=ERROR"]

    def post(lines: list[str]) -> None:
        req = urllib.request.Request(f"{url}/api/v1/import", data="\n".join(lines).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=600) as r:
            r.read()

    with process(vm, port=port, log=tmp / "vm.log", timeout=60,
                 ready=lambda: http_get(f"{url}/health", timeout=1)[0] == 200):
        t0 = time.perf_counter()
        expected = history(cal, week, districts, communes, post)
        http_get(f"{url}/internal/force_flush", timeout=60)
        load = time.perf_counter() - t0

        prom = Prometheus(url, timeout=600)
        t0 = time.perf_counter()
        report = wk.build(prom, cal, week, step=STEP)
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        wk.build(Prometheus(url, timeout=600), cal, week, step=STEP, parallel=1)
        serial = time.perf_counter() - t0
        got = report.city.availability or 0.0

        # the same figures, one commune at a time (each query filtered on it), on a sample
        picked = random.Random(1).sample(report.communes, sample)
        ref = Prometheus(url, timeout=600)
        t0 = time.perf_counter()
        for c in picked:
            wk.build(ref, cal, week, step=STEP, scope=wk.Scope([], c.district, c.commune))
        n = len(report.communes)
        per_commune = (time.perf_counter() - t0) / sample * n
        per_commune_queries = ref.queries // sample * n

        # the whole command, HTML
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "fleet", "report", "weekly", "--week", week.label, "--prometheus",
                            url, "--config", str(REPO / "alerts/config.yml"), "--format", "html", "--out",
                            str(tmp / "w.html"), "-q"], cwd=REPO, capture_output=True, text=True, timeout=1800)
        cli = time.perf_counter() - t0
        assert r.returncode == 0, r.stderr
        size = (tmp / "w.html").stat().st_size / 2**20
    what = f"{n * 10:,} PCs / {n:,} communes"
    return [
        Row("weekly", f"report time ({what}, week at {STEP}s)", ours, "s",
            f"one commune at a time (measured on {sample})", per_commune),
        Row("weekly", f"report time: {PARALLEL} queries at once | one at a time", ours, "s", "serial", serial),
        Row("weekly", "PromQL queries", report.queries, "queries", "one commune at a time", per_commune_queries),
        Row("weekly", "CLI, HTML", cli, "s", "target", 120.0),
        Row("weekly", "HTML size", size, "MiB", "target (mail attachment)", 10.0),
        Row("weekly", "city availability (report vs generator)", got * 100, "%", "generator", expected * 100,
            better="higher"),
        Row("weekly", "incidents in the week", len(report.incidents), "incidents", "-", None),
        Row("weekly", "history import (2 weeks, VictoriaMetrics)", load, "s", "-", None),
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    from bench.run import table

    print(table(run("--quick" in sys.argv)))
