"""The readiness report at national scale, Prometheus and VictoriaMetrics side by side.

- `--source recorded` (the city tier, docs/city-tier.md) for 100,000 PCs in 10,000 communes
  (--quick: 1,000 PCs in 100): each PC's `up` and the district rules' per-commune series, as the
  district servers remote-write them;
- `--source raw` (the agents' own series: up, spec, client, printers, scanners, WAN up/degraded/
  loss/RTT) for 10,000 PCs in 1,000 communes (--quick: 1,000), for comparison;
- bytes per sample over six hours of every series the simulator has, for retention sizing.

The fleet is the simulator's (tests/fleet_sim.py: its faults and ground truth), three samples a
minute apart, loaded into Prometheus 2.42 (`promtool tsdb create-blocks-from openmetrics`, then
started on those blocks) and VictoriaMetrics (Debian's victoria-metrics, POST
/api/v1/import/prometheus). Figures per engine: load time, the report's wall time (the second of
two runs: the first warms the caches) and PromQL queries (fleet/readiness.py), verdicts equal to the
ground truth and between the engines, disk, resident memory.
"""

from __future__ import annotations

import os
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


def recorded_series(fleet: Fleet, now: float) -> Iterator[tuple[str, str, str, list[float]]]:
    """What `--source recorded` reads, as the district servers would have remote-written it: each PC's
    `up`, the printers' active problems, and the per-commune series of alerts/rules/district.rules.yml,
    computed here from the simulator's model the way those rules compute them (what the rules give on
    a real Prometheus and VictoriaMetrics is tested in tests/dashboards/test_city_tier.py)."""
    def ext(pc_or_commune) -> dict[str, str]:
        return {"prometheus": f"district-{pc_or_commune.district}"}

    for fam, typ, name, values in series(fleet, now):
        if fam in ("up", "wardwatch_printer_problem"):
            yield fam, typ, name, values
    per_commune: dict[str, list[tuple[str, float]]] = {}
    per_target: dict[str, list[tuple[str, float]]] = {}
    for c in fleet.communes.values():
        pcs = [fleet.pcs[p] for p in c.pcs if fleet.pcs[p].state != UNSEEN]
        if not pcs:
            continue
        live = [pc for pc in pcs if pc.state == UP]
        lab = _labels({"district": c.district, "commune": c.commune, **ext(c)})
        printers: dict[str, bool] = {}
        scanners: dict[str, bool] = {}
        for pc in live:
            for pr in pc.printers:
                printers[pr.name] = printers.get(pr.name, False) or pr.up
            for sc in pc.scanners:
                scanners[sc.name] = scanners.get(sc.name, False) or sc.up
        paths: dict[tuple[str, str], list] = {}
        for pc in live:
            for t in pc.wan:
                paths.setdefault((t.name, t.role), []).append(t)
        required = [(k, ts) for k, ts in paths.items() if k[1] in ("portal", "gateway")]
        values = {
            "pcs": len(pcs), "pcs_reporting": len(live), "pcs_spec_ok": sum(pc.spec_ok for pc in live),
            "vclient_installed": sum(bool(pc.vclient) for pc in live),
            "printers": len(printers), "printers_working": sum(printers.values()),
            "scanners": len(scanners), "scanners_working": sum(scanners.values()),
            "wan_targets": len(required), "wan_targets_down": sum(not any(t.up for t in ts) for _, ts in required),
            "wan_targets_degraded": sum(any(t.up for t in ts) and not any(t.up and not t.degraded for t in ts)
                                        for _, ts in required),
        }
        for k, v in values.items():
            per_commune.setdefault(f"commune:wardwatch_{k}:count", []).append((lab, float(v)))
        for (target, role), ts in paths.items():
            tl = _labels({"district": c.district, "commune": c.commune, "target": target, "role": role, **ext(c)})
            reached = any(t.up for t in ts)
            per_target.setdefault("commune_target:wardwatch_wan_up:max", []).append((tl, float(reached)))
            per_target.setdefault("commune_target:wardwatch_wan_degraded:bool", []).append(
                (tl, float(reached and not any(t.up and not t.degraded for t in ts))))
            per_target.setdefault("commune_target:wardwatch_wan_loss_ratio:avg", []).append(
                (tl, sum(t.loss for t in ts) / len(ts)))
            up = [t for t in ts if t.up]
            if up:
                per_target.setdefault("commune_target:wardwatch_wan_rtt_seconds:mean", []).append(
                    (tl, sum(t.rtt for t in up) / len(up)))
    for fam, rows in (*per_commune.items(), *per_target.items()):
        for lab, v in rows:
            yield fam, "gauge", fam + lab, [v] * SAMPLES


