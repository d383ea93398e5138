"""End to end with the real thing as metrics source: a real wardwatch agent reading a real
cupsd of the test's own and probing a TCP "portal" on loopback, scraped by a real district
Prometheus (alerts/prometheus-district.yml, rules rendered with shortened durations) that
sends to a real Alertmanager (alerts/alertmanager.yml) and on to a webhook receiver."""

from __future__ import annotations

import json
import socket

from alerting_support import (
    WebhookReceiver,
    alertmanager,
    alertmanager_test_config,
    district_prometheus_config,
    prometheus_from,
    render_rules,
    wait_until,
)
from printing import cupsd
from support import agent, prometheus_query

QUEUE = "HP_M404"


def test_paused_cups_queue_reaches_the_support_team_and_resolves(tmp_path):
    rules = render_rules(tmp_path / "rules", time_scale=120, always_office_hours=True)
    with cupsd(tmp_path) as cups, socket.create_server(("127.0.0.1", 0)) as portal:
        cups.add_queue(QUEUE, description="Máy in một cửa")
        cups.run("cupsdisable", "-r", "Kẹt giấy", QUEUE)
        config = f"""\
collectors:
  printers:
    interval: 1s
    cups_server: "{cups.server}"
  scanners:
    enabled: false
  wan:
    interval: 1s
    targets:
      - name: dichvucong
        role: portal
        kind: tcp
        address: 127.0.0.1
        port: {portal.getsockname()[1]}
        interval: 1s
        timeout: 1s
"""
        (tmp_path / "agent").mkdir()
        with agent(tmp_path / "agent", config) as (_, base), WebhookReceiver() as hook, \
                alertmanager(tmp_path / "am", alertmanager_test_config(hook)) as am:
            instance = base.split("//", 1)[1]
            sd = tmp_path / "sd"
            sd.mkdir()
            # What the inventory's targets file holds for this PC.
            (sd / "ba_vi.json").write_text(json.dumps(
                [{"targets": [instance], "labels": {"district": "ba_vi", "commune": "tan_linh", "role": "pc"}}]))
            cfg = district_prometheus_config(sd, rules, alertmanager_url=am)
            with prometheus_from(tmp_path / "prom", cfg, ["--rules.alert.resend-delay=1s"]) as prom:
                (recv, got), *_ = wait_until(lambda: hook.find("PrinterProblem", printer=QUEUE), 60,
                                             "PrinterProblem from the real agent")
                assert recv == "support-ba_vi"
                labels = got["labels"]
                assert {k: labels[k] for k in ("district", "commune", "instance", "printer", "device", "problem",
                                               "severity", "role")} == {
                    "district": "ba_vi", "commune": "tan_linh", "instance": instance, "printer": QUEUE,
                    "device": QUEUE, "problem": "paused", "severity": "warning", "role": "pc"}
                assert got["annotations"]["summary_en"] == (
                    f"Printer {QUEUE} on {instance} (tan_linh) has a problem: paused")

                # The commune has no other printer: readiness says so; the real agent's WAN series
                # keep their own role beside the target's role="pc".
                printer_ok = prometheus_query(
                    prom, 'commune:wardwatch_ready_component:bool{commune="tan_linh", component="printer"}')
                assert [r["value"][1] for r in printer_ok] == ["0"]
                wan = prometheus_query(prom, 'wardwatch_wan_up{target="dichvucong"}')
                assert [(r["metric"]["role"], r["value"][1]) for r in wan] == [("portal", "1")]

                # Enabled again: the alert resolves and the support team is told.
                cups.run("cupsenable", QUEUE)
                wait_until(lambda: hook.find("PrinterProblem", status="resolved", printer=QUEUE), 60,
                           "PrinterProblem resolved")
