"""A fleet simulator: one HTTP server on loopback that answers /metrics for many simulated PCs
of many communes, in states a test controls, with the metric names agreed for the wardwatch
agent (printers, scanners, WAN, virtualized client, hardware, self-metrics).

    fleet = Fleet([PC("tl-pc01", "ba_vi", "tan_linh", printers=[Printer("HP_M404", problems=("paused",))]),
                   PC("bt-pc01", "ba_vi", "ba_trai"), ...])
    with fleet.serve():                             # 127.0.0.1:<free port>
        fleet.write_file_sd(targets_dir / "ba_vi.json", district="ba_vi")
        ...                                         # a real Prometheus scrapes /pc/<name>/metrics
        fleet.set_link("ba_vi", "ba_trai", up=False)  # every PC of the commune stops answering
        truth = fleet.ground_truth()                # what readiness must say, per commune

A PC that is not `reachable` answers 503, so Prometheus records up == 0 for it, as for a PC
that is off or cut off. The file_sd target groups carry what the inventory's would (district,
commune, role="pc") and instance=<PC name>; every PC is at the same address, told apart by its
metrics path. `generate()` builds large fleets with a known share of broken things (benchmarks).

The metrics source of the end-to-end tests is this module; the agents and real devices can take
its place (same names, same labels) without changing the tests' assertions.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RTT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PROBES_PER_SCRAPE = 5  # RTT observations added to each reachable target's histogram per scrape
COMPONENTS = ("pcs_reporting", "pc_spec", "vclient", "printer", "scanner", "wan")


@dataclass
class Printer:
    name: str
    up: bool = True
    problems: tuple[str, ...] = ()       # wardwatch_printer_problem{problem} at 1
    supplies: dict[str, float] = field(default_factory=lambda: {"black": 0.8})
    jobs_waiting: int = 0


@dataclass
class Scanner:
    name: str
    up: bool = True


@dataclass
class WanTarget:
    name: str
    role: str = "portal"                 # portal, gateway, dns, other
    up: bool = True
    rtt: float = 0.03                    # seconds, while up
    loss: float = 0.0                    # 0..1
    cert_expiry: float | None = None     # unix time, for HTTPS targets


def default_wan() -> list[WanTarget]:
    return [WanTarget("dichvucong", "portal"), WanTarget("vdi-gw", "gateway"), WanTarget("dns1", "dns")]


@dataclass
class PC:
    name: str
    district: str
    commune: str
    reachable: bool = True               # False: /metrics answers 503 (up == 0)
    spec_failed: tuple[str, ...] = ()    # requirements not met (memory, disk_free, cpu_cores, cpu_frequency, os)
    disks: dict[str, tuple[float, float]] = field(default_factory=lambda: {"C:\\": (256e9, 120e9)})  # size, free
    vclient_product: str = "citrix_workspace"
    vclient_installed: bool = True
    vclient_running: bool = True
    vclient_gateway_up: bool = True
    printers: list[Printer] = field(default_factory=list)
    scanners: list[Scanner] = field(default_factory=list)
    wan: list[WanTarget] = field(default_factory=default_wan)
    failing_collectors: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.district, self.commune)


@dataclass(frozen=True)
class Thresholds:
    """What readiness counts as enough, from alerts/config.yml (the one place it is set)."""
    min_pcs_reporting: int = 1
    min_pcs_spec_ok: int = 1
    min_vclient_installed: int = 1
    min_printers_working: int = 1
    min_scanners_working: int = 1
    wan_roles: str = "portal|gateway"
    rtt_degraded: float = 0.15
    loss_degraded: float = 0.02

    @classmethod
    def from_config(cls, path: Path = REPO / "alerts" / "config.yml") -> Thresholds:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
        r, a = cfg["readiness"], cfg["alerts"]
        return cls(r["min_pcs_reporting"], r["min_pcs_spec_ok"], r["min_vclient_installed"],
                   r["min_printers_working"], r["min_scanners_working"], r["wan_roles"],
                   a["WANLatencyHigh"]["warning"]["above"], a["WANPacketLoss"]["warning"]["above"])


@dataclass(frozen=True)
class CommuneTruth:
    district: str
    commune: str
    counts: dict[str, int]               # pcs, pcs_reporting, pcs_spec_ok, vclient_installed, printers_working, ...
    components: dict[str, bool]          # component -> holds

    @property
    def ready(self) -> bool:
        return all(self.components.values())

    @property
    def reasons(self) -> frozenset[str]:
        return frozenset(c for c, ok in self.components.items() if not ok)


def _labels(**labels: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return "{" + ",".join(f'{k}="{esc(str(v))}"' for k, v in labels.items()) + "}" if labels else ""


def _num(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


class Fleet:
    def __init__(self, pcs: list[PC]):
        names = [pc.name for pc in pcs]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate PC names: {sorted(dup)}")
        bad = [n for n in names if not re.fullmatch(r"[A-Za-z0-9._-]+", n)]
        if bad:
            raise ValueError(f"PC names must be [A-Za-z0-9._-]+: {bad}")
        self.pcs = {pc.name: pc for pc in pcs}
        self._lock = threading.Lock()
        self._rtt: dict[tuple[str, str], list[float]] = {}   # (pc, target) -> bucket counts + [count, sum]
        self._scrapes: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # ---- the state a test controls -------------------------------------------------
    def pc(self, name: str) -> PC:
        return self.pcs[name]

    def commune(self, district: str, commune: str) -> list[PC]:
        return [pc for pc in self.pcs.values() if pc.key == (district, commune)]

    def communes(self) -> list[tuple[str, str]]:
        return sorted({pc.key for pc in self.pcs.values()})

    def set_link(self, district: str, commune: str, up: bool) -> None:
        """The commune's link: down makes every one of its PCs unreachable."""
        pcs = self.commune(district, commune)
        if not pcs:
            raise KeyError(f"no commune {district}/{commune}")
        with self._lock:
            for pc in pcs:
                pc.reachable = up

    def set_reachable(self, name: str, up: bool) -> None:
        """One PC switched off (or on again)."""
        with self._lock:
            self.pcs[name].reachable = up

    def scrapes(self, name: str) -> int:
        with self._lock:
            return self._scrapes.get(name, 0)

    # ---- what a PC's agent would expose ---------------------------------------------
    def exposition(self, name: str) -> str:
        """The PC's /metrics now (text format 0.0.4); each call adds RTT observations."""
        with self._lock:
            pc = self.pcs[name]
            self._scrapes[name] = self._scrapes.get(name, 0) + 1
            return self._render(pc)

    def _render(self, pc: PC) -> str:
        families: dict[str, tuple[str, list[str]]] = {}

        def add(name: str, kind: str, value: float, **labels: str) -> None:
            base = re.sub(r"_(bucket|sum|count)$", "", name) if kind == "histogram" else name
            families.setdefault(base, (kind, []))[1].append(f"{name}{_labels(**labels)} {_num(value)}")

        add("wardwatch_build_info", "gauge", 1, version="sim", python_version="3.11", platform="windows")
        collectors = ("hardware", "printers", "scanners", "wan", "vclient")
        for c in collectors:
            add("wardwatch_collector_success", "gauge", 0 if c in pc.failing_collectors else 1, collector=c)
        add("wardwatch_spec_ok", "gauge", 0 if pc.spec_failed else 1)
        for req in ("memory", "disk_free", "cpu_cores", "cpu_frequency", "os"):
            add("wardwatch_spec_requirement_met", "gauge", 0 if req in pc.spec_failed else 1, requirement=req)
        for mount, (size, free) in pc.disks.items():
            add("wardwatch_disk_size_bytes", "gauge", size, mountpoint=mount)
            add("wardwatch_disk_free_bytes", "gauge", free, mountpoint=mount)
        for p in pc.printers:
            add("wardwatch_printer_up", "gauge", int(p.up), printer=p.name)
            for problem in p.problems:
                add("wardwatch_printer_problem", "gauge", 1, printer=p.name, problem=problem)
            for supply, ratio in p.supplies.items():
                add("wardwatch_printer_supply_ratio", "gauge", ratio, printer=p.name, supply=supply)
            add("wardwatch_printer_jobs_waiting", "gauge", p.jobs_waiting, printer=p.name)
        for s in pc.scanners:
            add("wardwatch_scanner_up", "gauge", int(s.up), scanner=s.name)
        add("wardwatch_vclient_installed", "gauge", int(pc.vclient_installed), product=pc.vclient_product)
        add("wardwatch_vclient_running", "gauge", int(pc.vclient_installed and pc.vclient_running),
            product=pc.vclient_product)
        add("wardwatch_vclient_gateway_up", "gauge", int(pc.vclient_gateway_up))
        for t in pc.wan:
            labels = {"target": t.name, "role": t.role}
            add("wardwatch_wan_up", "gauge", int(t.up), **labels)
            add("wardwatch_wan_loss_ratio", "gauge", 1.0 if not t.up else t.loss, **labels)
            if t.cert_expiry is not None:
                add("wardwatch_wan_cert_expiry_timestamp_seconds", "gauge", t.cert_expiry, **labels)
            h = self._rtt.setdefault((pc.name, t.name), [0.0] * (len(RTT_BUCKETS) + 2))
            if t.up:
                for i, le in enumerate(RTT_BUCKETS):
                    if t.rtt <= le:
                        h[i] += PROBES_PER_SCRAPE
                h[-2] += PROBES_PER_SCRAPE
                h[-1] += PROBES_PER_SCRAPE * t.rtt
            for le, n in zip(RTT_BUCKETS, h, strict=False):
                add("wardwatch_wan_rtt_seconds_bucket", "histogram", n, **labels, le=_num(le))
            add("wardwatch_wan_rtt_seconds_bucket", "histogram", h[-2], **labels, le="+Inf")
            add("wardwatch_wan_rtt_seconds_sum", "histogram", h[-1], **labels)
            add("wardwatch_wan_rtt_seconds_count", "histogram", h[-2], **labels)
        out = []
        for name, (kind, lines) in families.items():
            out.append(f"# HELP {name} Simulated wardwatch agent metric.")
            out.append(f"# TYPE {name} {kind}")
            out.extend(lines)
        return "\n".join(out) + "\n"

    # ---- serving -------------------------------------------------------------------
    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[Fleet]:
        fleet = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                m = re.fullmatch(r"/pc/([A-Za-z0-9._-]+)/metrics", self.path.split("?")[0])
                if not m or m[1] not in fleet.pcs:
                    return self._send(404, b"not found\n")
                if not fleet.pcs[m[1]].reachable:
                    return self._send(503, b"unreachable\n")
                self._send(200, fleet.exposition(m[1]).encode(), "text/plain; version=0.0.4; charset=utf-8")

            def _send(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="fleet-sim", daemon=True)
        thread.start()
        self._server, self.host, self.port = server, host, server.server_address[1]
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)
            self._server = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def metrics_path(self, name: str) -> str:
        return f"/pc/{name}/metrics"

    def file_sd(self, district: str | None = None) -> list[dict]:
        """Target groups as the inventory's file_sd would give them (one group per PC)."""
        if not self.port:
            raise RuntimeError("serve() first: the targets carry the simulator's port")
        return [{"targets": [self.address],
                 "labels": {"district": pc.district, "commune": pc.commune, "role": "pc",
                            "instance": pc.name, "__metrics_path__": self.metrics_path(pc.name)}}
                for pc in sorted(self.pcs.values(), key=lambda p: p.name)
                if district is None or pc.district == district]

    def write_file_sd(self, path: Path, district: str | None = None) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.file_sd(district), indent=1))
        tmp.replace(path)
        return path

    # ---- what readiness must say -----------------------------------------------------
    def ground_truth(self, th: Thresholds | None = None) -> dict[tuple[str, str], CommuneTruth]:
        """Per (district, commune): the counts and readiness components the rules must find,
        computed here from the simulated state with the thresholds of alerts/config.yml."""
        th = th or Thresholds.from_config()
        roles = re.compile(th.wan_roles)
        out = {}
        with self._lock:
            for key in self.communes():
                pcs = [pc for pc in self.pcs.values() if pc.key == key]
                rep = [pc for pc in pcs if pc.reachable]
                counts = {
                    "pcs": len(pcs),
                    "pcs_reporting": len(rep),
                    "pcs_spec_ok": sum(1 for pc in rep if not pc.spec_failed),
                    "vclient_installed": sum(1 for pc in rep if pc.vclient_installed),
                    "printers": sum(len(pc.printers) for pc in rep),
                    "printers_working": sum(1 for pc in rep for p in pc.printers if p.up),
                    "scanners": sum(len(pc.scanners) for pc in rep),
                    "scanners_working": sum(1 for pc in rep for s in pc.scanners if s.up),
                }
                targets: dict[str, list[WanTarget]] = {}
                for pc in rep:
                    for t in pc.wan:
                        if roles.fullmatch(t.role):
                            targets.setdefault(t.name, []).append(t)
                down = degraded = 0
                for seen in targets.values():
                    if not any(t.up for t in seen):
                        down += 1
                    rtts = [t.rtt for t in seen if t.up]
                    loss = sum(1.0 if not t.up else t.loss for t in seen) / len(seen)
                    if (rtts and sum(rtts) / len(rtts) > th.rtt_degraded) or loss > th.loss_degraded:
                        degraded += 1
                counts |= {"wan_targets": len(targets), "wan_targets_down": down, "wan_targets_degraded": degraded}
                components = {
                    "pcs_reporting": counts["pcs_reporting"] >= th.min_pcs_reporting,
                    "pc_spec": counts["pcs_spec_ok"] >= th.min_pcs_spec_ok,
                    "vclient": counts["vclient_installed"] >= th.min_vclient_installed,
                    "printer": counts["printers_working"] >= th.min_printers_working,
                    "scanner": counts["scanners_working"] >= th.min_scanners_working,
                    "wan": len(targets) >= 1 and down == 0 and degraded == 0,
                }
                out[key] = CommuneTruth(key[0], key[1], counts, components)
        return out


