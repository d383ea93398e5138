"""A fleet simulator: one process serving the metrics of many simulated ward/commune
PCs, with devices and links broken on purpose, and the ground truth of what a
commune's readiness (and an alert) should say.

Two ways to be scraped by a real Prometheus:
- one target per PC: `/pc/<name>/metrics` (file_sd from `file_sd()` sets
  `__metrics_path__` and the inventory's labels district, commune, role="pc",
  instance), so `up` is Prometheus's own, as with real agents;
- federation-style: `/federate` or `/federate/<district>` serve every PC's series
  with the labels a district Prometheus would give them (instance, job, district,
  commune, role="pc" on the PC's series and `up`; WAN series keep their own role),
  to be scraped with `honor_labels: true`; for 10,000 PCs.

The model is plain dataclasses (`Fleet`, `PC`, `Printer`, `Scanner`, `WanTarget`);
tests change it while it is served (`fleet.update(name, ...)`), under a lock.
`Fleet.generate()` builds a deterministic fleet from a seed, with every kind of
fault, whole (that makes a commune NOT READY) and partial (that must not).
`truth()` says, from the model alone, every commune's reasons (fleet/readiness.py's
codes). `inventory_yaml()` writes the matching Ansible inventory (fleet/inventory.py's
layout), `history_openmetrics()` a past week of WAN series for `promtool tsdb
create-blocks-from openmetrics`.

Run alone (benchmarks): python3 tests/fleet_sim.py --port P --districts 100 --communes 10 --pcs 10
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from support import serving

UP, DOWN, UNSEEN = "up", "down", "unseen"  # PC states: reporting / scrape fails / not in file_sd at all
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PROBES_PER_SECOND = 0.2  # one RTT observation per target every 5 s
PRODUCT = "vdi-client"
JOB = "wardwatch"
REQUIRED_WAN_ROLES = ("portal", "gateway")

DISTRICT_NAMES = ("Ba Đình", "Hoàn Kiếm", "Tây Hồ", "Long Biên", "Cầu Giấy", "Đống Đa", "Hai Bà Trưng",
                  "Hoàng Mai", "Thanh Xuân", "Sóc Sơn", "Đông Anh", "Gia Lâm", "Nam Từ Liêm", "Thanh Trì")
COMMUNE_NAMES = ("Phúc Xá", "Trúc Bạch", "Vĩnh Phúc", "Cống Vị", "Liễu Giai", "Quán Thánh", "Ngọc Hà",
                 "Điện Biên", "Đội Cấn", "Ngọc Khánh", "Kim Mã", "Giảng Võ", "Thành Công", "Hàng Bạc",
                 "Xuân La", "Nhật Tân", "Bồ Đề", "Dịch Vọng", "Láng Thượng", "Bạch Đằng", "Tương Mai")


def fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


@dataclass
class Printer:
    name: str
    up: bool = True
    problems: tuple[str, ...] = ()


@dataclass
class Scanner:
    name: str
    up: bool = True


@dataclass
class WanTarget:
    name: str
    role: str
    up: bool = True
    degraded: bool = False
    rtt: float = 0.03
    loss: float = 0.0
    # histogram accumulators (observations so far), advanced lazily
    count: float = 0.0
    total: float = 0.0
    buckets: list[float] = field(default_factory=lambda: [0.0] * len(BUCKETS))
    since: float = field(default_factory=time.time)
    outage: float = 0.0  # seconds down so far (wardwatch_wan_outage_seconds_total)

    def advance(self, now: float) -> None:
        dt = max(0.0, now - self.since)
        self.since = now
        if not self.up:
            self.outage += dt
        if not self.up or dt == 0:
            return
        n = dt * PROBES_PER_SECOND
        self.count += n
        self.total += n * self.rtt
        for i, le in enumerate(BUCKETS):
            if self.rtt <= le:
                self.buckets[i] += n


@dataclass
class PC:
    name: str
    district: str   # label value (group name without district_)
    commune: str    # label value (group name without commune_)
    address: str
    state: str = UP
    spec_ok: bool = True
    vclient: bool | None = True  # None: no vclient metric at all
    printers: list[Printer] = field(default_factory=list)
    scanners: list[Scanner] = field(default_factory=list)
    wan: list[WanTarget] = field(default_factory=list)


@dataclass
class Commune:
    district: str
    district_name: str
    commune: str
    name: str
    pcs: list[str] = field(default_factory=list)


Sample = tuple[str, dict[str, str], float]


class Fleet:
    def __init__(self) -> None:
        self.communes: dict[tuple[str, str], Commune] = {}
        self.pcs: dict[str, PC] = {}
        self.lock = threading.Lock()
        self.scrapes = 0
        # also the families the dashboards read beyond readiness (hardware, collectors' durations, supplies,
        # outages, certificates): all healthy values, so no alert changes; off by default (series budget)
        self.details = False

    # --- building ----------------------------------------------------------------
    def add_commune(self, district: str, district_name: str, commune: str, name: str) -> Commune:
        c = Commune(district, district_name, commune, name)
        self.communes[(district, commune)] = c
        return c

    def add_pc(self, commune: Commune, name: str, **kw) -> PC:
        i = len(self.pcs)
        address = kw.pop("address", f"127.{1 + i // 65536}.{i // 256 % 256}.{i % 256}")
        pc = PC(name, commune.district, commune.commune, address, **kw)
        if not pc.printers and "printers" not in kw:
            pc.printers = [Printer(f"may-in-{commune.commune}")]
        if not pc.scanners and "scanners" not in kw:
            pc.scanners = [Scanner(f"may-quet-{name}")]
        if not pc.wan and "wan" not in kw:
            pc.wan = [WanTarget("dichvucong", "portal"), WanTarget("vdi-gateway", "gateway"),
                      WanTarget("dns-1", "dns")]
        self.pcs[name] = pc
        commune.pcs.append(name)
        return pc

    @classmethod
    def generate(cls, districts: int = 4, communes_per_district: int = 4, pcs_per_commune: int = 3,
                 seed: int = 1, broken: float = 0.35, partial: float = 0.35) -> Fleet:
        """A deterministic fleet: a `broken` share of communes get one or two faults that make
        them NOT READY, a `partial` share get faults that must not."""
        rnd = random.Random(seed)
        fleet = cls()
        whole = ("all_down", "unseen", "spec", "printer", "scanner", "wan_down", "wan_degraded", "client",
                 "no_wan_data")
        partial_faults = ("one_down", "one_unseen", "one_spec", "one_printer", "one_scanner", "one_wan_down",
                          "one_wan_degraded", "one_client", "dns_down")
        n = 0
        for di in range(districts):
            dname = DISTRICT_NAMES[di % len(DISTRICT_NAMES)] + ("" if di < len(DISTRICT_NAMES)
                                                                else f" {di // len(DISTRICT_NAMES) + 1}")
            dlabel = fold(dname)
            for _ci in range(communes_per_district):
                cname = COMMUNE_NAMES[n % len(COMMUNE_NAMES)] + ("" if n < len(COMMUNE_NAMES)
                                                                 else f" {n // len(COMMUNE_NAMES) + 1}")
                n += 1
                commune = fleet.add_commune(dlabel, dname, fold(cname), cname)
                for pi in range(pcs_per_commune):
                    pc = fleet.add_pc(commune, f"{commune.commune}-{pi + 1:02d}".replace("_", "-"))
                    for t in pc.wan:
                        t.rtt = round(rnd.uniform(0.01, 0.08), 4)
                        t.loss = round(rnd.choice((0.0, 0.0, 0.0, 0.01)), 3)
                roll = rnd.random()
                faults: list[str] = []
                if roll < broken:
                    faults = rnd.sample(whole, rnd.choice((1, 1, 2)))
                elif roll < broken + partial:
                    faults = [rnd.choice(partial_faults)]
                fleet.apply(commune, faults, rnd)
        return fleet

    def apply(self, commune: Commune, faults: list[str], rnd: random.Random) -> None:
        pcs = [self.pcs[p] for p in commune.pcs]
        one = rnd.choice(pcs) if len(pcs) > 1 else None  # partial faults need another PC to stay good
        for f in faults:
            if f == "all_down":
                for pc in pcs:
                    pc.state = DOWN
            elif f == "unseen":
                for pc in pcs:
                    pc.state = UNSEEN
            elif f == "spec":
                for pc in pcs:
                    pc.spec_ok = False
            elif f == "printer":
                for pc in pcs:
                    for p in pc.printers:
                        p.up, p.problems = False, (rnd.choice(("jammed", "toner_empty", "offline", "door_open")),)
            elif f == "scanner":
                for pc in pcs:
                    for s in pc.scanners:
                        s.up = False
            elif f in ("wan_down", "wan_degraded"):
                role = "portal" if f == "wan_down" else "gateway"
                for pc in pcs:
                    for t in pc.wan:
                        if t.role == role:
                            if f == "wan_down":
                                t.up, t.loss = False, 1.0
                            else:
                                t.degraded, t.rtt, t.loss = True, 0.45, 0.12
            elif f == "no_wan_data":
                for pc in pcs:
                    pc.wan = [t for t in pc.wan if t.role not in REQUIRED_WAN_ROLES]
            elif f == "client":
                for pc in pcs:
                    pc.vclient = rnd.choice((False, None))
            elif one is None:
                continue
            elif f == "one_down":
                one.state = DOWN
            elif f == "one_unseen":
                one.state = UNSEEN
            elif f == "one_spec":
                one.spec_ok = False
            elif f == "one_printer":
                for p in one.printers:
                    p.up, p.problems = False, ("jammed",)
                    # a printer of its own, so the commune's shared printer still works on the others
                    p.name = f"may-in-rieng-{one.name}"
            elif f == "one_scanner":
                for s in one.scanners:
                    s.up = False
            elif f == "one_wan_down":
                for t in one.wan:
                    if t.role == "portal":
                        t.up, t.loss = False, 1.0
            elif f == "one_wan_degraded":
                for t in one.wan:
                    if t.role == "gateway":
                        t.degraded, t.rtt, t.loss = True, 0.4, 0.1
            elif f == "one_client":
                one.vclient = False
            elif f == "dns_down":
                for pc in pcs:
                    for t in pc.wan:
                        if t.role == "dns":
                            t.up, t.loss = False, 1.0

    def update(self, name: str, fn) -> None:
        """Change a PC while it is served: fn(pc) under the lock, WAN counters kept monotonic."""
        with self.lock:
            pc = self.pcs[name]
            now = time.time()
            for t in pc.wan:
                t.advance(now)
            fn(pc)

    # --- ground truth --------------------------------------------------------------
    def truth(self, wan_roles: tuple[str, ...] = REQUIRED_WAN_ROLES) -> dict[tuple[str, str], list[str]]:
        """Every commune's reasons, from the model alone (READY = [])."""
        out = {}
        for key, c in self.communes.items():
            pcs = [self.pcs[p] for p in c.pcs]
            rep = [pc for pc in pcs if pc.state == UP]
            if not pcs:
                out[key] = ["no_pcs"]
                continue
            if not rep:
                out[key] = ["pcs_not_reporting"]
                continue
            r = []
            if not any(pc.spec_ok for pc in rep):
                r.append("no_pc_meets_spec")
            printers: dict[str, bool] = {}
            for pc in rep:
                for p in pc.printers:
                    printers[p.name] = printers.get(p.name, False) or p.up
            if not any(printers.values()):
                r.append("no_working_printer")
            scanners: dict[str, bool] = {}
            for pc in rep:
                for s in pc.scanners:
                    scanners[s.name] = scanners.get(s.name, False) or s.up
            if not any(scanners.values()):
                r.append("no_working_scanner")
            best: dict[tuple[str, str], int] = {}
            for pc in rep:
                for t in pc.wan:
                    if t.role in wan_roles:
                        score = 2 if t.up and not t.degraded else 1 if t.up else 0
                        best[(t.name, t.role)] = max(best.get((t.name, t.role), 0), score)
            if not best or 0 in best.values():
                r.append("wan_down")
            if 1 in best.values():
                r.append("wan_degraded")
            if not any(pc.vclient for pc in rep):
                r.append("client_missing")
            out[key] = r
        return out

    # --- metrics -------------------------------------------------------------------
    def samples(self, pc: PC, now: float) -> list[tuple[str, str, list[Sample]]]:
        """(family, type, samples) of one PC, as its agent would expose them."""
        fams: list[tuple[str, str, list[Sample]]] = [
            ("wardwatch_build_info", "gauge",
             [("wardwatch_build_info", {"version": "0.1.0-sim", "python_version": "3.11", "platform": "linux"},
               1)]),
            ("wardwatch_spec_ok", "gauge", [("wardwatch_spec_ok", {}, int(pc.spec_ok))]),
            ("wardwatch_spec_requirement_met", "gauge",
             [("wardwatch_spec_requirement_met", {"requirement": r}, int(pc.spec_ok or r != "memory"))
              for r in ("memory", "disk_free", "cpu_cores", "cpu_frequency", "os")]),
            ("wardwatch_collector_success", "gauge",
             [("wardwatch_collector_success", {"collector": c}, 1)
              for c in ("hardware", "printers", "scanners", "wan") + (("vclient",) if pc.vclient is not None
                                                                      else ())]),
            ("wardwatch_printer_up", "gauge",
             [("wardwatch_printer_up", {"printer": p.name}, int(p.up)) for p in pc.printers]),
            ("wardwatch_printer_problem", "gauge",
             [("wardwatch_printer_problem", {"printer": p.name, "problem": prob}, 1)
              for p in pc.printers for prob in p.problems]),
            ("wardwatch_scanner_up", "gauge",
             [("wardwatch_scanner_up", {"scanner": s.name}, int(s.up)) for s in pc.scanners]),
        ]
        up, degraded, loss, hist = [], [], [], []
        for t in pc.wan:
            t.advance(now)
            lab = {"target": t.name, "role": t.role}
            up.append(("wardwatch_wan_up", lab, int(t.up)))
            degraded.append(("wardwatch_wan_degraded", lab, int(t.degraded)))
            loss.append(("wardwatch_wan_loss_ratio", lab, t.loss))
            for le, v in zip(BUCKETS, t.buckets, strict=True):
                hist.append(("wardwatch_wan_rtt_seconds_bucket", {**lab, "le": f"{le:g}"}, round(v, 3)))
            hist.append(("wardwatch_wan_rtt_seconds_bucket", {**lab, "le": "+Inf"}, round(t.count, 3)))
            hist.append(("wardwatch_wan_rtt_seconds_sum", lab, round(t.total, 6)))
            hist.append(("wardwatch_wan_rtt_seconds_count", lab, round(t.count, 3)))
        fams += [("wardwatch_wan_up", "gauge", up), ("wardwatch_wan_degraded", "gauge", degraded),
                 ("wardwatch_wan_loss_ratio", "gauge", loss), ("wardwatch_wan_rtt_seconds", "histogram", hist)]
        if pc.vclient is not None:
            fams += [("wardwatch_vclient_installed", "gauge",
                      [("wardwatch_vclient_installed", {"product": PRODUCT}, int(pc.vclient))]),
                     ("wardwatch_vclient_running", "gauge",
                      [("wardwatch_vclient_running", {"product": PRODUCT}, int(bool(pc.vclient)))])]
        if self.details:
            fams += self._details(pc)
        return fams

    def _details(self, pc: PC) -> list[tuple[str, str, list[Sample]]]:
        gib = 2**30
        memory = 8 * gib if pc.spec_ok else 2 * gib
        req = {"memory": (memory, 4 * gib), "disk_free": (60 * gib, 20 * gib), "cpu_cores": (4, 2),
               "cpu_frequency": (2.4e9, 1.8e9)}
        return [
            ("wardwatch_memory_total_bytes", "gauge", [("wardwatch_memory_total_bytes", {}, memory)]),
            ("wardwatch_memory_available_bytes", "gauge", [("wardwatch_memory_available_bytes", {}, memory // 2)]),
            ("wardwatch_disk_size_bytes", "gauge", [("wardwatch_disk_size_bytes", {"mountpoint": "/"}, 120 * gib)]),
            ("wardwatch_disk_free_bytes", "gauge", [("wardwatch_disk_free_bytes", {"mountpoint": "/"}, 60 * gib)]),
            ("wardwatch_spec_requirement_value", "gauge",
             [("wardwatch_spec_requirement_value", {"requirement": r}, v) for r, (v, _) in req.items()]),
            ("wardwatch_spec_requirement_minimum", "gauge",
             [("wardwatch_spec_requirement_minimum", {"requirement": r}, m) for r, (_, m) in req.items()]),
            ("wardwatch_collector_duration_seconds", "gauge",
             [("wardwatch_collector_duration_seconds", {"collector": c}, 0.25)
              for c in ("hardware", "printers", "scanners", "wan")]),
            ("wardwatch_printer_supply_ratio", "gauge",
             [("wardwatch_printer_supply_ratio", {"printer": p.name, "supply": "toner"}, 0.6) for p in pc.printers]),
            ("wardwatch_wan_outage_seconds_total", "counter",
             [("wardwatch_wan_outage_seconds_total", {"target": t.name, "role": t.role}, round(t.outage, 3))
              for t in pc.wan]),
            ("wardwatch_wan_jitter_seconds", "gauge",
             [("wardwatch_wan_jitter_seconds", {"target": t.name, "role": t.role}, 0.004) for t in pc.wan]),
            ("wardwatch_wan_cert_expiry_timestamp_seconds", "gauge",
             [("wardwatch_wan_cert_expiry_timestamp_seconds", {"target": t.name, "role": t.role}, 1.9e9)
              for t in pc.wan if t.role in ("portal", "gateway")]),
        ]

    def render_pc(self, name: str, now: float | None = None) -> str | None:
        """One PC's /metrics; None if it does not answer."""
        now = time.time() if now is None else now
        with self.lock:
            pc = self.pcs.get(name)
            if pc is None or pc.state != UP:
                return None
            fams = self.samples(pc, now)
        out = []
        for fam, typ, samples in fams:
            out.append(f"# TYPE {fam} {typ}")
            out += [_line(n, lab, v) for n, lab, v in samples]
        return "\n".join(out) + "\n"

    def render_federate(self, district: str | None = None, now: float | None = None) -> str:
        """Every PC's series with the labels a district Prometheus gives them (honor_labels)."""
        now = time.time() if now is None else now
        families: dict[str, tuple[str, list[str]]] = {"up": ("gauge", [])}
        with self.lock:
            for pc in self.pcs.values():
                if (district and pc.district != district) or pc.state == UNSEEN:
                    continue
                target = {"instance": pc.name, "job": JOB, "district": pc.district, "commune": pc.commune}
                families["up"][1].append(_line("up", {**target, "role": "pc"}, int(pc.state == UP)))
                if pc.state != UP:
                    continue
                for fam, typ, samples in self.samples(pc, now):
                    lines = families.setdefault(fam, (typ, []))[1]
                    for n, lab, v in samples:
                        # honor_labels: the series' own role (WAN) wins over the target's role="pc"
                        lines.append(_line(n, {**target, "role": "pc", **lab}, v))
        out = []
        for fam, (typ, lines) in families.items():
            if lines:
                out.append(f"# TYPE {fam} {typ}")
                out += lines
        return "\n".join(out) + "\n"

    def history_openmetrics(self, start: float, end: float, step: float,
                            roles: tuple[str, ...] = REQUIRED_WAN_ROLES) -> str:
        """A past window of the WAN series (RTT histogram sum/count and loss) of the first
        PC Prometheus knows in each commune, with the labels of a federated series, for `promtool tsdb
        create-blocks-from openmetrics`. Latency follows the working day; a commune whose
        link is down now was down for the last sixth of the window; degraded ones got
        worse over the window."""
        out = ["# TYPE wardwatch_wan_loss_ratio gauge"]
        sums = ["# TYPE wardwatch_wan_rtt_seconds_sum unknown"]
        counts = ["# TYPE wardwatch_wan_rtt_seconds_count unknown"]
        n_steps = int((end - start) // step)
        with self.lock:
            firsts = (next((p for p in c.pcs if self.pcs[p].state != UNSEEN), None) for c in self.communes.values())
            pcs = [self.pcs[p] for p in firsts if p is not None]
            for pc in pcs:
                target = {"instance": pc.name, "job": JOB, "district": pc.district, "commune": pc.commune}
                for t in (t for t in pc.wan if t.role in roles):
                    lab = {**target, "target": t.name, "role": t.role}
                    count = total = 0.0
                    for i in range(n_steps + 1):
                        ts = start + i * step
                        frac = i / max(1, n_steps)
                        hour = (ts / 3600 + 7) % 24
                        day = 1.0 + (0.6 if 8 <= hour < 17 else 0.0)
                        down = not t.up and frac > 5 / 6
                        rtt = t.rtt * day * (1 + (frac if t.degraded else 0))
                        loss = 1.0 if down else min(1.0, t.loss * frac * 2 if t.degraded else t.loss)
                        if not down:
                            count += step * PROBES_PER_SECOND
                            total += step * PROBES_PER_SECOND * rtt
                        stamp = f"{ts:.3f}"
                        out.append(f"{_line('wardwatch_wan_loss_ratio', lab, round(loss, 4))} {stamp}")
                        sums.append(f"{_line('wardwatch_wan_rtt_seconds_sum', lab, round(total, 6))} {stamp}")
                        counts.append(f"{_line('wardwatch_wan_rtt_seconds_count', lab, round(count, 3))} {stamp}")
        return "\n".join(out + sums + counts) + "\n# EOF\n"

    # --- for Prometheus and the inventory ------------------------------------------
    def file_sd(self, address: str) -> list[dict]:
        """file_sd entries (one target per PC; the inventory's labels; the simulator's path)."""
        return [{"targets": [address],
                 "labels": {"district": pc.district, "commune": pc.commune, "role": "pc", "instance": pc.name,
                            "__metrics_path__": f"/pc/{pc.name}/metrics"}}
                for pc in self.pcs.values() if pc.state != UNSEEN]

    def inventory_yaml(self) -> str:
        """The Ansible inventory (fleet/inventory.py's layout) of this fleet."""
        districts: dict[str, list[Commune]] = {}
        for c in self.communes.values():
            districts.setdefault(c.district, []).append(c)
        lines = ["all:", "  children:"]
        for d, communes in districts.items():
            name = json.dumps(communes[0].district_name, ensure_ascii=False)
            lines += [f"    district_{d}:", f"      vars: {{wardwatch_district_name: {name}}}", "      children:"]
            for c in communes:
                lines += [f"        commune_{c.commune}:",
                          f"          vars: {{wardwatch_commune_name: {json.dumps(c.name, ensure_ascii=False)}}}"]
                if c.pcs:
                    lines.append("          hosts:")
                    lines += [f"            {p}: {{ansible_host: {self.pcs[p].address}}}" for p in c.pcs]
                else:
                    lines.append("          hosts: {}")
        return "\n".join(lines) + "\n"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line(name: str, labels: dict[str, str], value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        text = "NaN"
    else:
        text = f"{value:g}" if isinstance(value, float) else str(value)
    if not labels:
        return f"{name} {text}"
    return name + "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "} " + text


class _Handler(BaseHTTPRequestHandler):
    fleet: Fleet
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        body: str | None
        if path.startswith("/pc/") and path.endswith("/metrics"):
            body = self.fleet.render_pc(path[len("/pc/"):-len("/metrics")])
            if body is None:
                self._send(503, "agent down\n")
                return
        elif path == "/federate":
            body = self.fleet.render_federate()
        elif path.startswith("/federate/"):
            body = self.fleet.render_federate(path[len("/federate/"):])
        elif path == "/healthz":
            body = "ok\n"
        else:
            self._send(404, "not found\n")
            return
        self.fleet.scrapes += 1
        self._send(200, body)

    def _send(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args) -> None:
        pass


@contextlib.contextmanager
def serve(fleet: Fleet, port: int, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the fleet in a thread of this process; yields "host:port"."""
    with serving(type("Handler", (_Handler,), {"fleet": fleet}), port, host, name="fleet-sim") as address:
        yield address


def main() -> None:
    p = argparse.ArgumentParser(description="Serve a simulated fleet's metrics on loopback.")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--districts", type=int, default=4)
    p.add_argument("--communes", type=int, default=4, help="communes per district")
    p.add_argument("--pcs", type=int, default=3, help="PCs per commune")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--broken", type=float, default=0.35)
    p.add_argument("--partial", type=float, default=0.35)
    p.add_argument("--file-sd", help="write file_sd targets (one per PC) here")
    p.add_argument("--inventory", help="write the Ansible inventory here")
    args = p.parse_args()
    fleet = Fleet.generate(args.districts, args.communes, args.pcs, args.seed, args.broken, args.partial)
    address = f"127.0.0.1:{args.port}"
    if args.file_sd:
        with open(args.file_sd, "w") as f:
            json.dump(fleet.file_sd(address), f)
    if args.inventory:
        with open(args.inventory, "w") as f:
            f.write(fleet.inventory_yaml())
    with serve(fleet, args.port):
        print(f"fleet_sim: {len(fleet.pcs)} PCs in {len(fleet.communes)} communes at http://{address}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
