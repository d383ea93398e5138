"""WAN probes: round-trip accuracy beside ping and blackbox_exporter, and the cost of
probing 50 targets of mixed kinds beside blackbox_exporter doing the same probes.

Targets are real servers on loopback (HTTP, HTTPS, dnsmasq, TCP) and a host in a
network namespace of our own (reached over a veth; one of its ports drops every
packet, so a cycle includes timeouts).

Rows:
- RTT median per kind, ours vs `ping` and vs blackbox_exporter (its probe's own
  figure for the same round trip), the two probes taking turns on the same target;
- the first cycle of 50 targets vs when the last one starts (first rounds are spread
  over a second) plus the slowest round (its timeout), and vs the sum of the rounds
  (what one-after-the-other probing would take);
- probe rounds per second vs what the intervals schedule;
- CPU per probe round, ours vs blackbox_exporter's for the same 50 probes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import yaml
from netns import NetNS
from support import need, self_signed
from wan_servers import blackbox, blackbox_probe, dnsmasq, servers_process

from agent import config as cfg
from agent.collectors.base import Context
from agent.collectors.wan import WanCollector
from agent.platform import current
from agent.wan.scheduler import SPREAD
from bench.common import Row

BENCH = "wan"


def _collector(targets: list[dict], state_dir: Path) -> WanCollector:
    doc = {"state_dir": str(state_dir), "thresholds": {"wan_failures_down": 1},
           "collectors": {"wan": {"max_parallel": 64, "targets": targets}}}
    settings = cfg.loads(yaml.safe_dump(doc), "bench")
    return WanCollector(settings.collectors.wan, Context(settings, current(), str(state_dir)))


def _ping_median(host: str, count: int) -> float:
    out = subprocess.run([need("ping"), "-n", "-c", str(count), "-i", "0.01", "-W", "1", host],
                         capture_output=True, text=True, timeout=60).stdout
    times = [float(m) / 1000 for m in re.findall(r"time=([\d.]+) ms", out)]
    return statistics.median(times)


def run(quick: bool) -> list[Row]:
    rows: list[Row] = []
    samples = 10 if quick else 30
    with tempfile.TemporaryDirectory(prefix="wardwatch-bench-wan-") as tmp_s, NetNS("bench") as ns:
        tmp = Path(tmp_s)
        ns.run("iptables", "-A", "INPUT", "-p", "tcp", "--dport", "9", "-j", "DROP")  # a port that never answers
        cert = self_signed(tmp)
        with contextlib.ExitStack() as stack:
            served = stack.enter_context(servers_process(tmp, cert))  # their CPU is not ours
            plain, https, tcp_port = served["plain"], served["https"], served["tcp"]
            dns_port = stack.enter_context(dnsmasq(tmp, {"portal.ward.test": "10.9.8.7"}))
            bb = stack.enter_context(blackbox(tmp, {
                "icmp": {"prober": "icmp", "timeout": "1s", "icmp": {"preferred_ip_protocol": "ip4"}},
                "tcp": {"prober": "tcp", "timeout": "1s", "tcp": {"preferred_ip_protocol": "ip4"}},
                "http": {"prober": "http", "timeout": "1s", "http": {
                    "preferred_ip_protocol": "ip4", "follow_redirects": False,
                    "tls_config": {"ca_file": str(cert.cert)}}},
                "dns": {"prober": "dns", "timeout": "1s", "dns": {
                    "query_name": "portal.ward.test", "preferred_ip_protocol": "ip4"}},
            }))
            https_port = int(https.rsplit(":", 1)[1])
            # -- RTT accuracy: one target per kind, ours in the background, blackbox at the same time --------
            acc = [  # (our target, blackbox module, blackbox target, blackbox series, label)
                ({"name": "icmp-lo", "kind": "icmp", "address": "127.0.0.1", "packets": 5, "packet_interval": 0.01},
                 "icmp", "127.0.0.1", "probe_icmp_duration_seconds{phase=rtt}", "icmp loopback"),
                ({"name": "icmp-ns", "kind": "icmp", "address": ns.there, "packets": 5, "packet_interval": 0.01},
                 "icmp", ns.there, "probe_icmp_duration_seconds{phase=rtt}", "icmp veth host"),
                ({"name": "tcp", "kind": "tcp", "address": "127.0.0.1", "port": tcp_port},
                 "tcp", f"127.0.0.1:{tcp_port}", "probe_duration_seconds", "tcp connect"),
                ({"name": "http", "kind": "http", "address": plain + "/"},
                 "http", plain + "/", "probe_http_duration_seconds{phase=connect}", "http connect"),
                ({"name": "https", "kind": "http", "address": https + "/", "ca_file": str(cert.cert)},
                 "http", https + "/", "probe_http_duration_seconds{phase=connect}", "https connect"),
                ({"name": "dns", "kind": "dns", "address": "127.0.0.1", "port": dns_port, "query": "portal.ward.test"},
                 "dns", f"127.0.0.1:{dns_port}", "probe_dns_duration_seconds{phase=request}", "dns query"),
            ]
            # Paired: our probe, then blackbox's (then ping's, for ICMP), one after the other on the same
            # target, so both meet the same machine (a DNS server woken from an idle CPU answers later).
            c = _collector([{"role": "other", "interval": 1.0, "timeout": 0.5, **t} for t, *_ in acc], tmp / "s1")
            by_name = {t.name: t for t in c.targets}
            ours: dict[str, list[float]] = {}
            theirs: dict[str, list[float]] = {}
            for i in range(samples):
                for t, module, target, series, _label in acc:
                    if i % 2:  # take turns going first
                        bbx = blackbox_probe(bb, module, target)
                        mine = c._probe(by_name[t["name"]])
                    else:
                        mine = c._probe(by_name[t["name"]])
                        bbx = blackbox_probe(bb, module, target)
                    assert mine.ok and bbx["probe_success"] == 1, (t["name"], mine, bbx)
                    ours.setdefault(t["name"], []).append(statistics.median(mine.rtts))
                    theirs.setdefault(t["name"], []).append(bbx[series])
            for host, name in (("127.0.0.1", "icmp-lo"), (ns.there, "icmp-ns")):
                label = "icmp loopback" if name == "icmp-lo" else "icmp veth host"
                rows.append(Row(BENCH, f"RTT median, {label}", statistics.median(ours[name]) * 1e3, "ms", "ping",
                                _ping_median(host, samples * 2) * 1e3))
            for t, _m, _t, _s, label in acc:
                rows.append(Row(BENCH, f"RTT median, {label}", statistics.median(ours[t["name"]]) * 1e3, "ms",
                                "blackbox_exporter", statistics.median(theirs[t["name"]]) * 1e3))

            # -- 50 targets of mixed kinds -------------------------------------------------------------------
            interval, timeout = 2.0, 1.0
            mixed: list[dict] = []
            for i in range(10):
                mixed.append({"name": f"icmp{i}", "kind": "icmp", "address": "127.0.0.1" if i < 8 else ns.there,
                              "packets": 3, "packet_interval": 0.02})
                mixed.append({"name": f"tcp{i}", "kind": "tcp", "address": "127.0.0.1" if i < 8 else ns.there,
                              "port": tcp_port if i < 8 else 9})
                mixed.append({"name": f"http{i}", "kind": "http", "address": (plain if i % 2 else https) + "/",
                              "ca_file": str(cert.cert)})
                mixed.append({"name": f"dns{i}", "kind": "dns", "address": "127.0.0.1", "port": dns_port,
                              "query": "portal.ward.test"})
                mixed.append({"name": f"tls{i}", "kind": "tls", "address": "127.0.0.1", "port": https_port,
                              "ca_file": str(cert.cert)})
            targets = [{"role": "other", "interval": interval, "timeout": timeout, **t} for t in mixed]
            slowest = max((t.get("packets", 1) - 1) * t.get("packet_interval", 0) + timeout for t in targets)
            duration = 6.0 if quick else 20.0
            c = _collector(targets, tmp / "s2")
            me = psutil.Process()
            cpu0, t0 = me.cpu_times(), time.monotonic()
            try:
                c.collect()  # waits (bounded) for the first round of every target
                first_cycle = time.monotonic() - t0
                with c._lock:
                    serial = sum(h.last.finished - h.last.started for h in c.health.values() if h.last)
                time.sleep(max(0.0, duration - (time.monotonic() - t0)))
                with c._lock:
                    rounds = sum(h.rounds for h in c.health.values())
                    failed = sum(1 for h in c.health.values() if h.last and not h.last.ok)
            finally:
                elapsed = time.monotonic() - t0
                c.close()
            cpu1 = me.cpu_times()
            our_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
            last_start = (len(targets) - 1) / len(targets) * min(interval, SPREAD)
            rows.append(Row(BENCH, "first cycle of 50 targets (2 time out)", first_cycle, "s",
                            f"last start ({SPREAD:g}s spread) + slowest round", last_start + slowest))
            rows.append(Row(BENCH, "first cycle of 50 targets (2 time out)", first_cycle, "s",
                            "sum of the rounds (serial)", serial))
            rows.append(Row(BENCH, "probe rounds per second", rounds / elapsed, "1/s",
                            f"scheduled (50 / {interval:g}s)", 50 / interval, better="higher"))
            rows.append(Row(BENCH, "CPU per probe round", our_cpu / rounds * 1e3, "ms", "", None))
            assert failed == 2, f"expected the 2 tcp targets to the dropped port to fail, {failed} failed"

            # blackbox_exporter: the same 50 probes, 16 at a time (as Prometheus would scrape them)
            bb_targets = []
            for t in mixed:
                kind = t["kind"]
                if kind == "icmp":
                    bb_targets.append(("icmp", t["address"]))
                elif kind == "tcp":
                    bb_targets.append(("tcp", f"{t['address']}:{t['port']}"))
                elif kind == "http":
                    bb_targets.append(("http", t["address"]))
                elif kind == "dns":
                    bb_targets.append(("dns", f"127.0.0.1:{dns_port}"))
                else:
                    bb_targets.append(("tcp", f"127.0.0.1:{https_port}"))  # blackbox: tls via tcp prober
            bb_proc = psutil.Process(_pid_listening(bb))
            cycles = 2 if quick else 4
            b0 = bb_proc.cpu_times()
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                for _ in range(cycles):
                    list(pool.map(lambda mt: blackbox_probe(bb, *mt), bb_targets))
            b1 = bb_proc.cpu_times()
            bb_cpu = (b1.user - b0.user) + (b1.system - b0.system)
            rows[-1] = Row(BENCH, "CPU per probe round", our_cpu / rounds * 1e3, "ms", "blackbox_exporter",
                           bb_cpu / (cycles * len(bb_targets)) * 1e3)
    return rows


def _pid_listening(base: str) -> int:
    port = int(base.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            return conn.pid
    raise RuntimeError(f"nothing listens on {base}")
