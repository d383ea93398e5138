"""DistrictRemoteWriteStale, for real (docs/city-tier.md, remote-write topology):

fleet simulator --scrape--> two district Prometheus (alerts/prometheus-district.yml, the rendered rules,
    each with its own external label) --remote_write (the production filter)--> VictoriaMetrics
    <-- vmalert (city.rules.yml) --> Alertmanager (alerts/alertmanager.yml) --> webhook

While both district servers write, the alert is neither pending nor firing for either, for longer
than its staleness window and `for:` together. The test then stops one of the two servers (one it
started itself): the alert fires for that server and district only, not before the window and
`for:` have passed, reaches the city's and that district's critical receivers, and is recorded in
VictoriaMetrics (ALERTS); the live district never has one. Durations are config.yml's divided by
TIME_SCALE (3m -> 9s, 2m -> 6s).
"""

from __future__ import annotations

import contextlib
import json
import re
import time

import yaml
from alerting_support import (
    ALERTS,
    WebhookReceiver,
    alertmanager,
    alertmanager_test_config,
    district_prometheus_config,
    generator,
    render_rules,
)
from fleet_sim import Fleet, serve
from support import free_port, http_get, prometheus_from, wait_until
from victoria import api, victoria_metrics, vmalert

ALERT = "DistrictRemoteWriteStale"
HEARTBEAT = "wardwatch:district_heartbeat_timestamp_seconds"
TIME_SCALE = 20
DISTRICTS = {"ba_vi": ("Ba Vì", "tan_linh", "Tản Lĩnh"), "soc_son": ("Sóc Sơn", "phu_linh", "Phù Linh")}
STOPPED, LIVE = "ba_vi", "soc_son"


def durations() -> dict[str, int]:
    """stale_after, for and seen_window of the alert, in seconds, as the test's rules have them."""
    gen = generator()
    values, _ = gen.prepare(ALERTS / "config.yml", time_scale=TIME_SCALE)
    return {k: gen.seconds(values[f"alerts.{ALERT}.{k}"]) for k in ("stale_after", "for", "seen_window")}


def vmalert_alerts(base: str) -> list[dict]:
    """This alert's instances in vmalert (pending or firing)."""
    code, body = http_get(f"{base}/api/v1/alerts", timeout=5)
    assert code == 200, body[:300]
    return [a for a in json.loads(body)["data"]["alerts"] or [] if a["labels"].get("alertname") == ALERT]


def test_the_heartbeat_is_remote_written_and_not_federated():
    """The production remote_write filter keeps the heartbeat; the federating city does not select it,
    so in that topology DistrictRemoteWriteStale has nothing to read and only DistrictPrometheusDown
    can fire: never both for one district."""
    district = yaml.safe_load((ALERTS / "prometheus-district.yml").read_text(encoding="utf-8"))
    (rw,) = district["remote_write"]
    for relabel in rw["write_relabel_configs"]:
        assert relabel["source_labels"] == ["__name__"] and relabel["action"] == "drop", relabel
        assert not re.fullmatch(relabel["regex"], HEARTBEAT)
    city = yaml.safe_load((ALERTS / "prometheus-city.yml").read_text(encoding="utf-8"))
    (job,) = city["scrape_configs"]
    for matcher in job["params"]["match[]"]:
        m = re.fullmatch(r'\{__name__(=~|=)"([^"]+)"(?:, .*)?\}', matcher)
        assert m, matcher
        assert not (re.fullmatch(m[2], HEARTBEAT) if m[1] == "=~" else m[2] == HEARTBEAT), matcher


