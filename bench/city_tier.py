"""The readiness report at national scale, Prometheus and VictoriaMetrics side by side:
100,000 PCs in 10,000 communes (--quick: 1,000 PCs in 100 communes), from the fleet simulator
(tests/fleet_sim.py, its faults and ground truth), loaded into both engines as the district
Prometheus servers would have sent them: every series `wardwatch readiness` reads (up, spec,
client, printers, scanners, WAN up/degraded/loss/RTT), three samples a minute apart.

- Prometheus 2.42: `promtool tsdb create-blocks-from openmetrics`, then started on those blocks.
- VictoriaMetrics (Debian's victoria-metrics): POST /api/v1/import/prometheus.

Figures per engine: load time, the report's wall time and PromQL queries (fleet/readiness.py,
unchanged), verdicts equal to the ground truth, verdicts equal between the engines, disk and
resident memory after the report (the sizing figures of docs/city-tier.md).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from fleet_sim import JOB, UNSEEN, UP, Fleet
from support import REPO, need, prometheus_data, prometheus_from
from victoria import victoria_metrics

from bench.common import Row
from fleet import readiness as rd
from fleet.promapi import Prometheus

SEED = 7
STEP = 60           # seconds between the three samples of every series
SAMPLES = 3
VM_MEMORY = "4GiB"  # -memory.allowedBytes: VictoriaMetrics' caches, not a hard cap on the process


def _labels(d: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in d.items()) + "}"


def series(fleet: Fleet, now: float) -> Iterator[tuple[str, str, str, list[float]]]:
    """(family, type, name+labels, values at the SAMPLES timestamps) of every series the readiness
    report reads, family by family (OpenMetrics wants each family in one block)."""
    pcs = [pc for pc in fleet.pcs.values() if pc.state != UNSEEN]
    target = {pc.name: {"instance": pc.name, "job": JOB, "district": pc.district, "commune": pc.commune}
              for pc in pcs}
    pc_role = {"role": "pc"}
    yield from (("up", "gauge", "up" + _labels({**target[pc.name], **pc_role}), [float(pc.state == UP)] * SAMPLES)
                for pc in pcs)
    live = [pc for pc in pcs if pc.state == UP]
    yield from (("wardwatch_spec_ok", "gauge", "wardwatch_spec_ok" + _labels({**target[pc.name], **pc_role}),
                 [float(pc.spec_ok)] * SAMPLES) for pc in live)
    yield from (("wardwatch_vclient_installed", "gauge", "wardwatch_vclient_installed" + _labels(
        {**target[pc.name], **pc_role, "product": "vdi-client"}), [float(bool(pc.vclient))] * SAMPLES)
        for pc in live if pc.vclient is not None)
    yield from (("wardwatch_printer_up", "gauge", "wardwatch_printer_up" + _labels(
        {**target[pc.name], **pc_role, "printer": p.name}), [float(p.up)] * SAMPLES)
        for pc in live for p in pc.printers)
    yield from (("wardwatch_printer_problem", "gauge", "wardwatch_printer_problem" + _labels(
        {**target[pc.name], **pc_role, "printer": p.name, "problem": prob}), [1.0] * SAMPLES)
        for pc in live for p in pc.printers for prob in p.problems)
    yield from (("wardwatch_scanner_up", "gauge", "wardwatch_scanner_up" + _labels(
        {**target[pc.name], **pc_role, "scanner": s.name}), [float(s.up)] * SAMPLES)
        for pc in live for s in pc.scanners)
    for fam in ("wardwatch_wan_up", "wardwatch_wan_degraded", "wardwatch_wan_loss_ratio"):
        for pc in live:
            for t in pc.wan:
                v = float(t.up) if fam == "wardwatch_wan_up" else float(t.degraded) if fam.endswith("degraded") \
                    else t.loss
                yield fam, "gauge", fam + _labels({**target[pc.name], "target": t.name, "role": t.role}), [v] * SAMPLES
    for part in ("sum", "count"):
        fam = f"wardwatch_wan_rtt_seconds_{part}"
        for pc in live:
            for t in pc.wan:
                if not t.up:
                    continue
                per_step = STEP * 0.2 * (t.rtt if part == "sum" else 1.0)
                yield fam, "unknown", fam + _labels({**target[pc.name], "target": t.name, "role": t.role}), \
                    [round(1000 + i * per_step, 6) for i in range(SAMPLES)]


def write_inputs(fleet: Fleet, end: float, om_path: Path, vm_path: Path) -> int:
    """The same samples as OpenMetrics (seconds, for promtool) and Prometheus text (milliseconds, for
    VictoriaMetrics' import); the number of series."""
    stamps = [end - (SAMPLES - 1 - i) * STEP for i in range(SAMPLES)]
    n, family = 0, None
    with om_path.open("w") as om, vm_path.open("w") as vm:
        for fam, typ, name, values in series(fleet, end):
            if fam != family:
                om.write(f"# TYPE {fam} {typ}\n")
                family = fam
            n += 1
            om.write("".join(f"{name} {v:g} {ts:.3f}\n" for v, ts in zip(values, stamps, strict=True)))
            vm.write("".join(f"{name} {v:g} {int(ts * 1000)}\n" for v, ts in zip(values, stamps, strict=True)))
        om.write("# EOF\n")
    return n


def vm_import(base: str, path: Path, chunk: int = 32 << 20) -> None:
    with path.open("rb") as f:
        while True:
            data = f.read(chunk)
            if not data:
                break
            data += f.readline()  # whole lines only
            req = urllib.request.Request(f"{base}/api/v1/import/prometheus", data=data, method="POST")
            with urllib.request.urlopen(req, timeout=600) as r:
                assert r.status in (200, 204), r.status
    with urllib.request.urlopen(f"{base}/internal/force_flush", timeout=120):
        pass


def rss_mib(base: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=30) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("process_resident_memory_bytes "):
                return float(line.split()[1]) / 2**20
    return float("nan")


def du_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def report(fleet: Fleet, url: str, at: float) -> tuple[rd.Report, float]:
    communes = {}
    for c in fleet.communes.values():
        communes[c.district, c.commune] = (c.district, c.district_name, c.commune, c.name, sorted(c.pcs))
    scope = rd.Scope(list(communes.values()))
    rd.build(scope, Prometheus(url, timeout=600), at=at)  # warm-up: the engines' caches, as in daily use
    t0 = time.perf_counter()
    r = rd.build(scope, Prometheus(url, timeout=600), at=at)
    return r, time.perf_counter() - t0


def run(quick: bool) -> list[Row]:
    districts, communes, pcs = (10, 10, 10) if quick else (100, 100, 10)
    tmp = Path(tempfile.mkdtemp(prefix="wardwatch-bench-city-"))
    try:
        return _run(tmp, districts, communes, pcs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(tmp: Path, districts: int, communes: int, pcs: int) -> list[Row]:
    fleet = Fleet.generate(districts, communes, pcs, seed=SEED)
    truth = fleet.truth()
    end = float(int(time.time()) - 3 * 3600)  # in the past: Prometheus serves it from blocks, not its head
    t0 = time.perf_counter()
    n_series = write_inputs(fleet, end, tmp / "fleet.om", tmp / "fleet.prom")
    gen = time.perf_counter() - t0

    prom_tmp = tmp / "prometheus"
    t0 = time.perf_counter()
    subprocess.run([need("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q", str(tmp / "fleet.om"),
                    str(prometheus_data(prom_tmp))], check=True, capture_output=True, timeout=3600)
    prom_load = time.perf_counter() - t0
    (tmp / "fleet.om").unlink()
    results = {}
    cfg = {"global": {"scrape_interval": "60s"}, "scrape_configs": []}
    with prometheus_from(prom_tmp, cfg, ["--storage.tsdb.retention.time=30d"]) as url:
        r, secs = report(fleet, url, end)
        results["Prometheus"] = (r, secs, prom_load, rss_mib(url), du_mib(prometheus_data(prom_tmp)))
    with victoria_metrics(tmp / "vm", memory=VM_MEMORY, extra_args=["-search.maxUniqueTimeseries=5000000"]) as url:
        t0 = time.perf_counter()
        vm_import(url, tmp / "fleet.prom")
        vm_load = time.perf_counter() - t0
        r, secs = report(fleet, url, end)
        results["VictoriaMetrics"] = (r, secs, vm_load, rss_mib(url), du_mib(tmp / "vm" / "vm-data"))

    def verdicts(r: rd.Report) -> dict:
        return {c.key: c.reasons for c in r.communes}

    same = sum(a == b for a, b in zip(verdicts(results["Prometheus"][0]).items(),
                                      verdicts(results["VictoriaMetrics"][0]).items(), strict=True))
    what = f"{len(fleet.pcs):,} PCs / {len(fleet.communes):,} communes"
    rows = [Row("city_tier", f"series loaded ({what}, {SAMPLES} samples each)", n_series, "series", "-", None),
            Row("city_tier", "writing the inputs (Python)", gen, "s", "-", None)]
    p, v = results["Prometheus"], results["VictoriaMetrics"]
    rows += [
        Row("city_tier", "readiness report: VictoriaMetrics | Prometheus", v[1], "s", "Prometheus", p[1]),
        Row("city_tier", "readiness report, VictoriaMetrics", v[1], "s", "target", 5.0),
        Row("city_tier", "readiness report, Prometheus", p[1], "s", "target", 5.0),
        Row("city_tier", "PromQL queries: VictoriaMetrics | Prometheus", v[0].queries, "queries", "Prometheus",
            p[0].queries),
        Row("city_tier", "PromQL queries, each engine", v[0].queries, "queries", "target", 12),
        Row("city_tier", "verdicts = ground truth: VictoriaMetrics | Prometheus",
            sum(truth[c.key] == c.reasons for c in v[0].communes), "communes", "Prometheus",
            sum(truth[c.key] == c.reasons for c in p[0].communes), better="higher"),
        Row("city_tier", "same verdicts and reasons on both engines", same, "communes", "communes",
            len(fleet.communes), better="higher"),
        Row("city_tier", "load: VM import | promtool backfill", v[2], "s", "Prometheus", p[2]),
        Row("city_tier", "disk: VictoriaMetrics | Prometheus", v[4], "MiB", "Prometheus", p[4]),
        Row("city_tier", "disk per series: VictoriaMetrics", v[4] * 2**20 / n_series, "bytes", "Prometheus",
            p[4] * 2**20 / n_series),
        Row("city_tier", "RSS after the report: VictoriaMetrics | Prometheus", v[3], "MiB", "Prometheus", p[3]),
    ]
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    from bench.run import table

    print(table(run("--quick" in sys.argv)))
