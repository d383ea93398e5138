"""Store and forward: what recording costs, what the buffer takes on disk, what goes on
the wire, and how long a PC takes to catch up after a 1-hour outage at 15 s resolution
(the buffered hour is generated directly, then sent to a real Prometheus receiver).

Figures beside: the record interval (CPU per record), the uncompressed protobuf and
the text exposition (bytes per sample), cramjam's snappy (the pure-Python encoder),
the outage itself and a 60 s target (catch-up).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from receiver import Receiver

from agent.collectors.base import Sample
from bench.common import Row
from exporters import snappy
from exporters.exposition import render
from exporters.remote_write import Client, Sender, SeriesEncoder
from exporters.wal import Buffer

BENCH = "remote_write"
RECORD_INTERVAL = 15.0
OUTAGE = 3600.0
LABELS = {"job": "wardwatch", "district": "ba-dinh", "commune": "phuc-xa", "role": "pc"}


def snapshot(i: int, rng: random.Random) -> list[Sample]:
    """One PC's snapshot with the team's metric names: ~170 series, the default budget plus
    2 printers, a scanner, 4 WAN targets and the virtualized client."""
    s: list[Sample] = [Sample("wardwatch_build_info", {"version": "0.1.0", "python_version": "3.11.7",
                                                       "platform": "win32"}, 1)]
    for c in ("hardware", "printers", "scanners", "wan", "vclient"):
        s += [Sample("wardwatch_collector_success", {"collector": c}, 1),
              Sample("wardwatch_collector_duration_seconds", {"collector": c}, rng.uniform(0.01, 2)),
              Sample("wardwatch_collector_last_success_timestamp_seconds", {"collector": c}, 1.7e9 + i * 15)]
    s.append(Sample("wardwatch_pc_info", {"hostname": "UBND-PHUCXA-MC01", "os_name": "Windows", "os_version": "10",
                                          "os_build": "19045", "vendor": "Dell Inc.", "model": "OptiPlex 3080",
                                          "serial": "8XK2Q53", "cpu_model": "Intel(R) Core(TM) i3-10100"}, 1))
    s += [Sample("wardwatch_cpu_cores", {"kind": k}, v) for k, v in (("physical", 4), ("logical", 8))]
    s += [Sample("wardwatch_memory_total_bytes", {}, 8 * 2**30),
          Sample("wardwatch_memory_available_bytes", {}, rng.randint(2, 5) * 2**30 + rng.randint(0, 2**20)),
          Sample("wardwatch_boot_time_seconds", {}, 1.7e9), Sample("wardwatch_uptime_seconds", {}, 3600 + i * 15),
          Sample("wardwatch_spec_ok", {}, 1), Sample("wardwatch_cpu_frequency_max_hertz", {}, 3.6e9)]
    for m in ("C:\\", "D:\\"):
        s += [Sample("wardwatch_disk_size_bytes", {"mountpoint": m}, 256e9),
              Sample("wardwatch_disk_free_bytes", {"mountpoint": m}, 100e9 - i * 4096)]
    for nic in ("Ethernet", "Wi-Fi", "Ethernet 2"):
        s += [Sample("wardwatch_network_interface_up", {"interface": nic}, 1),
              Sample("wardwatch_network_interface_speed_bytes", {"interface": nic}, 125e6)]
    for r in ("memory", "disk_free", "cpu_cores", "cpu_frequency", "os"):
        s.append(Sample("wardwatch_spec_requirement_met", {"requirement": r}, 1))
        if r != "os":
            s += [Sample("wardwatch_spec_requirement_value", {"requirement": r}, 8e9),
                  Sample("wardwatch_spec_requirement_minimum", {"requirement": r}, 4e9)]
    for p in ("HP_LaserJet_M404", "Canon_LBP2900"):
        s += [Sample("wardwatch_printer_up", {"printer": p}, 1),
              Sample("wardwatch_printer_jobs_waiting", {"printer": p}, rng.randint(0, 2)),
              Sample("wardwatch_printer_oldest_job_age_seconds", {"printer": p}, 0),
              Sample("wardwatch_printer_problem", {"printer": p, "problem": "toner_low"}, 1),
              Sample("wardwatch_printer_info", {"printer": p, "source": "ipp", "make_model": p.replace("_", " "),
                                                "serial": "VNB3K12345"}, 1)]
        s += [Sample("wardwatch_printer_supply_ratio", {"printer": p, "supply": sup}, rng.random())
              for sup in ("black", "drum", "waste", "fuser")]
    s += [Sample("wardwatch_scanner_up", {"scanner": "canon_dr_c225"}, 1),
          Sample("wardwatch_scanner_info", {"scanner": "canon_dr_c225", "source": "twain", "vendor": "Canon",
                                            "model": "DR-C225"}, 1)]
    for target, role in (("dichvucong.hanoi.gov.vn", "portal"), ("vdi-gw.hanoi.gov.vn", "other"),
                         ("10.10.0.1", "gateway"), ("10.10.0.53", "dns")):
        t = {"target": target, "role": role}
        count = 20 * (i + 1)
        for le in ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1", "+Inf"):
            s.append(Sample("wardwatch_wan_rtt_seconds_bucket", {**t, "le": le}, int(count * min(1, float(le) * 10))))
        s += [Sample("wardwatch_wan_rtt_seconds_sum", t, count * rng.uniform(0.02, 0.05)),
              Sample("wardwatch_wan_rtt_seconds_count", t, count),
              Sample("wardwatch_wan_up", t, 1), Sample("wardwatch_wan_degraded", t, 0),
              Sample("wardwatch_wan_loss_ratio", t, rng.choice((0, 0, 0.05))),
              Sample("wardwatch_wan_jitter_seconds", t, rng.uniform(0, 0.01)),
              Sample("wardwatch_wan_consecutive_failures", t, 0),
              Sample("wardwatch_wan_outage_seconds_total", t, 3600),
              Sample("wardwatch_wan_outages_total", t, 1),
              Sample("wardwatch_wan_cert_expiry_timestamp_seconds", t, 1.75e9)]
        s += [Sample("wardwatch_wan_http_phase_seconds", {**t, "phase": ph}, rng.uniform(0.001, 0.2))
              for ph in ("dns", "connect", "tls", "first_byte")]
    s += [Sample("wardwatch_vclient_installed", {"product": "vdi"}, 1),
          Sample("wardwatch_vclient_info", {"product": "vdi", "version": "8.9.0"}, 1),
          Sample("wardwatch_vclient_running", {"product": "vdi"}, 1), Sample("wardwatch_vclient_gateway_up", {}, 1)]
    return s


def _text_bytes_per_sample(samples: list[Sample]) -> float:
    """The same snapshot as text exposition, for the catalogued part of it (what a scrape would carry)."""
    from exporters import catalogue

    index = catalogue.sample_index()
    known = [x for x in samples if x.name in index]
    from agent.runner import Result

    now = time.time()
    body = render({"bench": Result(tuple(known), True, 0.0, now, "", now)})
    return len(body) / (len(known) + 4)  # + build_info and the bench collector's 3 self samples


def _fill(buf: Buffer, instance: str, start_ms: int, records: int, rng: random.Random) -> tuple[int, int, float]:
    """(samples, uncompressed protobuf bytes, seconds spent recording)."""
    enc = SeriesEncoder({**LABELS, "instance": instance})
    samples = raw = 0
    spent = 0.0
    for i in range(records):
        snap = snapshot(i, rng)
        t0 = time.perf_counter()
        payload, n = enc.encode(snap, start_ms + int(i * RECORD_INTERVAL * 1000))
        buf.append(start_ms + int(i * RECORD_INTERVAL * 1000), n, payload)
        spent += time.perf_counter() - t0
        samples += n
        raw += len(payload)
    return samples, raw, spent


def run(quick: bool) -> list[Row]:
    rng = random.Random(9)
    rows: list[Row] = []
    records = int(OUTAGE / RECORD_INTERVAL)  # 240 snapshots: the hour, in quick mode too (it takes seconds)
    with tempfile.TemporaryDirectory(prefix="ww-bench-rw-") as tmp_s:
        tmp = Path(tmp_s)
        now_ms = int(time.time() * 1000)
        start_ms = now_ms - int(OUTAGE * 1000)
        # Two PCs' hours: one sent with the pure-Python snappy encoder, one with cramjam.
        impls = [("python", snappy.compress_python)]
        if snappy.compress_cramjam is not None:
            impls.append(("cramjam", snappy.compress_cramjam))
        filled = {}
        for name, _ in impls:
            buf = Buffer(tmp / f"buf-{name}", 64 * 2**20, 86400 * 2)
            filled[name] = (buf, *_fill(buf, f"pc-{name}", start_ms, records, rng))
        buf, samples, raw, spent = filled["python"]
        per_record = spent / records
        rows.append(Row(BENCH, "record one snapshot (encode + zlib + fsync)", per_record * 1000, "ms",
                        "record interval", RECORD_INTERVAL * 1000))
        rows.append(Row(BENCH, "samples recorded per second", samples / spent, "samples/s",
                        "one PC's need (~170 series / 15 s)", samples / records / RECORD_INTERVAL, "higher"))
        disk = buf.stats().bytes
        rows.append(Row(BENCH, "disk bytes per sample", disk / samples, "B", "uncompressed protobuf", raw / samples))
        rows.append(Row(BENCH, "disk bytes per sample", disk / samples, "B", "text exposition",
                        _text_bytes_per_sample(snapshot(0, rng))))
        rows.append(Row(BENCH, "disk for the buffered hour", disk / 2**20, "MiB", "max_bytes default", 64.0))

        # Snappy alone, on a real request body (2000 samples).
        batch = buf.read(2000)
        body = b"".join(e.payload for e in batch)
        batch_samples = sum(e.samples for e in batch)
        reps = 3 if quick else 10
        speeds = {}
        sizes = {}
        for name, fn in impls:
            t0 = time.perf_counter()
            for _ in range(reps):
                packed = fn(body)
            speeds[name] = len(body) * reps / (time.perf_counter() - t0) / 2**20
            sizes[name] = len(packed)
        if "cramjam" in speeds:
            rows.append(Row(BENCH, "snappy encode, pure Python", speeds["python"], "MiB/s", "cramjam",
                            speeds["cramjam"], "higher"))
            rows.append(Row(BENCH, "snappy size, pure Python", sizes["python"], "B", "cramjam", sizes["cramjam"]))
        rows.append(Row(BENCH, "wire bytes per sample (snappy)", sizes["python"] / batch_samples, "B",
                        "uncompressed protobuf", len(body) / batch_samples))

        with Receiver(tmp / "rx") as rx:
            for name, fn in impls:
                buf, samples, _, _ = filled[name]
                client = Client(rx.write_url, 60, compress=fn)
                sender = Sender(buf, client, 2000, 1.0, 10.0)
                t0 = time.perf_counter()
                sent = sender.send_pending()
                took = time.perf_counter() - t0
                stored = rx.query(f'count_over_time(wardwatch_uptime_seconds{{instance="pc-{name}"}}[2h])')
                if sent != samples or not stored or int(float(stored[0]["value"][1])) != records:
                    raise AssertionError(f"catch-up with {name}: sent {sent}/{samples}, stored {stored}")
                rows.append(Row(BENCH, f"catch-up after 1 h outage ({name} snappy)", took, "s",
                                "target", 60.0))
                rows.append(Row(BENCH, f"samples sent per second ({name} snappy)", sent / took, "samples/s",
                                "1 h backlog in 60 s", samples / 60, "higher"))
                rows.append(Row(BENCH, f"requests for the hour ({name} snappy)", sender.requests, "requests",
                                "snapshots buffered", records))
                wire = client.bytes_sent
                rows.append(Row(BENCH, f"wire bytes for the hour ({name} snappy)", wire / 2**10, "KiB",
                                "uncompressed protobuf", raw / 2**10))
                # What the link itself costs: computed from the bytes, not measured.
                rows.append(Row(BENCH, f"hour over a 256 kbit/s link, computed ({name} snappy)", wire * 8 / 256e3,
                                "s", "outage", OUTAGE))
                client.close()
                buf.close()
    return rows
