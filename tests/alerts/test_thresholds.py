"""One owner per threshold: the alerts fire for a PC exactly when its own `check` calls it degraded.

Real agents' WAN collectors, each with its own `thresholds:` config, probe real servers on loopback
(a TCP listener and an HTTPS server whose certificate expires in 10 days). Each agent's samples are
what Prometheus would scrape from it; promtool runs the production rules over them, and the
alerts that fire must be exactly the ones the same samples' `check` rows call for: a WAN target
DEGRADED for high latency / loss / jitter -> WANLatencyHigh / WANPacketLoss / WANJitterHigh
(warning) for that commune and target; a certificate row failing -> CertificateExpiring (warning)
for that district and target. Readiness's per-target verdict must agree too.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import subprocess
import time

import pytest
import yaml
from alerting_support import ALERTS
from support import need, self_signed, wait_until
from wan_servers import http_server, tcp_listener

from agent import config as cfg
from agent.collectors.base import Context, Sample
from agent.collectors.wan import WanCollector
from agent.platform import current
from agent.report import FAIL
from agent.report import wan as wan_report

# Each PC's own thresholds (agent config `thresholds:`), chosen so that the loopback readings fall
# on both sides of them: a threshold of 0 makes any reading above 0 degraded.
PCS = {
    "pc_a": {"wan_rtt_degraded": 0, "wan_cert_expiry_warning": "14d"},
    "pc_b": {"wan_jitter_degraded": 0, "wan_cert_expiry_warning": "7d"},
    "pc_c": {},  # the defaults
}
ALERT_FOR_REASON = {"high latency": "WANLatencyHigh", "high loss": "WANPacketLoss", "high jitter": "WANJitterHigh"}
READING = {"WANLatencyHigh": "wardwatch_wan_rtt_median_seconds", "WANPacketLoss": "wardwatch_wan_loss_ratio",
           "WANJitterHigh": "wardwatch_wan_jitter_seconds"}
GROUP_ORDER = ["wardwatch.commune", "wardwatch.alerts.link", "wardwatch.alerts.wan", "wardwatch.alerts.devices",
               "wardwatch.alerts.commune", "wardwatch.alerts.pc"]


@pytest.fixture(scope="module")
def scrapes(tmp_path_factory) -> dict[str, tuple[float, list[Sample]]]:
    """PC name -> (when, the samples its agent's WAN collector gives then), two probe rounds in at least."""
    tmp = tmp_path_factory.mktemp("thresholds")
    cert = self_signed(tmp, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=10))
    out = {}
    with http_server(cert) as https, tcp_listener() as tcp_port:
        common = {"interval": 0.5, "timeout": 0.4}
        targets = [
            {"name": "vdi", "role": "gateway", "kind": "tcp", "address": "127.0.0.1", "port": tcp_port, **common},
            {"name": "portal", "role": "portal", "kind": "http", "address": https + "/", "ca_file": str(cert.cert),
             **common},
        ]
        for pc, thresholds in PCS.items():
            state = tmp / pc
            doc = {"state_dir": str(state), "thresholds": thresholds, "collectors": {"wan": {"targets": targets}}}
            settings = cfg.loads(yaml.safe_dump(doc), f"{pc}.yml")
            c = WanCollector(settings.collectors.wan, Context(settings, current(), str(state)))
            try:
                # Jitter needs two round-trip times per target: wait for the second round.
                def jitter_known(c: WanCollector = c) -> list[Sample] | None:
                    samples = c.collect()
                    jitters = [s for s in samples if s.name == "wardwatch_wan_jitter_seconds"]
                    return samples if len(jitters) == 2 and all(math.isfinite(s.value) for s in jitters) else None

                samples = wait_until(jitter_known, timeout=20, what=f"{pc}: two probe rounds")
                out[pc] = (time.time(), samples)
            finally:
                c.close()
    return out


def where(pc: str) -> dict[str, str]:
    """Each PC in its own district and commune, so that every alert names one PC's verdicts."""
    return {"job": "wardwatch", "instance": f"{pc}:10713", "district": f"d_{pc}", "commune": f"c_{pc}"}


def expected(scrapes: dict[str, tuple[float, list[Sample]]]) -> tuple[set[tuple], set[tuple]]:
    """From each PC's check rows: the alerts due, and the (commune, target) pairs it calls degraded."""
    critical = yaml.safe_load((ALERTS / "config.yml").read_text(encoding="utf-8"))["alerts"]
    alerts, degraded = set(), set()
    for pc, (when, samples) in scrapes.items():
        lab = where(pc)
        for row in wan_report.rows(samples, "en", now=when):
            kind, _, target = row.key.partition(":")
            role = next(s.labels["role"] for s in samples
                        if s.name == "wardwatch_wan_target_info" and s.labels["target"] == target)
            if kind == "target" and row.detail.startswith("DEGRADED: "):
                degraded.add((lab["commune"], target))
                for reason in row.detail.removeprefix("DEGRADED: ").split("; ")[0].split(", "):
                    name = ALERT_FOR_REASON[reason]
                    alerts.add((name, "warning", lab["district"], lab["commune"], target, role))
                    value = next(s.value for s in samples
                                 if s.labels.get("target") == target and s.name == READING[name])
                    if "critical" in critical[name] and value > critical[name]["critical"]["above"]:
                        alerts.add((name, "critical", lab["district"], lab["commune"], target, role))
            elif kind == "cert" and row.status == FAIL:
                alerts.add(("CertificateExpiring", "warning", lab["district"], "", target, role))
                expiry = next(s.value for s in samples if s.labels.get("target") == target
                              and s.name == "wardwatch_wan_cert_expiry_timestamp_seconds")
                if expiry - when < critical["CertificateExpiring"]["critical"]["days"] * 86400:
                    alerts.add(("CertificateExpiring", "critical", lab["district"], "", target, role))
    return alerts, degraded


