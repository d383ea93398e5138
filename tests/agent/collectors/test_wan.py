"""The WAN collector against real servers on loopback, real hosts in network
namespaces (links taken down, packets dropped by iptables), the real agent
restarted, and a real blackbox_exporter probing the same targets."""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from netns import NetNS
from prometheus_client.parser import text_string_to_metric_families
from support import REPO, agent_cmd, free_port, http_get, need, process, self_signed, wait_for
from wan_servers import blackbox, blackbox_probe, closed_port, dnsmasq, http_server, tcp_listener

from agent import config as cfg
from agent.collectors.base import Context, Sample
from agent.collectors.wan import WanCollector
from agent.platform import current
from agent.report import FAIL, INFO, PASS
from agent.report import wan as wan_report
from agent.runner import Result, validate
from exporters.exposition import render


def collector(doc: dict, state_dir: Path) -> WanCollector:
    doc = {"state_dir": str(state_dir), **doc}
    settings = cfg.loads(yaml.safe_dump(doc), "test.yml")
    return WanCollector(settings.collectors.wan, Context(settings, current(), str(state_dir)))


def values(samples: list[Sample], name: str, **labels: str) -> list[float]:
    return [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def one(samples: list[Sample], name: str, **labels: str) -> float:
    found = values(samples, name, **labels)
    assert len(found) == 1, (name, labels, found)
    return found[0]


# --- no targets ----------------------------------------------------------------------------------


def test_no_targets_probes_nothing_and_check_says_so(tmp_path):
    c = collector({}, tmp_path)
    samples = c.collect()
    assert samples == [Sample("wardwatch_wan_targets", {}, 0.0)]
    assert c.scheduler is None and not list(tmp_path.iterdir())  # nothing started, nothing written
    for lang, words in (("vi", "chưa cấu hình"), ("en", "no targets configured")):
        (row,) = wan_report.rows(samples, lang)
        assert row.status == INFO and words in row.detail  # a note: it neither passes nor fails the PC


# --- every kind on loopback ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):
    """Real servers: HTTP, HTTPS (certificate expiring in 42 days), dnsmasq, a TCP listener."""
    tmp = tmp_path_factory.mktemp("wan-loopback")
    cert = self_signed(tmp)
    with http_server() as plain, http_server(cert) as tls_url, tcp_listener() as tcp_port, \
            dnsmasq(tmp, {"portal.ward.test": "10.9.8.7"}, local="ward.test") as dns_port:
        yield {"tmp": tmp, "cert": cert, "plain": plain, "https": tls_url, "tcp": tcp_port, "dns": dns_port,
               "closed": closed_port()}


def loopback_targets(lo: dict, interval: float = 0.5) -> list[dict]:
    common = {"interval": interval, "timeout": 0.4}
    return [
        {"name": "ping", "role": "gateway", "kind": "icmp", "address": "127.0.0.1", "packets": 4,
         "packet_interval": 0.01, **common},
        {"name": "vdi", "role": "gateway", "kind": "tcp", "address": "127.0.0.1", "port": lo["tcp"], **common},
        {"name": "portal", "role": "portal", "kind": "http", "address": lo["https"] + "/?token=s3cret",
         "ca_file": str(lo["cert"].cert), "body_regex": "sẵn sàng", **common},
        {"name": "web", "role": "other", "kind": "http", "address": lo["plain"] + "/", **common},
        {"name": "dns", "role": "dns", "kind": "dns", "address": "127.0.0.1", "port": lo["dns"],
         "query": "portal.ward.test", **common},
        {"name": "cert", "role": "portal", "kind": "tls", "address": "127.0.0.1",
         "port": int(lo["https"].rsplit(":", 1)[1]), "ca_file": str(lo["cert"].cert), **common},
        {"name": "closed", "role": "other", "kind": "tcp", "address": "127.0.0.1", "port": lo["closed"], **common},
        {"name": "broken", "role": "portal", "kind": "http", "address": lo["plain"] + "/status/503", **common},
        {"name": "nxdomain", "role": "dns", "kind": "dns", "address": "127.0.0.1", "port": lo["dns"],
         "query": "missing.ward.test", **common},
    ]


def test_every_kind_against_real_loopback_servers(loopback, tmp_path):
    lo = loopback
    doc = {"thresholds": {"wan_failures_down": 1, "wan_cert_expiry_warning": "60d"},
           "collectors": {"wan": {"targets": loopback_targets(lo)}}}
    c = collector(doc, tmp_path)
    try:
        t0 = time.monotonic()
        samples = list(validate(c.collect()))  # every sample catalogued, with its labels
        assert time.monotonic() - t0 < 5  # the first collect waits for one round, bounded
    finally:
        c.close()
    assert one(samples, "wardwatch_wan_targets") == 9
    for name in ("ping", "vdi", "portal", "web", "dns", "cert"):
        assert one(samples, "wardwatch_wan_up", target=name) == 1, name
        assert one(samples, "wardwatch_wan_probe_success", target=name) == 1, name
        assert not values(samples, "wardwatch_wan_probe_error", target=name)
        assert one(samples, "wardwatch_wan_loss_ratio", target=name) == 0
        assert 0 < one(samples, "wardwatch_wan_rtt_median_seconds", target=name) < 0.4
    for name, error in (("closed", "refused"), ("broken", "http_status"), ("nxdomain", "dns_rcode")):
        assert one(samples, "wardwatch_wan_up", target=name) == 0
        assert one(samples, "wardwatch_wan_probe_error", target=name, error=error) == 1
        assert one(samples, "wardwatch_wan_loss_ratio", target=name) == 1
        assert one(samples, "wardwatch_wan_outages_total", target=name) == 1
    # ICMP: several packets a round, every one in the histogram
    assert one(samples, "wardwatch_wan_rtt_seconds_count", target="ping") % 4 == 0
    buckets = [s for s in samples if s.name == "wardwatch_wan_rtt_seconds_bucket" and s.labels["target"] == "ping"]
    assert [b.value for b in buckets] == sorted(b.value for b in buckets)
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == one(samples, "wardwatch_wan_rtt_seconds_count",
                                                                          target="ping")
    # HTTPS: the phases, and the certificate expiry the test chose
    phases = {s.labels["phase"] for s in samples if s.name == "wardwatch_wan_http_phase_seconds"
              and s.labels["target"] == "portal"}
    assert phases == {"dns", "connect", "tls", "first_byte", "transfer"}
    expiry = lo["cert"].not_after.timestamp()
    assert one(samples, "wardwatch_wan_cert_expiry_timestamp_seconds", target="portal") == expiry
    assert one(samples, "wardwatch_wan_cert_expiry_timestamp_seconds", target="cert") == expiry
    assert not values(samples, "wardwatch_wan_cert_expiry_timestamp_seconds", target="web")
    # labels: roles from config, no query string (it may hold a token) in the info series
    info = {s.labels["target"]: s.labels for s in samples if s.name == "wardwatch_wan_target_info"}
    assert info["portal"]["address"] == lo["https"] + "/" and info["portal"]["role"] == "portal"
    assert all("s3cret" not in v for s in samples for v in s.labels.values())
    assert one(samples, "wardwatch_wan_threshold", threshold="failures_down") == 1

    # the exposition Prometheus would scrape is valid
    text = render({"wan": Result(tuple(samples), True, 0.1, time.time(), "", time.time())})
    check = subprocess.run([need("promtool"), "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert check.returncode in (0, 1), check.stderr  # 1 = lint warnings only
    assert b"error" not in check.stderr.lower(), check.stderr

    # check rows, both languages: verdicts, and the certificate inside the 60-day warning
    for lang in ("vi", "en"):
        rows = {r.key: r for r in wan_report.rows(samples, lang)}
        assert rows["target:ping"].status == PASS and rows["target:broken"].status == FAIL
        assert rows["cert:portal"].status == FAIL and "42" in rows["cert:portal"].found
    rows = {r.key: r for r in wan_report.rows(samples, "vi")}
    assert rows["target:ping"].detail == "TỐT" and "mất gói 0%" in rows["target:ping"].found
    assert rows["target:closed"].detail.startswith("MẤT KẾT NỐI: bị từ chối kết nối")
    rows = {r.key: r for r in wan_report.rows(samples, "en")}
    assert rows["target:nxdomain"].detail.startswith("DOWN: the DNS server answered with an error")
    assert rows["cert:portal"].found.startswith("expires ") and rows["cert:portal"].needed == "≥ 60 days"


def test_check_command_probes_once_and_saves_nothing(loopback, tmp_path):
    targets = [t for t in loopback_targets(loopback) if t["name"] in ("ping", "dns", "closed")]
    conf = tmp_path / "agent.yml"
    state = tmp_path / "state"
    conf.write_text(yaml.safe_dump({"state_dir": str(state), "collectors": {
        "hardware": {"enabled": False}, "wan": {"targets": targets}}}))
    p = subprocess.run(agent_cmd("check", "--config", str(conf), "--lang", "en"), capture_output=True, text=True,
                       timeout=60, cwd=REPO)
    assert p.returncode == 1, p.stdout + p.stderr  # the closed port fails the check
    assert "[PASS]    Link to ping (gateway)" in p.stdout
    assert "[FAIL]    Link to closed (other)" in p.stdout and "FAILING: connection refused" in p.stdout
    assert not state.exists()  # a one-off check does not touch the agent's counters
    p = subprocess.run(agent_cmd("check", "--config", str(conf)), capture_output=True, text=True, timeout=60,
                       cwd=REPO)
    assert "[ĐẠT]       Đường truyền tới dns (DNS)" in p.stdout, p.stdout


# --- outage in a namespace, counted through an agent restart ----------------------------------------


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    code, body = http_get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert code == 200
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def metric(m: dict, name: str, target: str, role: str = "gateway") -> float | None:
    return m.get((name, (("role", role), ("target", target))))


INTERVAL = 0.5  # probe interval in the outage test: the accuracy the counters are held to


def test_outage_is_counted_while_nobody_scrapes_and_survives_an_agent_restart(tmp_path):
    with NetNS("wan") as ns:
        web_port = free_port()
        srv = ns.process(need("python3"), "-m", "http.server", "--bind", ns.there, str(web_port), cwd=tmp_path,
                         ready=lambda: ns.run("python3", "-c", f"import socket; socket.create_connection("
                                              f"('{ns.there}', {web_port}), 1)", check=False).returncode == 0)
        with srv:
            port = free_port()
            conf = tmp_path / "agent.yml"
            conf.write_text(yaml.safe_dump({
                "state_dir": str(tmp_path / "state"),
                "web": {"listen": f"127.0.0.1:{port}"},
                "collectors": {"hardware": {"enabled": False}, "wan": {
                    "interval": 1, "state_save_interval": 1, "targets": [
                        {"name": "host-icmp", "role": "gateway", "kind": "icmp", "address": ns.there,
                         "interval": INTERVAL, "timeout": 0.3, "packets": 3, "packet_interval": 0.05},
                        {"name": "host-tcp", "role": "gateway", "kind": "tcp", "address": ns.there, "port": web_port,
                         "interval": INTERVAL, "timeout": 0.3}]}}}))
            names = ("host-icmp", "host-tcp")

            def all_up(m: dict) -> bool:
                return all(metric(m, "wardwatch_wan_up", n) == 1 for n in names)

            with process(agent_cmd("run", "--config", str(conf)), port=port, log=tmp_path / "agent1.log", cwd=REPO):
                wait_for(lambda: all_up(scrape(port)), timeout=15, what="both targets up")
                ns.link(False, far_end=True)  # the cable is cut beyond the PC: nothing comes back
                t_down = time.monotonic()
                time.sleep(4.0)               # nobody scrapes during the outage
                ns.link(True, far_end=True)
                outage = time.monotonic() - t_down
                wait_for(lambda: all_up(scrape(port)), timeout=15, what="both targets up again")
                time.sleep(1.5)  # one more snapshot of the collector (interval 1s)
                before = scrape(port)
            # SIGTERM: the agent saved its counters on the way out
            saved = json.loads((tmp_path / "state" / "wan-state.json").read_text())["targets"]
            for n in names:
                seconds = metric(before, "wardwatch_wan_outage_seconds_total", n)
                print(f"{n}: outage counted {seconds:.3f}s, link down {outage:.3f}s")
                assert abs(seconds - outage) <= INTERVAL + 0.15, (n, seconds, outage)
                assert metric(before, "wardwatch_wan_outages_total", n) == 1
                assert saved[n]["outage_seconds_total"] == pytest.approx(seconds)
                assert saved[n]["outages_total"] == 1 and saved[n]["down"] is False

            with process(agent_cmd("run", "--config", str(conf)), port=port, log=tmp_path / "agent2.log", cwd=REPO):
                after = wait_for(lambda: (m := scrape(port)) and all_up(m) and m, timeout=15, what="restarted agent")
            for n in names:
                assert metric(after, "wardwatch_wan_outage_seconds_total", n) == pytest.approx(
                    metric(before, "wardwatch_wan_outage_seconds_total", n))
                assert metric(after, "wardwatch_wan_outages_total", n) == 1
    log1 = (tmp_path / "agent1.log").read_text()
    assert "host-icmp" in log1 and "is down" in log1 and "is up again" in log1


# --- loss injected with iptables' statistic match ------------------------------------------------------


DROP = 0.3
# 14 rounds of 50 packets = 700 packets: the standard deviation of the measured share is
# sqrt(0.3 * 0.7 / 700) = 0.017; 0.07 is four of them (a false failure about once in 15,000 runs).
TOLERANCE = 0.07


def iptables_counts(ns: NetNS) -> dict[str, int]:
    out = ns.run("iptables", "-L", "INPUT", "-v", "-x", "-n").stdout.splitlines()[2:]
    return {("drop" if "DROP" in line else "all"): int(line.split()[0]) for line in out if line.strip()}


def test_loss_ratio_matches_the_share_iptables_drops(tmp_path):
    with NetNS("loss") as ns:
        ns.run("iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request")  # counts them all
        ns.run("iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-m", "statistic",
               "--mode", "random", "--probability", str(DROP), "-j", "DROP")
        c = collector({"collectors": {"wan": {"window": "10m", "targets": [
            {"name": "lossy", "role": "portal", "kind": "icmp", "address": ns.there, "interval": 0.5,
             "timeout": 0.2, "packets": 50, "packet_interval": 0.005}]}}}, tmp_path)
        try:
            c.collect()
            h = c.health["lossy"]
            wait_for(lambda: h.stats(time.monotonic()).sent >= 700, timeout=30, what="700 packets")
            samples = c.collect()
        finally:
            c.close()
        counts = iptables_counts(ns)
    loss = one(samples, "wardwatch_wan_loss_ratio", target="lossy")
    print(f"loss ratio {loss:.4f} (dropped with probability {DROP}; iptables: {counts})")
    assert abs(loss - DROP) <= TOLERANCE, loss
    # and against what iptables itself dropped (it may also have seen one round still in flight)
    assert abs(loss - counts["drop"] / counts["all"]) <= 0.02, (loss, counts)
    assert one(samples, "wardwatch_wan_up", target="lossy") == 1
    assert one(samples, "wardwatch_wan_degraded", target="lossy") == 1  # 30% > the 5% default threshold
    (row,) = wan_report.rows(samples, "en")
    assert row.status == FAIL and row.detail == "DEGRADED: high loss"


# --- side by side with blackbox_exporter ------------------------------------------------------------


def test_same_verdicts_and_round_trip_times_as_blackbox_exporter(loopback, tmp_path):
    """Verdicts: our collector in the background and blackbox_exporter on the same targets.
    Round-trip times: our probe and blackbox's, one right after the other on the same target, 15 times
    (so both meet the same machine: a DNS server woken from idle answers later for either of us)."""
    lo = loopback
    with NetNS("bbx") as ns:
        ns.run("iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP")
        modules = {
            "icmp": {"prober": "icmp", "timeout": "1s", "icmp": {"preferred_ip_protocol": "ip4"}},
            "tcp": {"prober": "tcp", "timeout": "1s", "tcp": {"preferred_ip_protocol": "ip4"}},
            "http": {"prober": "http", "timeout": "1s", "http": {
                "preferred_ip_protocol": "ip4", "valid_status_codes": [200], "follow_redirects": False,
                "tls_config": {"ca_file": str(lo["cert"].cert)}}},
            "dns": {"prober": "dns", "timeout": "1s", "dns": {
                "query_name": "portal.ward.test", "query_type": "A", "preferred_ip_protocol": "ip4",
                "valid_rcodes": ["NOERROR"], "validate_answer_rrs": {"fail_if_none_matches_regexp": [".*"]}}},
            "dns_missing": {"prober": "dns", "timeout": "1s", "dns": {
                "query_name": "missing.ward.test", "query_type": "A", "preferred_ip_protocol": "ip4"}},
        }
        dns_target = f"127.0.0.1:{lo['dns']}"
        # (our target, blackbox module, blackbox target, blackbox series of the same round trip)
        cases = [
            ({"name": "ping", "kind": "icmp", "address": "127.0.0.1", "packets": 5, "packet_interval": 0.01},
             "icmp", "127.0.0.1", "probe_icmp_duration_seconds{phase=rtt}"),
            ({"name": "vdi", "kind": "tcp", "address": "127.0.0.1", "port": lo["tcp"]},
             "tcp", f"127.0.0.1:{lo['tcp']}", "probe_duration_seconds"),
            ({"name": "web", "kind": "http", "address": lo["plain"] + "/", "expected_status": ["200"]},
             "http", lo["plain"] + "/", "probe_http_duration_seconds{phase=connect}"),
            ({"name": "portal", "kind": "http", "address": lo["https"] + "/", "expected_status": ["200"],
              "ca_file": str(lo["cert"].cert)},
             "http", lo["https"] + "/", "probe_http_duration_seconds{phase=connect}"),
            ({"name": "dns", "kind": "dns", "address": "127.0.0.1", "port": lo["dns"], "query": "portal.ward.test"},
             "dns", dns_target, "probe_dns_duration_seconds{phase=request}"),
            # down ones
            ({"name": "closed", "kind": "tcp", "address": "127.0.0.1", "port": lo["closed"]},
             "tcp", f"127.0.0.1:{lo['closed']}", None),
            ({"name": "broken", "kind": "http", "address": lo["plain"] + "/status/503", "expected_status": ["200"]},
             "http", lo["plain"] + "/status/503", None),
            ({"name": "redirect", "kind": "http", "address": lo["plain"] + "/status/302", "expected_status": ["200"]},
             "http", lo["plain"] + "/status/302", None),
            ({"name": "nxdomain", "kind": "dns", "address": "127.0.0.1", "port": lo["dns"],
              "query": "missing.ward.test"}, "dns_missing", dns_target, None),
            ({"name": "silent", "kind": "icmp", "address": ns.there, "packets": 3, "packet_interval": 0.01},
             "icmp", ns.there, None),
        ]
        targets = [{"role": "other", "interval": 0.5, "timeout": 0.4, **ours} for ours, *_ in cases]
        c = collector({"thresholds": {"wan_failures_down": 1}, "collectors": {"wan": {"targets": targets}}},
                      tmp_path)
        with blackbox(tmp_path, modules) as bb:
            try:
                c.collect()
                theirs = {ours["name"]: [blackbox_probe(bb, module, target) for _ in range(2)]
                          for ours, module, target, _ in cases}
                samples = c.collect()
            finally:
                c.close()
            paired: dict[str, tuple[list[float], list[float]]] = {}
            for _ in range(15):
                for ours, module, target, series in cases:
                    if series is None:
                        continue
                    mine = c._probe(c.health[ours["name"]].target)
                    bbx = blackbox_probe(bb, module, target)
                    assert mine.ok and bbx["probe_success"] == 1, (ours["name"], mine, bbx)
                    pair = paired.setdefault(ours["name"], ([], []))
                    pair[0].append(statistics.median(mine.rtts))
                    pair[1].append(bbx[series])
    for ours, *_ in cases:
        name = ours["name"]
        bb_up = {p["probe_success"] for p in theirs[name]}
        assert len(bb_up) == 1, (name, theirs[name])  # blackbox agreed with itself
        assert one(samples, "wardwatch_wan_probe_success", target=name) == bb_up.pop(), name
        assert one(samples, "wardwatch_wan_up", target=name) == (name in paired), name
    lines = []
    for name, (mine, bbx) in paired.items():
        a, b = statistics.median(mine), statistics.median(bbx)
        lines.append(f"{name}: ours {a * 1e3:.3f} ms, blackbox_exporter {b * 1e3:.3f} ms")
        assert abs(a - b) <= max(0.2 * b, 0.001), lines[-1]
    print("\n" + "\n".join(lines))


def test_example_config_in_docs_loads_with_portal_gateway_and_dns_targets(tmp_path):
    """Loaded and turned into targets, never probed (its addresses are documentation ranges)."""
    settings = cfg.load(REPO / "docs" / "examples" / "wan.yml")
    c = WanCollector(settings.collectors.wan, Context(settings, current(), str(tmp_path)))
    assert {t.role for t in c.targets} == {"portal", "gateway", "dns"}
    assert {t.kind for t in c.targets} == {"http", "tls", "icmp", "tcp", "dns"}
    documentation = ("192.0.2.", "198.51.100.", "203.0.113.")
    assert all(t.host.startswith(documentation) or t.host.endswith(".example") for t in c.targets)
    assert c.scheduler is None  # constructing a collector probes nothing


def test_reload_hands_the_counters_over_to_the_new_config(tmp_path):
    """SIGHUP: the old collector saves and lets go of the state before the new one reads it, so an
    outage in progress stays one outage and its seconds keep adding up."""
    from agent.app import Agent

    closed = closed_port()
    conf = tmp_path / "agent.yml"
    state = tmp_path / "state"

    def write(extra: list[dict]) -> None:
        conf.write_text(yaml.safe_dump({"state_dir": str(state), "web": {"listen": f"127.0.0.1:{free_port()}"},
                                        "thresholds": {"wan_failures_down": 1}, "collectors": {
            "hardware": {"enabled": False}, "wan": {"interval": 1, "state_save_interval": 1, "targets": [
                {"name": "gone", "role": "gateway", "kind": "tcp", "address": "127.0.0.1", "port": closed,
                 "interval": 0.2, "timeout": 0.1}, *extra]}}}))

    def wan(agent: Agent):
        return agent.parts.runner._slots["wan"].collector

    write([])
    agent = Agent(str(conf))
    agent.start()
    try:
        old = wan(agent)
        wait_for(lambda: old.health["gone"].counters.outage_seconds > 0.5, timeout=10, what="an outage under way")
        write([{"name": "extra", "kind": "tcp", "address": "127.0.0.1", "port": closed, "interval": 1,
                "timeout": 0.1}])
        assert agent.reload()
        new = wan(agent)
        assert new is not old and old.scheduler is None and new.persist
        carried = json.loads((state / "wan-state.json").read_text())["targets"]["gone"]
        wait_for(lambda: new.health["gone"].counters.outage_seconds > carried["outage_seconds_total"] + 0.3,
                 timeout=10, what="the new collector counting on")
        assert new.health["gone"].counters.outages == 1  # the same outage, not a new one
        assert (state / "wan-state.lock").exists()
    finally:
        agent.stop()
    assert not (state / "wan-state.lock").exists()
    assert json.loads((state / "wan-state.json").read_text())["targets"]["gone"]["outages_total"] == 1


def test_state_dir_unusable_at_start_then_fixed_keeps_and_saves_the_counters(tmp_path, caplog):
    # Found by the fault-injection run: a state dir that could not be used when the agent started (here: a
    # file where the directory should be) left the counters unsaved for the agent's whole life.
    from agent.wan.state import StateStore

    state = tmp_path / "state"
    state.write_text("not a directory")
    port = closed_port()
    c = collector({"collectors": {"wan": {"state_save_interval": 1, "targets": [
        {"name": "down", "role": "portal", "kind": "tcp", "address": "127.0.0.1", "port": port,
         "interval": 0.2, "timeout": 0.1}]}}}, state)
    with caplog.at_level("INFO", "wardwatch.wan"):
        c.start()
        try:
            wait_for(lambda: c.health["down"].counters.outages == 1, timeout=10, what="the outage")
            time.sleep(1.5)  # save ticks pass while the state dir cannot be used
            state.unlink()
            wait_for(lambda: (state / "wan-state.json").exists(), timeout=10, what="the counters saved")
        finally:
            c.close()
    saved = StateStore(state).load()["down"]
    assert saved.outages == 1 and saved.outage_seconds >= 1.0
    assert caplog.text.count("outage counters are kept in memory") == 1
    assert "can be used again" in caplog.text
