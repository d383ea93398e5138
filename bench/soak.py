"""Soak under faults: the real agent (tests/chaos_agent.py, as nobody with CAP_NET_RAW only)
for 30 minutes (3 with --quick; WARDWATCH_SOAK_MINUTES to choose), intervals shortened to a
second, with collectors that hang, raise and return garbage all along and, in every cycle
(about two minutes; one minute with --quick): its CUPS queue deleted and created again,
scanimage hanging, dnsmasq stopped while the state dir is read-only, the state dir full, the
wall clock two hours ahead and back (and, every other cycle, half an hour behind and back).
The agent is restarted once at the end, to read its saved counters back.

Prints RSS, open fds and threads over time (a table of samples), then rows: RSS start / end /
max, fds start / end, scrapes failed, DNS outage injected beside counted (and lost), the
store-and-forward buffer's corrupt records and what the full disk cost.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from faults import Rig

from bench.common import Row

MiB = 2**20
DNS = {"target": "dns", "role": "dns"}
DNS_KEY = ("wardwatch_wan_outage_seconds_total", tuple(sorted(DNS.items())))


def _cycle(r: Rig, n: int, step: float) -> None:
    """One round of every fault; `step` seconds for each episode."""
    r.queue_gone()
    time.sleep(step)
    r.queue_back()
    r.scanner_hangs(True)
    time.sleep(step)
    r.scanner_hangs(False)
    r.state_read_only(True)
    r.dns_down()
    time.sleep(step * 1.5)
    r.dns_up()
    time.sleep(step / 2)
    r.state_read_only(False)
    r.state_full(True)
    time.sleep(step)
    r.state_full(False)
    r.clock("+2h")
    time.sleep(step)
    r.clock("+0")
    if n % 2:
        time.sleep(step / 2)
        r.clock("-30m")
        time.sleep(step)
        r.clock("+0")


def _drain(r: Rig, timeout: float = 180.0) -> float:
    """Seconds until the sender caught up (fewer unsent samples than one large snapshot), or -1."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        _, _, m = r.scrape()
        if m.get(("wardwatch_remote_write_samples_buffered", ()), 1e9) < 2500:
            return time.monotonic() - t0
        time.sleep(1)
    return -1.0


def _table(r: Rig, every: float) -> str:
    lines = [f"{'minute':>7} {'RSS MiB':>8} {'fds':>4} {'threads':>7} {'scrape ms':>9} {'series':>6} "
             f"{'unsent':>6} {'sent':>8}  faults"]
    next_t = 0.0
    for x in r.readings:
        if x.t >= next_t:
            v = x.values
            lines.append(f"{x.t / 60:7.1f} {x.rss / MiB:8.1f} {x.fds:4d} {x.threads:7d} "
                         f"{x.scrape_seconds * 1000:9.0f} {v.get('series', 0):6.0f} {v.get('buffered', 0):6.0f} "
                         f"{v.get('sent', 0):8.0f}  {x.faults}")
            next_t = x.t + every
    return "\n".join(lines)


def run(quick: bool) -> list[Row]:
    minutes = float(os.environ.get("WARDWATCH_SOAK_MINUTES") or (3 if quick else 30))
    step = 5.0 if quick else 10.0
    warmup = 20.0 if quick else 60.0
    with Rig(period=1.0 if quick else 2.0) as r:
        try:
            r.wait_metric("wardwatch_wan_up", DNS, lambda v: v == 1, timeout=60, what="the DNS target up")
            time.sleep(warmup)
            start = r.readings[-1]
            end_at = r.started + minutes * 60
            cycles = 0
            while time.monotonic() + step * 8 < end_at:
                _cycle(r, cycles, step)
                cycles += 1
                time.sleep(min(step, max(0.0, end_at - time.monotonic())))
            time.sleep(max(0.0, end_at - time.monotonic()))
            drained_in = _drain(r)
            _, _, final = r.scrape()
            readings = [x for x in r.readings if x.t >= start.t]
            end = readings[-1]
            outage_before = final[DNS_KEY]
            injected, episodes = r.injected_outage()
            time.sleep(2.5)  # a save tick
            r.restart_agent()
            outage_after = r.wait_metric("wardwatch_wan_outage_seconds_total", DNS, lambda v: True, timeout=60)
            log = r.log_text()
        finally:
            print(_table(r, 60.0 if not quick else 10.0), file=sys.stdout, flush=True)

    all_readings = r.readings
    scrapes_failed = sum(not x.scrape_ok for x in all_readings)
    p99 = statistics.quantiles([x.scrape_seconds for x in readings], n=100)[98] * 1000 if len(readings) > 2 else 0
    lost = max(0.0, injected - outage_before - 1.0 * episodes)
    disk_logs = sum(log.count(s) for s in ("cannot save the progress file", "cannot write records",
                                           "cannot delete sent segments", "wan: cannot save"))
    disk_episodes = sum(1 for e in r.episodes if e.fault in ("state_read_only", "state_full"))
    wal = {k[1][0][1] if k[1] else "": v for k, v in final.items()
           if k[0] == "wardwatch_remote_write_samples_dropped_total"}
    return [
        Row("soak", f"duration ({cycles} fault cycles)", (end.t - r.readings[0].t) / 60, "min", "target", minutes,
            "higher"),
        Row("soak", "RSS at start (after warm-up)", start.rss / MiB, "MiB", "-", None),
        Row("soak", "RSS at end", end.rss / MiB, "MiB", "RSS at start", start.rss / MiB),
        Row("soak", "RSS max", max(x.rss for x in readings) / MiB, "MiB", "RSS at start", start.rss / MiB),
        Row("soak", "open fds at end", float(end.fds), "fds", "fds at start", float(start.fds)),
        Row("soak", "open fds max", float(max(x.fds for x in readings)), "fds", "fds at start", float(start.fds)),
        Row("soak", "threads at end", float(end.threads), "threads", "threads at start", float(start.threads)),
        Row("soak", "scrapes answered", float(len(all_readings) - scrapes_failed), "scrapes", "scrapes made",
            float(len(all_readings)), "higher"),
        Row("soak", "scrapes failed", float(scrapes_failed), "scrapes", "target", 0.0),
        Row("soak", "scrape latency p99", p99, "ms", "-", None),
        Row("soak", f"DNS outage counted ({episodes} outages)", outage_before, "s", "injected", injected, "higher"),
        Row("soak", "outage seconds lost", lost, "s", "target", 0.0),
        Row("soak", "outage seconds lost across the restart", max(0.0, outage_before - outage_after), "s", "target",
            0.0),
        Row("soak", "buffer: corrupt records", final.get(("wardwatch_remote_write_corrupt_records_total", ()), -1),
            "records", "target", 0.0),
        Row("soak", "buffer: samples the disk refused (full, read-only), counted", wal.get("write_error", 0.0),
            "samples", "-", None),
        Row("soak", "buffer: samples dropped otherwise", sum(v for k, v in wal.items() if k != "write_error"),
            "samples", "target", 0.0),
        Row("soak", "buffer: samples unsent at the end", final.get(("wardwatch_remote_write_samples_buffered", ()), -1),
            "samples", "-", None),
        Row("soak", "buffer: seconds to catch up at the end (-1: not within 3 min)", drained_in, "s", "-", None),
        Row("soak", "remote-write requests failed (all causes; retried)", sum(
            v for k, v in final.items() if k[0] == "wardwatch_remote_write_send_errors_total"), "requests", "-", None),
        Row("soak", "disk-failure log lines per disk episode", disk_logs / max(1, disk_episodes), "lines", "-", None),
    ]
