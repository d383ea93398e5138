"""End to end with the real thing as metrics source: real wardwatch agents (one reading a real
cupsd of the test's own and probing a TCP "portal" on loopback; two in a network namespace
whose link the test cuts), scraped by a real district Prometheus (alerts/prometheus-district.yml,
rules rendered with shortened durations) that sends to a real Alertmanager
(alerts/alertmanager.yml) and on to a webhook receiver."""

from __future__ import annotations

import contextlib
import json
import socket
import time

from alerting_support import (
    WebhookReceiver,
    alertmanager,
    alertmanager_test_config,
    am_alerts,
    district_prometheus_config,
    render_rules,
)
from netns import NetNS
from printing import cupsd
from support import REPO, agent, agent_cmd, free_port, port_open, prometheus_from, prometheus_query, wait_until

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
                no_printer = prometheus_query(
                    prom, 'commune:wardwatch_not_ready_reason:bool{commune="tan_linh", reason="no_working_printer"}')
                assert [r["value"][1] for r in no_printer] == ["1"]
                wan = prometheus_query(prom, 'wardwatch_wan_up{target="dichvucong"}')
                assert [(r["metric"]["role"], r["value"][1]) for r in wan] == [("portal", "1")]

                # Enabled again: the alert resolves and the support team is told.
                cups.run("cupsenable", QUEUE)
                wait_until(lambda: hook.find("PrinterProblem", status="resolved", printer=QUEUE), 60,
                           "PrinterProblem resolved")


def test_namespace_link_down_sends_commune_link_down_and_holds_back_the_pcs(tmp_path):
    """ba_trai's two PCs are real agents in a network namespace joined by a veth pair; the test
    cuts the link at the far end (packets leave, nothing comes back, as with a fibre cut)."""
    rules = render_rules(tmp_path / "rules", time_scale=120, always_office_hours=True)
    config = tmp_path / "agent.yml"
    config.write_text("collectors:\n  printers:\n    enabled: false\n  scanners:\n    enabled: false\n")
    with NetNS("alerts") as ns, contextlib.ExitStack() as stack:
        instances = []
        for n in (1, 2):
            port = free_port()
            stack.enter_context(ns.process(
                *agent_cmd("run", "--listen", f"{ns.there}:{port}", "--config", str(config)),
                log=tmp_path / f"agent{n}.log", cwd=REPO, timeout=30, ready=lambda p=port: port_open(p, ns.there)))
            instances.append(f"{ns.there}:{port}")
        hook = stack.enter_context(WebhookReceiver())
        am = stack.enter_context(alertmanager(tmp_path / "am", alertmanager_test_config(hook)))
        sd = tmp_path / "sd"
        sd.mkdir()
        (sd / "ba_vi.json").write_text(json.dumps(
            [{"targets": instances, "labels": {"district": "ba_vi", "commune": "ba_trai", "role": "pc"}}]))
        cfg = district_prometheus_config(sd, rules, alertmanager_url=am)
        prom = stack.enter_context(prometheus_from(tmp_path / "prom", cfg, ["--rules.alert.resend-delay=1s"]))

        def up() -> list[str]:
            return sorted(r["value"][1] for r in prometheus_query(prom, 'up{commune="ba_trai"}'))

        wait_until(lambda: up() == ["1", "1"], 30, lambda: f"both agents up (last: {up()})")
        ns.link(up=False, far_end=True)

        (recv, link), *_ = wait_until(lambda: hook.find("CommuneLinkDown", commune="ba_trai"), 60,
                                      "CommuneLinkDown")
        assert recv == "support-ba_vi-critical" and link["labels"]["cause"] == "all_pcs_unreachable"

        def held() -> list[dict]:
            return [a for a in am_alerts(am) if a["labels"]["alertname"] == "PCDown"]

        pcs = wait_until(lambda: len(held()) == 2 and held(), 60, lambda: f"two PCDown in Alertmanager: {held()}")
        assert sorted(a["labels"]["instance"] for a in pcs) == sorted(instances)
        assert all(a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"] for a in pcs)
        time.sleep(3)  # several group_intervals
        assert not hook.find("PCDown", status=None)

        # The link comes back: the link alert resolves; the PC alerts were never sent.
        ns.link(up=True, far_end=True)
        wait_until(lambda: hook.find("CommuneLinkDown", status="resolved", commune="ba_trai"), 60,
                   "CommuneLinkDown resolved")
        assert not hook.find("PCDown", status=None)
