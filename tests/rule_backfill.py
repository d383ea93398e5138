"""A past fortnight in a real Prometheus, with the real rules: series written as TSDB blocks
with `promtool tsdb create-blocks-from openmetrics`, then the rule files evaluated over them.

Recording rules: `promtool tsdb create-blocks-from rules` evaluates every rule of a file
against the data as it was before the run ("rules in the same group cannot see the results of
previous rules"), and alerting rules not at all. So the rules are evaluated here level by level
(a rule's level is one more than that of the rules whose series it reads), each with a range
query at the evaluation interval (Prometheus evaluates the same PromQL at the same instants),
the results written as blocks, Prometheus restarted to load them. Alerting rules at the level
after the series they read: their expression evaluated the same way, then Prometheus's `for:`
semantics (pending from the first instant the expression holds, firing once it has held for
`for`, gone when it no longer holds) give the `ALERTS{alertstate="firing"}` series.

Series are OpenMetrics text split per day (promtool reads its whole input once per 2-hour
block), with their labels; each series' samples in time order; the days' files are turned into
blocks a few at a time (promtool mostly waits on writing its blocks).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import yaml
from support import need, prometheus_data, prometheus_from

Labels = tuple[tuple[str, str], ...]
MAX_POINTS = 11_000
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
RETENTION = ["--storage.tsdb.retention.time=3650d"]


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Blocks:
    """OpenMetrics files, one per `split` seconds (promtool reads its whole input once per 2-hour
    block), turned into TSDB blocks in the data directory of the Prometheus started in `tmp`.
    Series are added one at a time, each family's series one after the other."""

    def __init__(self, tmp: Path, split: float = 86400.0):
        self.tmp, self.split = tmp, split
        self.files: dict[int, tuple[object, list[str]]] = {}  # index -> (file, [current family])

    def add(self, name: str, labels: dict[str, str], points) -> None:
        text = name + "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"
        for t, v in points:
            i = int(t // self.split)
            if i not in self.files:
                self.files[i] = (open(self.tmp / f"backfill-{i}.om", "w"), [""])  # noqa: SIM115
            f, family = self.files[i]
            if family[0] != name:
                f.write(f"# TYPE {name} gauge\n")
                family[0] = name
            f.write(f"{text} {'NaN' if v != v else f'{v:g}'} {t:.3f}\n")

    def write(self, parallel: int = 5) -> None:
        """promtool on every file, a few at a time (each mostly waits on its block writes)."""
        data = prometheus_data(self.tmp)
        data.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, (f, _) in sorted(self.files.items()):
            f.write("# EOF\n")
            f.close()
            paths.append(self.tmp / f"backfill-{i}.om")
        self.files.clear()
        running: list[tuple[Path, subprocess.Popen]] = []
        while paths or running:
            while paths and len(running) < parallel:
                om = paths.pop()
                running.append((om, subprocess.Popen([need("promtool"), "tsdb", "create-blocks-from", "openmetrics",
                                                      "-q", str(om), str(data)], stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.PIPE)))
            om, proc = running.pop(0)
            _, err = proc.communicate(timeout=600)
            om.unlink()
            assert proc.returncode == 0, err[-2000:]


def query_range(base: str, expr: str, start: float, end: float, step: float) -> list[dict]:
    """Every point of `expr` over [start, end] at `step`, in chunks Prometheus accepts."""
    out: dict[Labels, list[tuple[float, float]]] = {}
    t0 = start
    while t0 <= end:
        t1 = min(end, t0 + (MAX_POINTS - 1) * step)
        body = urllib.parse.urlencode({"query": expr, "start": f"{t0:.3f}", "end": f"{t1:.3f}",
                                       "step": f"{step:g}"}).encode()
        with urllib.request.urlopen(f"{base}/api/v1/query_range", data=body, timeout=120) as r:
            doc = json.loads(r.read())
        assert doc["status"] == "success", doc
        for s in doc["data"]["result"]:
            key = tuple(sorted(s["metric"].items()))
            out.setdefault(key, []).extend((float(t), float(v)) for t, v in s["values"])
        t0 = t1 + step
    return [{"metric": dict(k), "values": v} for k, v in out.items()]


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhdw])", text))