def generate(districts: int, communes_per_district: int, pcs_per_commune: int, *,
             broken_share: float = 0.2, seed: int = 0) -> Fleet:
    """A large fleet, every commune with a printer and a scanner on its first PC; about
    `broken_share` of the communes get one broken thing (chosen by `seed`): a dead link, no
    working printer, a scanner down, a PC below spec (all of them), the client missing (all),
    a degraded WAN, or an unreachable gateway."""
    rng = random.Random(seed)
    pcs: list[PC] = []
    faults = ("link", "printer", "scanner", "spec", "vclient", "wan_slow", "gateway_down")
    for d in range(districts):
        district = f"d{d:02d}"
        for c in range(communes_per_district):
            commune = f"{district}_c{c:03d}"
            fault = rng.choice(faults) if rng.random() < broken_share else None
            for n in range(pcs_per_commune):
                pc = PC(f"{commune}-pc{n:02d}", district, commune)
                if n == 0:
                    pc.printers = [Printer("printer1", up=fault != "printer",
                                           problems=("offline",) if fault == "printer" else ())]
                    pc.scanners = [Scanner("scanner1", up=fault != "scanner")]
                pc.reachable = fault != "link"
                pc.spec_failed = ("memory",) if fault == "spec" else ()
                pc.vclient_installed = fault != "vclient"
                for t in pc.wan:
                    if fault == "wan_slow":
                        t.rtt = 0.5
                    if fault == "gateway_down" and t.role == "gateway":
                        t.up = False
                pcs.append(pc)
    return Fleet(pcs)