def write_inputs(fleet: Fleet, end: float, om_path: Path, vm_path: Path, source: str = "raw") -> int:
    """The same samples as OpenMetrics (seconds, for promtool) and Prometheus text (milliseconds, for
    VictoriaMetrics' import); the number of series."""
    stamps = [end - (SAMPLES - 1 - i) * STEP for i in range(SAMPLES)]
    n, family = 0, None
    with om_path.open("w") as om, vm_path.open("w") as vm:
        for fam, typ, name, values in (series if source == "raw" else recorded_series)(fleet, end):
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


def server_cpu(data_dir: Path) -> float:
    """CPU seconds (user + system) so far of the server started on `data_dir` (found by that path)."""
    out = subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True, text=True).stdout.split()
    total = 0.0
    for pid in out:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def report(fleet: Fleet, url: str, at: float, source: str, data_dir: Path,
           parallel: int = rd.PARALLEL) -> tuple[rd.Report, float, float, float]:
    """The report (the second of two runs); its wall time, the server's and this process's CPU seconds."""
    communes = {}
    for c in fleet.communes.values():
        communes[c.district, c.commune] = (c.district, c.district_name, c.commune, c.name, sorted(c.pcs))
    scope = rd.Scope(list(communes.values()))
    # warm-up: the caches, as in daily use
    rd.build(scope, Prometheus(url, timeout=600), at=at, source=source, parallel=parallel)
    t0, c0, s0 = time.perf_counter(), time.process_time(), server_cpu(data_dir)
    r = rd.build(scope, Prometheus(url, timeout=600), at=at, source=source, parallel=parallel)
    return r, time.perf_counter() - t0, server_cpu(data_dir) - s0, time.process_time() - c0


def command(fleet: Fleet, inventory: Path, url: str, at: float, source: str) -> float:
    """The whole `wardwatch readiness` as an operator runs it (a new process: the inventory read, the
    queries, the JSON written): its wall time, the second of two runs."""
    out = inventory.parent / "readiness.json"
    cmd = [sys.executable, "-m", "fleet", "readiness", "-i", str(inventory), "--prometheus", url,
           "--source", source, "--at", f"{at:.0f}", "--format", "json", "--out", str(out), "-q", "--timeout", "600"]
    for _ in range(2):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        secs = time.perf_counter() - t0
        assert done.returncode in (0, 1), done.stderr
    return secs


