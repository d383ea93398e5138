"""`wardwatch readiness` over a simulated city: 10,000 PCs in 1,000 communes of 100
districts (--quick: 300 PCs in 100 communes), served by the fleet simulator the way
district Prometheus servers are federated into a city one, scraped by a real
Prometheus. Figures: wall time and PromQL queries of the report, beside the same
report done with one set of queries per commune (measured on a sample of communes,
scaled to all), and the share of verdicts that match the simulator's ground truth."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fleet_sim import UNSEEN, Fleet
from support import REPO, free_port, process, prometheus, prometheus_query, wait_for

from bench.common import Row
from fleet import readiness as rd
from fleet.inventory import load_inventory
from fleet.promapi import Prometheus

SEED = 5


def run(quick: bool) -> list[Row]:
    districts, communes, pcs = (10, 10, 3) if quick else (100, 10, 10)
    interval = 2 if quick else 10
    sample = 10 if quick else 40
    tmp = Path(tempfile.mkdtemp(prefix="wardwatch-bench-readiness-"))
    port = free_port()
    inv = tmp / "inventory.yml"
    sim = [sys.executable, str(REPO / "tests/fleet_sim.py"), "--port", str(port), "--districts", str(districts),
           "--communes", str(communes), "--pcs", str(pcs), "--seed", str(SEED), "--inventory", str(inv)]
    fleet = Fleet.generate(districts, communes, pcs, seed=SEED)  # the same fleet, for the ground truth
    labels = sorted({c.district for c in fleet.communes.values()})
    scrape = [{"job_name": f"federate-{d}", "honor_labels": True, "scrape_interval": f"{interval}s",
               "scrape_timeout": f"{interval}s", "metrics_path": f"/federate/{d}",
               "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]} for d in labels]
    seen = sum(pc.state != UNSEEN for pc in fleet.pcs.values())
    with process(sim, port=port, log=tmp / "sim.log", timeout=60), prometheus(tmp, scrape) as url:
        wait_for(lambda: prometheus_query(url, 'count(up{role="pc"})')[0]["value"][1] == str(seen),
                 timeout=20 * interval, interval=1, what="every simulated PC in Prometheus")
        time.sleep(2.5 * interval)  # rate() needs two scrapes of every series
        inventory = load_inventory(inv)
        scope = rd.scope_from_inventory(inventory)

        prom = Prometheus(url, timeout=120)
        t0 = time.perf_counter()
        report = rd.build(scope, prom)
        ours = time.perf_counter() - t0
        queries = report.queries
        truth = fleet.truth()
        matching = sum(truth[c.key] == c.reasons for c in report.communes)

        # the same report, one commune at a time (each of the same queries filtered on it)
        picked = random.Random(1).sample(scope.communes, sample)
        ref_prom = Prometheus(url, timeout=120)
        t0 = time.perf_counter()
        for c in picked:
            part = rd.Scope([c], district=c[0], commune=c[2])
            rd.build(part, ref_prom)
        per_commune = (time.perf_counter() - t0) / sample * len(scope.communes)
        per_commune_queries = ref_prom.queries // sample * len(scope.communes)

        # the whole command as an operator runs it: inventory, queries, a week of WAN history, HTML
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "fleet", "readiness", "--inventory", str(inv), "--prometheus", url,
                            "--format", "html", "--out", str(tmp / "r.html"), "-q"], cwd=REPO, capture_output=True,
                           text=True, timeout=600)
        cli = time.perf_counter() - t0
        assert r.returncode in (0, 1), r.stderr
        size = (tmp / "r.html").stat().st_size / 2**20
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "fleet", "readiness", "--inventory", str(inv), "--prometheus", url,
                            "--format", "json", "-q"], cwd=REPO, capture_output=True, text=True, timeout=600)
        cli_json = time.perf_counter() - t0
        doc = json.loads(r.stdout)
    n_pcs, n_communes = len(fleet.pcs), len(fleet.communes)
    what = f"{n_pcs:,} PCs / {n_communes:,} communes"
    return [
        Row("readiness", f"report time ({what})", ours, "s", f"per-commune queries (measured on {sample})",
            per_commune),
        Row("readiness", "PromQL queries", queries, "queries", "per-commune queries", per_commune_queries),
        Row("readiness", "PromQL queries", queries, "queries", "one per PC", n_pcs),
        Row("readiness", "verdicts matching ground truth", matching, "communes", "communes", n_communes,
            better="higher"),
        Row("readiness", "CLI, JSON (inventory + queries)", cli_json, "s", "target", 30.0),
        Row("readiness", "CLI, HTML with 7-day WAN charts", cli, "s", "target", 60.0),
        Row("readiness", "HTML size", size, "MiB", "target (mail attachment)", 10.0),
        Row("readiness", "communes NOT READY in the report", doc["summary"]["not_ready"], "communes",
            "ground truth", sum(bool(v) for v in truth.values())),
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    from bench.run import table

    print(table(run("--quick" in sys.argv)))