def test_a_district_server_that_stops_writing_alerts_at_the_city(tmp_path):
    window = durations()
    assert (window["stale_after"], window["for"]) == (9, 6)  # config.yml's 3m and 2m, divided by 20
    rules = render_rules(tmp_path / "rules", time_scale=TIME_SCALE, always_office_hours=True)
    fleet = Fleet()
    for district, (name, commune, commune_name) in DISTRICTS.items():
        c = fleet.add_commune(district, name, commune, commune_name)
        for i in (1, 2):
            fleet.add_pc(c, f"{commune.replace('_', '-')}-{i:02d}")
    port = free_port()
    with contextlib.ExitStack() as stack:
        stack.enter_context(serve(fleet, port))
        hook = stack.enter_context(WebhookReceiver())
        am = stack.enter_context(alertmanager(tmp_path / "am", alertmanager_test_config(hook)))
        vm = stack.enter_context(victoria_metrics(tmp_path / "vm"))
        servers: dict[str, contextlib.ExitStack] = {}
        for district in DISTRICTS:
            sd = tmp_path / district / "sd"
            sd.mkdir(parents=True)
            entries = [e for e in fleet.file_sd(f"127.0.0.1:{port}") if e["labels"]["district"] == district]
            (sd / f"{district}.json").write_text(json.dumps(entries), encoding="utf-8")
            cfg = district_prometheus_config(sd, rules, external_label=f"district-{district}",
                                             remote_write_url=f"{vm}/api/v1/write")
            for job in cfg["scrape_configs"]:  # no Pushgateway here: a closed loopback port, not its DNS name
                if job["job_name"] == "wardwatch-pushgateway":
                    job["static_configs"] = [{"targets": [f"127.0.0.1:{free_port()}"]}]
            servers[district] = stack.enter_context(contextlib.ExitStack())
            servers[district].enter_context(prometheus_from(tmp_path / district / "prom", cfg))
        va = stack.enter_context(vmalert(tmp_path / "vmalert", vm, [rules["city.rules.yml"]], notifier=am))

        # Both servers' heartbeats arrive, each with its server's external label and nothing else.
        def heartbeats() -> dict[str, dict]:
            return {r["metric"]["district"]: r["metric"] for r in api(vm, "query", {"query": HEARTBEAT})["result"]}

        wait_until(lambda: len(heartbeats()) == 2, timeout=60, what="both districts' heartbeats in VictoriaMetrics")
        assert heartbeats() == {d: {"__name__": HEARTBEAT, "district": d, "prometheus": f"district-{d}"}
                                for d in DISTRICTS}

        # Both writing: for longer than the window and `for:` together, nothing pending or firing,
        # and the age the rule computes stays under the window.
        age = (f"time() - max by (prometheus, district) "
               f"(max_over_time({HEARTBEAT}[{window['seen_window']}s]))")
        oldest = 0.0
        deadline = time.monotonic() + window["stale_after"] + window["for"] + 3
        polls = 0
        while time.monotonic() < deadline:
            assert vmalert_alerts(va) == [], "the alert went off while both servers were writing"
            ages = [float(r["value"][1]) for r in api(vm, "query", {"query": age})["result"]]
            assert len(ages) == 2
            oldest = max(oldest, *ages)
            polls += 1
            time.sleep(0.5)
        assert polls >= 10 and oldest < window["stale_after"], (polls, oldest)
        # vmalert did evaluate the rule meanwhile, without error.
        code, body = http_get(f"{va}/api/v1/rules", timeout=5)
        assert code == 200, body[:300]
        (rule,) = [r for g in json.loads(body)["data"]["groups"]
                   for r in g.get("rules") or g.get("alerting_rules") or [] if r["name"] == ALERT]
        assert not rule.get("lastError"), rule
        assert rule.get("lastEvaluation", rule.get("lastExec", "0001")) > "2000", rule

        # One district server stops (the test's own process).
        servers[STOPPED].close()
        stopped = time.monotonic()

        def firing() -> list[dict]:
            found = vmalert_alerts(va)
            assert not [a for a in found if a["labels"]["district"] != STOPPED], found
            return [a for a in found if a["state"] == "firing"]

        (alert,) = wait_until(firing, timeout=60, what=f"{ALERT} firing for {STOPPED}")
        elapsed = time.monotonic() - stopped
        # Not before the last heartbeat (at most an evaluation before the stop) is older than the
        # window, and `for:` has passed.
        assert elapsed >= window["stale_after"] + window["for"] - 2, elapsed
        labels = {k: v for k, v in alert["labels"].items() if k != "alertgroup"}
        assert labels == {"alertname": ALERT, "severity": "critical", "scope": "district", "district": STOPPED,
                          "prometheus": f"district-{STOPPED}"}
        ann = alert["annotations"]
        assert ann["summary"] == f"Prometheus của {STOPPED} không còn gửi số liệu lên thành phố"
        assert ann["summary_en"] == f"The Prometheus of {STOPPED} has stopped writing to the city"
        assert ann["description_en"].startswith(
            f"The newest sample the city has from the Prometheus district-{STOPPED} ({STOPPED}) is ")
        assert "(alert after 9 seconds)" in ann["description_en"]
        assert ann["runbook_url"].endswith(f"/{ALERT}.md")

        # Alertmanager, with the production routes: the city's ICT department and the district's
        # critical receiver; nothing about the live district.
        got = wait_until(lambda: {r for r, _ in hook.find(ALERT)} >= {"support-city", f"support-{STOPPED}-critical"}
                         and hook.find(ALERT), timeout=30, what=f"{ALERT} at the webhook")
        assert {a["labels"]["district"] for _, a in got} == {STOPPED}
        # vmalert's ALERTS series in VictoriaMetrics: the same, firing.
        recorded = wait_until(lambda: api(vm, "query", {
            "query": f'ALERTS{{alertname="{ALERT}", alertstate="firing"}}'})["result"], timeout=30,
            what="ALERTS in VictoriaMetrics")
        assert [(r["metric"]["district"], r["metric"]["prometheus"]) for r in recorded] == [
            (STOPPED, f"district-{STOPPED}")]
        # The live server goes on writing, and never alerts.
        time.sleep(2)
        assert [a["labels"]["district"] for a in vmalert_alerts(va)] == [STOPPED]
        assert not hook.find(ALERT, district=LIVE) and not hook.find(ALERT, status=None, district=LIVE)
        assert heartbeats().keys() >= {LIVE}