def run(quick: bool) -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="wardwatch-bench-city-"))
    try:
        # the city tier's report (--source recorded) at national scale; the agents' series (--source raw)
        # at a district's scale, beside it
        parts = os.environ.get("WARDWATCH_BENCH_CITY_PARTS", "recorded,raw,retention").split(",")
        rows = []
        if "recorded" in parts:
            rows += _run(tmp / "recorded", *((10, 10, 10) if quick else (100, 100, 10)), source="recorded")
        if "raw" in parts:
            rows += _run(tmp / "raw", *((10, 10, 10) if quick else (20, 50, 10)), source="raw")
        if "retention" in parts:
            rows += _retention(tmp / "retention", 20 if quick else 200, 60 if quick else 360)
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _retention(tmp: Path, n_pcs: int, steps: int, step: float = 60.0) -> list[Row]:
    """Bytes per sample over time: `n_pcs` PCs with every series the simulator has (fleet.details),
    `steps` samples a `step` apart (counters advancing, loss and RTT as the simulator has them),
    in both engines."""
    tmp.mkdir(parents=True)
    fleet = Fleet.generate(max(1, n_pcs // 50), 10, 5, seed=SEED)
    fleet.details = True
    live = [pc for pc in fleet.pcs.values() if pc.state == UP]
    end = float(int(time.time()) - 3 * 3600)
    start = end - (steps - 1) * step
    for pc in live:
        for t in pc.wan:
            t.since = start
    parts: dict[str, list[str]] = {}
    types: dict[str, str] = {}
    vm_lines = (tmp / "r.prom").open("w")
    n_samples = 0
    names: set[str] = set()
    for i in range(steps):
        ts = start + i * step
        for pc in live:
            target = {"instance": pc.name, "job": JOB, "district": pc.district, "commune": pc.commune}
            for fam, typ, samples in fleet.samples(pc, ts):
                typ = "unknown" if typ in ("histogram", "counter") else typ
                for name, lab, v in samples:
                    key = name + _labels({**target, "role": "pc", **lab})
                    names.add(key)
                    fam_key = name if typ == "unknown" else fam
                    types[fam_key] = typ
                    parts.setdefault(fam_key, []).append(f"{key} {v:g} {ts:.3f}\n")
                    vm_lines.write(f"{key} {v:g} {int(ts * 1000)}\n")
                    n_samples += 1
    vm_lines.close()
    with (tmp / "r.om").open("w") as om:
        for fam, lines in parts.items():
            om.write(f"# TYPE {fam} {types[fam]}\n")
            lines.sort(key=lambda line: line.rsplit(" ", 2)[0])  # one series' samples together, in time order
            om.writelines(lines)
        om.write("# EOF\n")
    parts.clear()
    prom_tmp = tmp / "prometheus"
    subprocess.run([need("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q", str(tmp / "r.om"),
                    str(prometheus_data(prom_tmp))], check=True, capture_output=True, timeout=3600)
    prom_disk = du_mib(prometheus_data(prom_tmp))
    with victoria_metrics(tmp / "vm", memory="1GiB") as url:
        vm_import(url, tmp / "r.prom")
    vm_disk = du_mib(tmp / "vm" / "vm-data")
    n_series = len(names)
    what = f"{len(live)} PCs x {n_series // max(1, len(live))} series, {steps} samples {step:g}s apart"
    return [
        Row("city_tier", f"bytes per sample ({what}): VictoriaMetrics | Prometheus",
            vm_disk * 2**20 / n_samples, "bytes", "Prometheus", prom_disk * 2**20 / n_samples),
        Row("city_tier", "series per PC (simulator, every family)", n_series / max(1, len(live)), "series",
            "design budget", 150),
    ]


def _run(tmp: Path, districts: int, communes: int, pcs: int, source: str) -> list[Row]:
    tmp.mkdir(parents=True)
    fleet = Fleet.generate(districts, communes, pcs, seed=SEED)
    truth = fleet.truth()
    end = float(int(time.time()) - 3 * 3600)  # in the past: Prometheus serves it from blocks, not its head
    t0 = time.perf_counter()
    n_series = write_inputs(fleet, end, tmp / "fleet.om", tmp / "fleet.prom", source)
    gen = time.perf_counter() - t0

    (tmp / "inventory.yml").write_text(fleet.inventory_yaml())
    prom_tmp = tmp / "prometheus"
    t0 = time.perf_counter()
    subprocess.run([need("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q", str(tmp / "fleet.om"),
                    str(prometheus_data(prom_tmp))], check=True, capture_output=True, timeout=3600)
    prom_load = time.perf_counter() - t0
    (tmp / "fleet.om").unlink()
    results = {}
    cfg = {"global": {"scrape_interval": "60s"}, "scrape_configs": []}
    with prometheus_from(prom_tmp, cfg, ["--storage.tsdb.retention.time=30d"]) as url:
        serial = {"Prometheus": report(fleet, url, end, source, prometheus_data(prom_tmp), parallel=1)[1]}
        r, secs, cpu, py = report(fleet, url, end, source, prometheus_data(prom_tmp))
        results["Prometheus"] = (r, secs, prom_load, rss_mib(url), du_mib(prometheus_data(prom_tmp)), cpu, py)
        whole = {"Prometheus": command(fleet, tmp / "inventory.yml", url, end, source)}
    with victoria_metrics(tmp / "vm", memory=VM_MEMORY, extra_args=["-search.maxUniqueTimeseries=5000000"]) as url:
        t0 = time.perf_counter()
        vm_import(url, tmp / "fleet.prom")
        vm_load = time.perf_counter() - t0
        serial["VictoriaMetrics"] = report(fleet, url, end, source, tmp / "vm" / "vm-data", parallel=1)[1]
        r, secs, cpu, py = report(fleet, url, end, source, tmp / "vm" / "vm-data")
        results["VictoriaMetrics"] = (r, secs, vm_load, rss_mib(url), du_mib(tmp / "vm" / "vm-data"), cpu, py)
        whole["VictoriaMetrics"] = command(fleet, tmp / "inventory.yml", url, end, source)
    (tmp / "fleet.prom").unlink()

    def verdicts(r: rd.Report) -> dict:
        return {c.key: c.reasons for c in r.communes}

    same = sum(a == b for a, b in zip(verdicts(results["Prometheus"][0]).items(),
                                      verdicts(results["VictoriaMetrics"][0]).items(), strict=True))
    what = f"--source {source}, {len(fleet.pcs):,} PCs / {len(fleet.communes):,} communes"
    b = "city_tier"
    p, v = results["Prometheus"], results["VictoriaMetrics"]
    return [
        Row(b, f"[{what}] series loaded ({SAMPLES} samples each)", n_series, "series", "-", None),
        Row(b, f"[{what}] writing the inputs (Python)", gen, "s", "-", None),
        Row(b, f"[{what}] report: VictoriaMetrics | Prometheus", v[1], "s", "Prometheus", p[1]),
        Row(b, f"[{what}] report, VictoriaMetrics", v[1], "s", "target", 5.0),
        Row(b, f"[{what}] report, Prometheus", p[1], "s", "target", 5.0),
        *(Row(b, f"[{what}] report, {e}: {rd.PARALLEL} queries at once | one at a time", results[e][1], "s",
              "serial", serial[e]) for e in ("VictoriaMetrics", "Prometheus")),
        *(Row(b, f"[{what}] whole `wardwatch readiness` (inventory read, JSON written), {e}", whole[e], "s",
              "target", 5.0) for e in ("VictoriaMetrics", "Prometheus")),
        Row(b, f"[{what}] report, server CPU: VictoriaMetrics | Prometheus", v[5], "cpu-s", "Prometheus", p[5]),
        Row(b, f"[{what}] report, wardwatch's CPU (parse, judge): on VM | on Prometheus", v[6], "cpu-s",
            "Prometheus", p[6]),
        Row(b, f"[{what}] PromQL queries: VictoriaMetrics | Prometheus", v[0].queries, "queries", "Prometheus",
            p[0].queries),
        Row(b, f"[{what}] PromQL queries, each engine", v[0].queries, "queries", "target", 12),
        Row(b, f"[{what}] verdicts = ground truth: VictoriaMetrics | Prometheus",
            sum(truth[c.key] == c.reasons for c in v[0].communes), "communes", "Prometheus",
            sum(truth[c.key] == c.reasons for c in p[0].communes), better="higher"),
        Row(b, f"[{what}] same verdicts and reasons on both engines", same, "communes", "communes",
            len(fleet.communes), better="higher"),
        Row(b, f"[{what}] load: VM import | promtool backfill", v[2], "s", "Prometheus", p[2]),
        Row(b, f"[{what}] disk: VictoriaMetrics | Prometheus", v[4], "MiB", "Prometheus", p[4]),
        Row(b, f"[{what}] RSS after the report: VictoriaMetrics | Prometheus", v[3], "MiB", "Prometheus", p[3]),
    ]

if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    from bench.run import table

    print(table(run("--quick" in sys.argv)))