def series_line(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())) + "}"


def test_alerts_fire_exactly_when_the_pcs_own_check_says_so(scrapes, tmp_path):
    alerts, degraded = expected(scrapes)
    # The thresholds put the readings on both sides: some of each, or the test proves nothing.
    names = {a[0] for a in alerts}
    assert {"WANLatencyHigh", "WANJitterHigh", "CertificateExpiring"} <= names, alerts
    # pc_c runs the defaults: loopback is far under 200 ms and 5% loss, and the certificate's
    # 10 days are under the default 14: only CertificateExpiring.
    assert {a for a in alerts if a[2] == "d_pc_c"} == {
        ("CertificateExpiring", "warning", "d_pc_c", "", "portal", "portal")}

    # promtool's clock starts at 0 and the alerts' `for:` is at most 1h: evaluate at 70m, with the
    # certificates' expiry moved so that at 70m they are as far off as they were at the scrape.
    at = 70 * 60
    inputs = []
    for pc, (when, samples) in scrapes.items():
        # The agent's series with the target labels the scrape adds; role="pc" on every series but
        # the WAN ones, which keep their own (prometheus-district.yml's relabelling).
        for s in samples:
            if not math.isfinite(s.value):
                continue
            value = s.value - when + at if s.name == "wardwatch_wan_cert_expiry_timestamp_seconds" else s.value
            labels = {**where(pc), "role": "pc", **s.labels}
            inputs.append({"series": series_line(s.name, labels), "values": f"{value!r}x80"})
    firing = 'count by (alertname, severity, district, commune, target, role) (ALERTS{alertstate="firing"})'
    test = {
        "rule_files": [str(ALERTS / "rules" / "district.rules.yml")],
        "evaluation_interval": "1m",
        "group_eval_order": GROUP_ORDER,
        "tests": [{
            "interval": "1m",
            "input_series": inputs,
            "promql_expr_test": [
                {"expr": firing, "eval_time": "70m",
                 "exp_samples": [{"labels": series_line("", {"alertname": n, "severity": sev, "district": d,
                                                              **({"commune": c} if c else {}), "target": t, "role": r}),
                                  "value": 1} for n, sev, d, c, t, r in sorted(alerts)]},
                # Readiness's per-target verdict: degraded exactly where check says DEGRADED.
                {"expr": "commune_target:wardwatch_wan_degraded:bool == 1", "eval_time": "70m",
                 "exp_samples": [{"labels": series_line("commune_target:wardwatch_wan_degraded:bool", {
                     "district": "d_" + c.removeprefix("c_"), "commune": c, "target": t,
                     "role": "gateway" if t == "vdi" else "portal"}), "value": 1} for c, t in sorted(degraded)]},
            ],
        }],
    }
    path = tmp_path / "agreement.yml"
    path.write_text(yaml.safe_dump(test, allow_unicode=True, sort_keys=False), encoding="utf-8")
    r = subprocess.run([need("promtool"), "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_alerts_have_no_warning_levels_of_their_own():
    """The agent owns the degraded and certificate-warning levels: config.yml must not claim them,
    and its critical levels lie beyond the agent's defaults (critical is worse than degraded)."""
    conf = yaml.safe_load((ALERTS / "config.yml").read_text(encoding="utf-8"))["alerts"]
    for name in ("WANLatencyHigh", "WANPacketLoss", "CertificateExpiring"):
        assert set(conf[name]["warning"]) == {"for"}, name
    for name in ("PrinterSupplyLow", "PrinterSupplyEmpty"):
        assert set(conf[name]) == {"for", "problems"}, name
    agent = cfg.loads("", "default.yml").thresholds
    assert conf["WANLatencyHigh"]["critical"]["above"] > agent.wan_rtt_degraded
    assert conf["WANPacketLoss"]["critical"]["above"] > agent.wan_loss_degraded
    assert conf["CertificateExpiring"]["critical"]["days"] * 86400 < agent.wan_cert_expiry_warning
    # And the rules read the agents' thresholds, never a number of their own, for those warnings.
    doc = yaml.safe_load((ALERTS / "rules" / "district.rules.yml").read_text(encoding="utf-8"))
    records = {r["record"]: r["expr"] for g in doc["groups"] for r in g["rules"] if "record" in r}
    for reading, key in (("rtt_median_seconds", "rtt_degraded_seconds"), ("loss_ratio", "loss_degraded_ratio"),
                         ("jitter_seconds", "jitter_degraded_seconds")):
        expr = records[f"commune_target:wardwatch_wan_{reading}:degraded"]
        assert f'threshold="{key}"' in expr
        assert not re.findall(r"(?<![\w:])\d+(?:\.\d+)?\b", expr.replace("== 1", "")), expr