def load_rules(rule_files: list[Path], keep=lambda rule: True) -> list[dict]:
    rules = []
    for f in rule_files:
        for group in yaml.safe_load(f.read_text())["groups"]:
            rules += [r for r in group["rules"] if keep(r)]
    return rules


def levels(rules: list[dict]) -> list[list[dict]]:
    """Rules by level: a rule (recording or alerting) comes after every recording rule whose
    series it reads."""
    recorded = {r["record"] for r in rules if "record" in r}
    level: dict[str, int] = {}

    def of(rule: dict) -> int:
        deps = {n for n in NAME.findall(rule["expr"]) if n in recorded and n != rule.get("record")}
        return 1 + max((level_of(d) for d in deps), default=0)

    def level_of(name: str) -> int:
        if name not in level:
            level[name] = max(of(r) for r in rules if r.get("record") == name)
        return level[name]

    out: dict[int, list[dict]] = {}
    for r in rules:
        out.setdefault(level_of(r["record"]) if "record" in r else of(r), []).append(r)
    return [out[k] for k in sorted(out)]


def firing(points: list, hold: float, step: float) -> list[float]:
    """The instants an alert with this `for:` is firing, given the instants its expression held."""
    out, active_at, prev = [], None, None
    for t in sorted(float(p[0]) for p in points):
        if prev is None or t - prev > step * 1.5:
            active_at = t  # (re)starts pending: the expression did not hold at the previous evaluation
        prev = t
        if t - active_at >= hold:
            out.append(t)
    return out


def with_ends(stamps: list[float], step: float) -> list[tuple[float, float]]:
    """ALERTS samples (1) of the firing instants, and NaN at the evaluation after each run: where
    Prometheus writes a staleness marker when the alert resolves (OpenMetrics cannot carry one; a
    plain NaN also ends what a query sees of the series within its lookback)."""
    out: list[tuple[float, float]] = []
    for i, t in enumerate(stamps):
        out.append((t, 1.0))
        if i + 1 == len(stamps) or stamps[i + 1] - t > step * 1.5:
            out.append((t + step, float("nan")))
    return out


@contextlib.contextmanager
def with_rules(tmp: Path, blocks: Blocks, rule_files: list[Path], start: float, end: float, step: float,
               keep=lambda rule: True) -> Iterator[str]:
    """Prometheus (base URL) holding the series added to `blocks` and the results of the rules
    over [start, end] at `step`."""
    config = {"global": {"scrape_interval": f"{step:g}s", "evaluation_interval": f"{step:g}s"},
              "scrape_configs": []}
    blocks.write()
    for group in levels(load_rules(rule_files, keep)):
        alerts: dict[Labels, list[float]] = {}
        with prometheus_from(tmp, config, RETENTION) as base:
            # same-name rules one after the other: a family's series stay together in the files
            for rule in sorted(group, key=lambda r: r.get("record", "")):
                for s in query_range(base, rule["expr"], start, end, step):
                    labels = {k: v for k, v in s["metric"].items() if k != "__name__"}
                    labels.update(rule.get("labels") or {})
                    if "record" in rule:
                        blocks.add(rule["record"], labels, [(float(t), float(v)) for t, v in s["values"]])
                    else:
                        labels.update(alertname=rule["alert"], alertstate="firing")
                        stamps = firing(s["values"], _duration(str(rule.get("for", "0s"))), step)
                        if stamps:
                            key = tuple(sorted(labels.items()))
                            alerts[key] = sorted(set(alerts.get(key, []) + stamps))
        for key, stamps in alerts.items():
            blocks.add("ALERTS", dict(key), with_ends(stamps, step))
        blocks.write()
    with prometheus_from(tmp, config, RETENTION) as base:
        yield base
