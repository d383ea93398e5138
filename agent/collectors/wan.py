"""WAN link health: the portal, the virtualization gateway and DNS, probed in the
background by one scheduler (agent.wan.scheduler), each target on its own
interval; `collect()` only reads the latest state, so it returns at once.

Under the agent (`Runner.start()` calls `start()`) the outage counters are read
from and saved to state_dir; a one-off `check` probes once and saves nothing.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import urllib.parse
from typing import Any

from agent.collectors.base import Collector, Sample, sample
from agent.options import ListOf, Option
from agent.wan import dns, http, icmp, tcp, tls
from agent.wan.health import BUCKETS, Counters, TargetHealth, Thresholds
from agent.wan.result import ProbeResult
from agent.wan.scheduler import SPREAD, Scheduler
from agent.wan.state import OwnerLock, StateStore
from agent.wan.targets import TARGET, Target, auto_targets, from_settings

log = logging.getLogger("wardwatch.wan")

ICMP_MODES = {"auto": icmp.MODES, "dgram": ("dgram",), "raw": ("raw",)}


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != math.inf else "+Inf"


def _display_address(t: Target) -> str:
    """The address as shown in the info label and the log: no query string (it may hold tokens)."""
    if t.kind != "http":
        return t.address
    u = urllib.parse.urlsplit(t.address)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, u.path, "", ""))


class WanCollector(Collector):
    name = "wan"
    help = ("WAN link health: the portal, the virtualization gateway and DNS probed in the background "
            "(icmp, tcp, http, dns, tls); up, degraded, round-trip time, loss, jitter, outages.")
    options = (
        ListOf("targets", "What to probe (none by default: nothing is probed).", item=TARGET, unique="name"),
        Option("auto", "bool", False,
               "Also probe this PC's default gateway (icmp, target auto-gateway) and its first DNS server "
               "(dns, target auto-dns)."),
        Option("auto_dns_query", "str", "dichvucong.gov.vn", "auto: the name the auto-dns target resolves."),
        Option("auto_interval", "duration", 30.0,
               "auto: interval of the auto targets (their timeout: 5s, or the interval less 1s).", minimum=5),
        Option("window", "duration", 300.0, "Rolling window of loss ratio, jitter and median round-trip time.",
               minimum=1),
        Option("icmp_socket", "str", "auto",
               "How ICMP is sent: auto tries an unprivileged datagram socket, then a raw one (Linux), or uses "
               "the IP Helper API, which needs no privilege (Windows); dgram or raw: that socket only.",
               choices=tuple(ICMP_MODES)),
        Option("max_parallel", "int", 16, "Probes running at the same time, at most.", minimum=1, maximum=256),
        Option("state_save_interval", "duration", 10.0,
               "How often changed outage counters are written to state_dir (and on stop).", minimum=1),
    )
    default_interval = 5.0   # how often the snapshot is refreshed from the background state; probes keep their own
    default_timeout = 30.0

    def __init__(self, settings, context):
        super().__init__(settings, context)
        tls.clear_contexts()  # a new config (reload) reads CA files afresh
        targets = [from_settings(t) for t in settings.targets]
        if settings.auto:
            targets += self._auto_targets({t.name for t in targets})
        self.targets: list[Target] = targets
        self.thresholds = Thresholds.from_settings(context.config.thresholds)
        self.modes = ICMP_MODES[settings.icmp_socket]
        self.store = StateStore(context.state_dir)
        self.owner = OwnerLock(context.state_dir)
        self.health: dict[str, TargetHealth] = {}
        self.scheduler: Scheduler | None = None
        self.persist = False
        self._lock_failed = False  # the state dir could not be used for the lock: tried again at each save tick
        self._merge_saved = False
        self._lock = threading.Lock()
        self._first_round = threading.Condition(self._lock)
        self._start_lock = threading.Lock()
        self._running_since = 0.0
        self._dirty = False
        self._save_failed = False
        self._cert_expiry: dict[str, float] = {}
        self._phases: dict[str, dict[str, float]] = {}
        self._icmp_mode = ""
        self._probes = {"icmp": lambda t: icmp.probe(t, self.modes), "tcp": tcp.probe, "http": http.probe,
                        "dns": dns.probe, "tls": tls.probe}

    def _auto_targets(self, taken: set[str]) -> list[Target]:
        platform, s = self.context.platform, self.settings
        try:
            gateway, servers = platform.default_gateway(), platform.dns_servers()
        except Exception as e:  # noqa: BLE001 - a PC whose network we cannot read still probes the rest
            log.warning("wan: auto: cannot read this PC's gateway and DNS servers (%s); none added", e)
            return []
        return auto_targets(gateway, servers, s.auto_dns_query, s.auto_interval, min(5.0, s.auto_interval - 1.0),
                            taken)

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        self._ensure_running(persist=True)

    def _ensure_running(self, persist: bool) -> None:
        with self._start_lock:
            if self.scheduler is not None or not self.targets:
                return
            if persist:
                self._own_state(first=True)
            saved = self.store.load()
            self._merge_saved = self.store.read_failed
            with self._lock:
                for t in self.targets:
                    c = saved.get(t.name, Counters())
                    self.health[t.name] = TargetHealth(t, self.settings.window, self.thresholds, counters=c)
            self.scheduler = Scheduler(self.targets, self._probe, self._on_result,
                                       workers=self.settings.max_parallel,
                                       tick=self._save if persist else None,
                                       tick_interval=self.settings.state_save_interval)
            self._running_since = time.monotonic()
            self.scheduler.start()
            log.info("wan: probing %d target(s) in the background", len(self.targets))

    def close(self) -> None:
        with self._start_lock:
            if self.scheduler is not None:
                self.scheduler.stop()  # runs a last save in its timer thread
                self.scheduler = None
            if self.persist:
                self._save(force=True)
                self.owner.release()
                self.persist = False

    # --- background ----------------------------------------------------------

    def _probe(self, target: Target) -> ProbeResult:
        return self._probes[target.kind](target)

    def _on_result(self, target: Target, r: ProbeResult) -> None:
        with self._lock:
            h = self.health[target.name]
            before = Counters(**vars(h.counters))
            changed = h.record(r)
            was_down = before.down
            self._dirty = self._dirty or h.counters != before
            if r.cert_expiry is not None:
                self._cert_expiry[target.name] = r.cert_expiry
            if r.phases and target.kind == "http":
                self._phases[target.name] = dict(r.phases)
            if r.icmp_mode:
                self._icmp_mode = r.icmp_mode
            self._first_round.notify_all()
        # Under the agent a transition is news for its log; in a one-off `check` the report says it.
        level = logging.WARNING if self.persist else logging.DEBUG
        if changed and not was_down:
            log.log(level, "wan: %s (%s) is down: %s", target.name, _display_address(target), r.detail)
        elif changed:
            log.log(level, "wan: %s (%s) is up again; %.0fs of outage counted in all",
                    target.name, _display_address(target), h.counters.outage_seconds)
        if r.error == "icmp_not_permitted" and h.rounds == 1:
            log.log(logging.ERROR if self.persist else logging.DEBUG, "wan: %s: %s", target.name, r.detail)

    def _own_state(self, first: bool) -> None:
        """Take the state file's lock. When the state dir cannot be used (read-only, full, missing), the
        counters are kept in memory and the lock is tried again at every save tick, so they are saved
        once the directory can be used again."""
        try:
            self.persist = self.owner.acquire()
        except OSError as e:
            self._lock_failed = True
            if first:
                log.warning("wan: cannot use state dir %s (%s); outage counters are kept in memory and saved "
                            "once it can be used", self.store.dir, e.strerror or e)
            return
        if self.persist and not first:
            log.info("wan: state dir %s can be used again; outage counters are saved from now on", self.store.dir)
        elif not self.persist:
            log.warning("wan: %s is held by process %s; this one will not save outage counters",
                        self.owner.path, self.owner.holder())
        self._lock_failed = False

    def _save(self, force: bool = False) -> None:
        if not self.persist:
            if not self._lock_failed:
                return
            self._own_state(first=False)
            if not self.persist:
                return
            if self._merge_saved:  # the file could not be read at start: add what it holds to ours
                saved = self.store.load()
                if not self.store.read_failed:
                    with self._lock:
                        for name, c in saved.items():
                            if name in self.health:
                                self.health[name].counters.outage_seconds += c.outage_seconds
                                self.health[name].counters.outages += c.outages
                    self._merge_saved = False
            force = True
        with self._lock:
            if not (self._dirty or force) or not self.health:
                return
            snapshot = {n: Counters(**vars(h.counters)) for n, h in self.health.items()}
            self._dirty = False
        try:
            self.store.save(snapshot)
            if self._save_failed:
                log.info("wan: %s saved again", self.store.path)
            self._save_failed = False
        except OSError as e:
            with self._lock:
                self._dirty = True
            if not self._save_failed:
                log.warning("wan: cannot save %s: %s", self.store.path, e.strerror or e)
            self._save_failed = True

    # --- collect -------------------------------------------------------------

    def _wait_first_round(self) -> None:
        """The first collect after starting waits (bounded) until every target has had a round."""
        bound = max(t.round_bound for t in self.targets) + SPREAD + 1.0
        deadline = self._running_since + min(bound, self.settings.timeout * 0.8)
        with self._first_round:
            while not all(h.last is not None for h in self.health.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._first_round.wait(left)

    def collect(self) -> list[Sample]:
        out = [sample("wardwatch_wan_targets", len(self.targets))]
        if not self.targets:
            return out
        self._ensure_running(persist=False)  # under the agent start() did it; a `check` probes without saving
        self._wait_first_round()
        now = time.monotonic()
        th = self.thresholds
        for key, value in (("rtt_degraded_seconds", th.rtt_degraded), ("loss_degraded_ratio", th.loss_degraded),
                           ("jitter_degraded_seconds", th.jitter_degraded), ("failures_down", th.failures_down),
                           ("cert_expiry_warning_seconds", th.cert_expiry_warning)):
            out.append(sample("wardwatch_wan_threshold", value, threshold=key))
        with self._lock:
            for t in self.targets:
                out += self._target_samples(self.health[t.name], now)
            if self._icmp_mode:
                out.append(sample("wardwatch_wan_icmp_socket", 1, mode=self._icmp_mode))
        return out

    def _target_samples(self, h: TargetHealth, now: float) -> list[Sample]:
        t = h.target
        lab: dict[str, Any] = {"target": t.name, "role": t.role}
        out = [sample("wardwatch_wan_target_info", 1, kind=t.kind, address=_display_address(t), **lab),
               sample("wardwatch_wan_consecutive_failures", h.counters.consecutive_failures, **lab),
               sample("wardwatch_wan_outage_seconds_total", h.counters.outage_seconds, **lab),
               sample("wardwatch_wan_outages_total", h.counters.outages, **lab)]
        if h.last is not None:
            out.append(sample("wardwatch_wan_probe_success", int(h.last.ok), **lab))
            if not h.last.ok:
                out.append(sample("wardwatch_wan_probe_error", 1, error=h.last.error, **lab))
        if h.probed:
            s = h.stats(now)
            out.append(sample("wardwatch_wan_up", int(h.up), **lab))
            out.append(sample("wardwatch_wan_degraded", int(h.degraded(s)), **lab))
            for name, value in (("wardwatch_wan_rtt_median_seconds", s.median_rtt),
                                ("wardwatch_wan_loss_ratio", s.loss), ("wardwatch_wan_jitter_seconds", s.jitter)):
                if not math.isnan(value):
                    out.append(sample(name, value, **lab))
            for bound, count in zip(BUCKETS, h.bucket_counts, strict=True):
                out.append(sample("wardwatch_wan_rtt_seconds_bucket", count, le=_le(bound), **lab))
            out.append(sample("wardwatch_wan_rtt_seconds_bucket", h.rtt_count, le="+Inf", **lab))
            out.append(sample("wardwatch_wan_rtt_seconds_sum", h.rtt_sum, **lab))
            out.append(sample("wardwatch_wan_rtt_seconds_count", h.rtt_count, **lab))
        for phase, seconds in self._phases.get(t.name, {}).items():
            out.append(sample("wardwatch_wan_http_phase_seconds", seconds, phase=phase, **lab))
        if t.name in self._cert_expiry:
            out.append(sample("wardwatch_wan_cert_expiry_timestamp_seconds", self._cert_expiry[t.name], **lab))
        return out
