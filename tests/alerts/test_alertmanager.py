"""alerts/alertmanager.yml in a real Alertmanager: alerts posted to its API reach the receivers
the routes name, and inhibition holds back what follows from another alert."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta, timezone

from alerting_support import WebhookReceiver, alertmanager, alertmanager_test_config, am_alerts, post_alerts
from support import need, wait_until


def alert(name: str, severity: str, scope: str, **labels: str) -> dict:
    return {"labels": {"alertname": name, "severity": severity, "scope": scope, **labels},
            "annotations": {"summary_vi": f"{name} (vi)", "summary_en": f"{name} (en)"}}


def stamped(a: dict, ends_in: float = 600, starts_ago: float = 0) -> dict:
    """`a` as Prometheus sends it at this moment. Stamped when posted, not when this module is
    imported: an alert older than group_wait makes Alertmanager flush its group at once, before
    inhibition has seen the rest of the batch (a race lost under load, minutes into a test run)."""
    now = datetime.now(timezone.utc)
    return {**a, "startsAt": (now - timedelta(seconds=starts_ago)).isoformat(),
            "endsAt": (now + timedelta(seconds=ends_in)).isoformat()}


BV = {"district": "ba_vi"}
PC = {"job": "wardwatch", "role": "pc"}

POSTED = [
    # ba_trai's link is down: everything else of ba_trai waits.
    alert("CommuneLinkDown", "critical", "commune", **BV, commune="ba_trai", cause="all_pcs_unreachable"),
    alert("PCDown", "warning", "pc", **BV, **PC, commune="ba_trai", instance="bt-pc01"),
    alert("PrinterProblem", "warning", "device", **BV, **PC, commune="ba_trai", instance="bt-pc01",
          printer="HP_M404", device="HP_M404", problem="offline"),
    alert("NoWorkingPrinter", "critical", "commune", **BV, commune="ba_trai"),
    # tan_linh: one PC down silences its printer, not the other PC's.
    alert("PCDown", "warning", "pc", **BV, **PC, commune="tan_linh", instance="tl-pc01"),
    alert("PrinterProblem", "warning", "device", **BV, **PC, commune="tan_linh", instance="tl-pc01",
          printer="HP_M404", device="HP_M404", problem="paused"),
    alert("PrinterProblem", "warning", "device", **BV, **PC, commune="tan_linh", instance="tl-pc02",
          printer="Canon_LBP", device="Canon_LBP", problem="jammed"),
    # An empty supply says the low one; the critical latency says the warning one.
    alert("PrinterSupplyEmpty", "critical", "device", **BV, **PC, commune="tan_linh", instance="tl-pc02",
          printer="Canon_LBP", device="Canon_LBP", supply="toner"),
    alert("PrinterSupplyLow", "warning", "device", **BV, **PC, commune="tan_linh", instance="tl-pc02",
          printer="Canon_LBP", device="Canon_LBP", supply="toner"),
    alert("WANLatencyHigh", "warning", "commune", **BV, commune="tan_linh", target="dichvucong", role="portal"),
    alert("WANLatencyHigh", "critical", "commune", **BV, commune="tan_linh", target="dichvucong", role="portal"),
    # The gateway unreachable from the whole commune: its loss and the per-PC client alerts follow.
    alert("VirtualizationGatewayUnreachable", "critical", "commune", **BV, commune="tan_linh", target="vdi-gw",
          role="gateway"),
    alert("WANPacketLoss", "warning", "commune", **BV, commune="tan_linh", target="vdi-gw", role="gateway"),
    alert("VirtualClientGatewayUnreachable", "warning", "pc", **BV, **PC, commune="tan_linh", instance="tl-pc02"),
    # Routing: district-wide to the city too; another district; a district without a branch.
    alert("CertificateExpiring", "warning", "district", **BV, target="dichvucong", role="portal"),
    alert("DiskAlmostFull", "critical", "pc", **PC, district="soc_son", commune="phu_linh", instance="pl-pc01",
          mountpoint="C:\\"),
    alert("PCDown", "warning", "pc", **PC, district="hoan_kiem", commune="hang_bac", instance="hb-pc01"),
]


def key(a: dict) -> tuple:
    lb = a["labels"]
    return (lb["alertname"], lb["severity"], lb.get("commune", ""), lb.get("instance", ""),
            lb.get("target", "") or lb.get("supply", ""))


DELIVERED = {
    ("support-ba_vi-critical", ("CommuneLinkDown", "critical", "ba_trai", "", "")),
    ("support-ba_vi-critical", ("PrinterSupplyEmpty", "critical", "tan_linh", "tl-pc02", "toner")),
    ("support-ba_vi-critical", ("WANLatencyHigh", "critical", "tan_linh", "", "dichvucong")),
    ("support-ba_vi-critical", ("VirtualizationGatewayUnreachable", "critical", "tan_linh", "", "vdi-gw")),
    ("support-ba_vi", ("PCDown", "warning", "tan_linh", "tl-pc01", "")),
    ("support-ba_vi", ("PrinterProblem", "warning", "tan_linh", "tl-pc02", "")),
    ("support-ba_vi", ("CertificateExpiring", "warning", "", "", "dichvucong")),
    ("support-city", ("CertificateExpiring", "warning", "", "", "dichvucong")),
    ("support-soc_son-critical", ("DiskAlmostFull", "critical", "phu_linh", "pl-pc01", "")),
    ("support-city", ("PCDown", "warning", "hang_bac", "hb-pc01", "")),
}
INHIBITED = {
    ("PCDown", "warning", "ba_trai", "bt-pc01", ""),
    ("PrinterProblem", "warning", "ba_trai", "bt-pc01", ""),
    ("NoWorkingPrinter", "critical", "ba_trai", "", ""),
    ("PrinterProblem", "warning", "tan_linh", "tl-pc01", ""),
    ("PrinterSupplyLow", "warning", "tan_linh", "tl-pc02", "toner"),
    ("WANLatencyHigh", "warning", "tan_linh", "", "dichvucong"),
    ("WANPacketLoss", "warning", "tan_linh", "", "vdi-gw"),
    ("VirtualClientGatewayUnreachable", "warning", "tan_linh", "tl-pc02", ""),
}


def test_routing_and_inhibition_in_a_real_alertmanager(tmp_path):
    assert {key(a) for a in POSTED} == {k for _, k in DELIVERED} | INHIBITED
    with WebhookReceiver() as hook, alertmanager(tmp_path, alertmanager_test_config(hook)) as am:
        post_alerts(am, [stamped(a) for a in POSTED])

        def delivered() -> set:
            return {(r, key(a)) for r, a in hook.received("firing")}

        wait_until(lambda: DELIVERED <= delivered(), 30, f"notifications {sorted(DELIVERED)}")
        # Several group_intervals more: nothing else arrives.
        time.sleep(3)
        assert delivered() == DELIVERED
        # Grouped by commune: one notification holds tan_linh's alerts for one receiver.
        tan_linh = [n for n in hook.notifications if n.receiver == "support-ba_vi-critical"
                    and n.payload["groupLabels"] == {"district": "ba_vi", "commune": "tan_linh"}]
        assert tan_linh and {a["labels"]["alertname"] for a in tan_linh[-1].alerts()} == {
            "PrinterSupplyEmpty", "WANLatencyHigh", "VirtualizationGatewayUnreachable"}

        # Alertmanager's own view: the others are suppressed by inhibition, and by what.
        states = {key(a): a["status"] for a in am_alerts(am)}
        assert {k for k, s in states.items() if s["state"] == "suppressed" and s["inhibitedBy"]} == INHIBITED
        # amtool agrees.
        r = subprocess.run([need("amtool"), f"--alertmanager.url={am}", "alert", "query", "--inhibited", "-o", "json"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert {key(a) for a in json.loads(r.stdout)} == INHIBITED

        # The link comes back: ba_trai's PC and commune alerts are sent now; the printer of the
        # still-down PC stays inhibited by that PC's PCDown.
        back = stamped(alert("CommuneLinkDown", "critical", "commune", **BV, commune="ba_trai",
                             cause="all_pcs_unreachable"), ends_in=-1, starts_ago=60)
        post_alerts(am, [back])
        now_sent = {("support-ba_vi", ("PCDown", "warning", "ba_trai", "bt-pc01", "")),
                    ("support-ba_vi-critical", ("NoWorkingPrinter", "critical", "ba_trai", "", ""))}
        wait_until(lambda: now_sent <= delivered(), 30, f"notifications {sorted(now_sent)}")
        time.sleep(2)
        assert ("support-ba_vi", ("PrinterProblem", "warning", "ba_trai", "bt-pc01", "")) not in delivered()
        assert [r for r, a in hook.received("resolved") if a["labels"]["alertname"] == "CommuneLinkDown"] == [
            "support-ba_vi-critical"]
