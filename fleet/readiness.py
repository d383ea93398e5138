"""Readiness of each commune, from the agents' raw metrics in Prometheus and the inventory.

A commune is READY when its one-stop desk can serve citizens online: at least one
of its PCs reports, at least one meets the minimum spec, at least one has the
virtualized client installed, at least one printer and one scanner work, and every
WAN target the PCs probe with role portal or gateway is reached (from at least one
PC) and not degraded. Each criterion that fails is a reason, all of them listed.
The thresholds are in `Criteria` (one place); they mirror alerts/config.yml's
`readiness:` section so the report and the alerts agree.

Data only: no text for people here (fleet/report_render.py does that).

Queries: a fixed number of aggregated PromQL queries, whatever the size of the
fleet (never one per host or per commune): see `QUERIES`. Hosts of the inventory
that Prometheus never saw count as not reporting.

Two sources (`build(..., source=...)`): "raw" reads the agents' series (a district Prometheus,
or any server that has them); "recorded" reads, beside each PC's `up`, the per-commune series
of the district rules (alerts/rules/district.rules.yml: commune:wardwatch_*:count and
commune_target:wardwatch_wan_*), ten to twenty times fewer series: what the city tier
(VictoriaMetrics, docs/city-tier.md) answers quickly for 100,000 PCs. Verdicts and reasons are the
same; the commune's RTT and loss are then the mean of its targets' (over the rules' window).

Labels: the agents' series carry the target labels `district`, `commune`,
`instance` from the inventory's file_sd; `up` of a PC carries role="pc". A WAN
series' own `role` (portal, gateway, dns, other) is kept as `role` when the scrape
honours labels, or renamed `exported_role` by Prometheus when it does not (the
target's role="pc" wins): the queries accept both.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from fleet.promapi import PARALLEL, InFlight, Prometheus, Series, quiet_gc

READY, NOT_READY = "READY", "NOT_READY"

# Reasons, in the order reports list them.
NO_PCS = "no_pcs"                        # the inventory lists no PC in this commune
PCS_NOT_REPORTING = "pcs_not_reporting"  # fewer PCs report than needed
NO_PC_MEETS_SPEC = "no_pc_meets_spec"
NO_WORKING_PRINTER = "no_working_printer"
NO_WORKING_SCANNER = "no_working_scanner"
WAN_DOWN = "wan_down"                    # a portal/gateway target reached by no PC, or none measured
WAN_DEGRADED = "wan_degraded"            # a portal/gateway target reached only through degraded paths
CLIENT_MISSING = "client_missing"        # the virtualized client installed on too few PCs
REASONS = (NO_PCS, PCS_NOT_REPORTING, NO_PC_MEETS_SPEC, NO_WORKING_PRINTER, NO_WORKING_SCANNER,
           WAN_DOWN, WAN_DEGRADED, CLIENT_MISSING)

# A PC that pushes (Pushgateway) counts as reporting while its last push is younger than this (seconds):
# alerts/config.yml push.stale_after, which owns it (tests/alerts/test_push_liveness.py checks they agree).
PUSH_STALE_AFTER = 180.0

# WAN target states (per commune and target: the best path any of its PCs has).
WAN_OK, WAN_STATE_DEGRADED, WAN_STATE_DOWN = "ok", "degraded", "down"


@dataclass(frozen=True)
class Criteria:
    """What READY needs. Same meaning and defaults as alerts/config.yml `readiness:`."""
    min_pcs_reporting: int = 1
    min_pcs_spec_ok: int = 1
    min_client_installed: int = 1
    min_printers_working: int = 1
    min_scanners_working: int = 1
    wan_roles: tuple[str, ...] = ("portal", "gateway")

    def as_dict(self) -> dict[str, Any]:
        return {"min_pcs_reporting": self.min_pcs_reporting, "min_pcs_spec_ok": self.min_pcs_spec_ok,
                "min_client_installed": self.min_client_installed,
                "min_printers_working": self.min_printers_working,
                "min_scanners_working": self.min_scanners_working, "wan_roles": list(self.wan_roles)}


@dataclass(frozen=True)
class WanTarget:
    target: str
    role: str
    state: str  # ok / degraded / down


@dataclass
class History:
    """The commune's WAN over a past window: mean RTT (seconds) and mean loss ratio."""
    rtt_seconds: list[tuple[float, float]] = field(default_factory=list)
    loss_ratio: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Commune:
    district: str        # label value / inventory group without its prefix, e.g. "ba_dinh"
    district_name: str   # "Ba Đình"
    commune: str         # "phuc_xa"
    name: str            # "Phúc Xá"
    hosts: list[str]     # the inventory's PCs
    reporting: list[str] = field(default_factory=list)
    never_seen: list[str] = field(default_factory=list)   # not reporting, and no `up` series at all
    pcs_spec_ok: int = 0
    pcs_client_installed: int = 0
    printers_total: int = 0
    printers_working: int = 0
    printer_problems: dict[str, int] = field(default_factory=dict)
    scanners_total: int = 0
    scanners_working: int = 0
    wan_targets: list[WanTarget] = field(default_factory=list)
    wan_rtt_seconds: float | None = None
    wan_loss_ratio: float | None = None
    history: History | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.district, self.commune)

    @property
    def ready(self) -> bool:
        return not self.reasons

    @property
    def verdict(self) -> str:
        return READY if self.ready else NOT_READY

    @property
    def not_reporting(self) -> list[str]:
        seen = set(self.reporting)
        return [h for h in self.hosts if h not in seen]

    def wan_in(self, state: str, roles: Iterable[str]) -> list[WanTarget]:
        wanted = set(roles)
        return [t for t in self.wan_targets if t.state == state and t.role in wanted]


@dataclass
class District:
    district: str
    name: str
    communes: list[Commune]

    @property
    def ready(self) -> int:
        return sum(c.ready for c in self.communes)

    @property
    def not_ready(self) -> int:
        return len(self.communes) - self.ready

    @property
    def pcs(self) -> int:
        return sum(len(c.hosts) for c in self.communes)

    @property
    def pcs_reporting(self) -> int:
        return sum(len(c.reporting) for c in self.communes)


@dataclass
class Report:
    evaluated_at: float            # unix time the queries were evaluated at (--at, or now)
    generated_at: float
    prometheus: str
    inventory: str
    district_filter: str | None
    commune_filter: str | None
    criteria: Criteria
    districts: list[District]
    queries: int                   # PromQL queries sent
    history_seconds: float | None  # the WAN charts' window (None: no history asked)
    unexpected_instances: list[str] = field(default_factory=list)  # reporting, not in the inventory

    @property
    def communes(self) -> list[Commune]:
        return [c for d in self.districts for c in d.communes]


def judge(c: Commune, criteria: Criteria) -> list[str]:
    """Every reason this commune is NOT READY (empty: READY)."""
    if not c.hosts:
        return [NO_PCS]
    if len(c.reporting) < criteria.min_pcs_reporting:
        return [PCS_NOT_REPORTING]  # nothing else can be known
    reasons = []
    if c.pcs_spec_ok < criteria.min_pcs_spec_ok:
        reasons.append(NO_PC_MEETS_SPEC)
    if c.printers_working < criteria.min_printers_working:
        reasons.append(NO_WORKING_PRINTER)
    if c.scanners_working < criteria.min_scanners_working:
        reasons.append(NO_WORKING_SCANNER)
    required = [t for t in c.wan_targets if t.role in criteria.wan_roles]
    if not required or any(t.state == WAN_STATE_DOWN for t in required):
        reasons.append(WAN_DOWN)
    if any(t.state == WAN_STATE_DEGRADED for t in required):
        reasons.append(WAN_DEGRADED)
    if c.pcs_client_installed < criteria.min_client_installed:
        reasons.append(CLIENT_MISSING)
    return reasons


# --- queries ----------------------------------------------------------------------

def _matchers(district: str | None, commune: str | None) -> str:
    m = []
    if district:
        m.append(f'district="{_escape(district)}"')
    if commune:
        m.append(f'commune="{_escape(commune)}"')
    return ",".join(m)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class Queries:
    """The PromQL of one report: a fixed set, each aggregated by district and commune."""

    def __init__(self, criteria: Criteria, district: str | None = None, commune: str | None = None,
                 rate_window: str = "5m"):
        m = _matchers(district, commune)
        self.m = m
        roles = "|".join(criteria.wan_roles)
        sep = "," if m else ""

        def sel(metric: str, extra: str = "") -> str:
            parts = ",".join(p for p in (extra, m) if p)
            return f"{metric}{{{parts}}}"

        def wan_arms(metric: str) -> tuple[str, str]:
            # the WAN role is `role` (labels honoured) or `exported_role` (the target's role="pc" kept)
            return (f'{metric}{{role=~"{roles}"{sep}{m}}}', f'{metric}{{exported_role=~"{roles}"{sep}{m}}}')

        def wan(metric: str) -> str:
            return "({} or {})".format(*wan_arms(metric))

        self.wan, self.wan_arms = wan, wan_arms
        by = "by (district, commune)"
        wan_by = "by (district, commune, target, role, exported_role)"
        up = sel("up", 'role="pc"')
        # A PC that pushes to the Pushgateway has no `up`: it reports while its last push is recent.
        # By instance alone: the inventory says each host's commune (half the answer's size at 100,000 PCs).
        pushed = sel("push_time_seconds", 'job="wardwatch"')
        self.reporting = (f"max by (instance) ({up} or label_replace("
                          f'time() - {pushed} < bool {PUSH_STALE_AFTER:g}, "via", "push", "", ""))')
        self.spec_ok = f"count {by} ({sel('wardwatch_spec_ok')} == 1)"
        self.client = (f"count {by} (max by (instance, district, commune) "
                       f"({sel('wardwatch_vclient_installed')}) == 1)")
        self.printers = (f'count_values {by} ("value", max by (district, commune, printer) '
                         f"({sel('wardwatch_printer_up')}))")
        self.printer_problems = (f"count by (district, commune, problem) (max by (district, commune, printer, problem) "
                                 f"({sel('wardwatch_printer_problem')} == 1))")
        self.scanners = (f'count_values {by} ("value", max by (district, commune, scanner) '
                         f"({sel('wardwatch_scanner_up')}))")
        self.wan_reached = f"max {wan_by} ({wan('wardwatch_wan_up')})"
        self.wan_good = (f"count {wan_by} (({wan('wardwatch_wan_up')} == 1) "
                         f"unless ({sel('wardwatch_wan_degraded')} == 1))")
        self.rate_window = rate_window

    def rtt(self, window: str) -> str:
        def rate(metric: str) -> str:
            left, right = self.wan_arms(metric)
            return f"sum by (district, commune) (rate({left}[{window}]) or rate({right}[{window}]))"
        return f"{rate('wardwatch_wan_rtt_seconds_sum')} / {rate('wardwatch_wan_rtt_seconds_count')}"

    def loss(self, window: str | None = None) -> str:
        if window is None:
            return f"avg by (district, commune) ({self.wan('wardwatch_wan_loss_ratio')})"
        # avg_over_time of each arm of the union (a subquery would cost more)
        left, right = self.wan_arms("wardwatch_wan_loss_ratio")
        return f"avg by (district, commune) (avg_over_time({left}[{window}]) or avg_over_time({right}[{window}]))"


class RecordedQueries:
    """The PromQL of a report from the district rules' per-commune series (source="recorded")."""

    def __init__(self, criteria: Criteria, district: str | None = None, commune: str | None = None):
        m = _matchers(district, commune)
        sep = "," if m else ""
        roles = "|".join(criteria.wan_roles)

        def named(prefix: str, parts: str, suffix: str, extra: str = "") -> str:
            # several recorded series in one query, the varying part of their name kept in label `what`
            # (only that part: the answer for 10,000 communes is a third smaller than with whole names)
            regex = f"{prefix}({parts}){suffix}"
            return (f'label_replace({{__name__=~"{regex}"{"," + extra if extra else ""}{sep}{m}}}, '
                    f'"what", "$1", "__name__", "{regex}")')

        self.reporting = Queries(criteria, district, commune).reporting
        # the PCs' and the devices' counts, two queries for the six series of each commune
        self.pcs = (f"max by (district, commune, what) "
                    f"({named('commune:wardwatch_', 'pcs_spec_ok|vclient_installed', ':count')})")
        devices = "printers|printers_working|scanners|scanners_working"
        self.devices = f"max by (district, commune, what) ({named('commune:wardwatch_', devices, ':count')})"
        self.printer_problems = Queries(criteria, district, commune).printer_problems
        wan = named("commune_target:wardwatch_wan_", "up:max|degraded:bool", "", f'role=~"{roles}"')
        self.wan = f"max by (district, commune, target, role, what) ({wan})"
        self._roles, self._m, self._sep = roles, m, sep

    def rtt(self) -> str:
        return (f'avg by (district, commune) (commune_target:wardwatch_wan_rtt_seconds:mean'
                f'{{role=~"{self._roles}"{self._sep}{self._m}}})')

    def loss(self) -> str:
        return (f'avg by (district, commune) (commune_target:wardwatch_wan_loss_ratio:avg'
                f'{{role=~"{self._roles}"{self._sep}{self._m}}})')


SOURCES = ("raw", "recorded")


# --- building the report ------------------------------------------------------------

Progress = Callable[[str, int, int], None]  # (step key, done, total)


def _key(labels: dict[str, str]) -> tuple[str, str]:
    return (labels.get("district", ""), labels.get("commune", ""))


def _wan_role(labels: dict[str, str]) -> str:
    return labels.get("exported_role") or labels.get("role", "")


@dataclass(frozen=True)
class Scope:
    """The inventory's communes a report covers: (district label, district name,
    commune label, commune name, hosts)."""
    communes: list[tuple[str, str, str, str, list[str]]]
    district: str | None = None  # label value to filter queries on
    commune: str | None = None


def scope_from_inventory(inventory: Any, district: str | None = None, commune: str | None = None) -> Scope:
    """The communes of an `fleet.inventory.Inventory`, filtered by --district / --commune
    (group name, short name or human name; unknown ones raise a one-line FleetError)."""
    from fleet.inventory import COMMUNE_PREFIX, DISTRICT_PREFIX

    d_group = inventory.district(district) if district else None
    c_group = inventory.commune(commune) if commune else None
    if d_group is not None and c_group is not None and c_group.parent != d_group.name:
        from fleet.errors import FleetError
        raise FleetError(f"{inventory.source}: commune {commune!r} is not in district {district!r} / "
                         f"xã/phường {commune!r} không thuộc quận/huyện {district!r}")
    hosts: dict[str, list[str]] = {}
    for h in inventory.hosts:
        hosts.setdefault(h.commune, []).append(h.name)
    out = []
    for g in inventory.communes:
        if d_group is not None and g.parent != d_group.name:
            continue
        if c_group is not None and g.name != c_group.name:
            continue
        dg = inventory.groups[g.parent]
        out.append((g.parent.removeprefix(DISTRICT_PREFIX), dg.display_name, g.name.removeprefix(COMMUNE_PREFIX),
                    g.display_name, sorted(hosts.get(g.name, []))))
    return Scope(out, d_group.name.removeprefix(DISTRICT_PREFIX) if d_group is not None else None,
                 c_group.name.removeprefix(COMMUNE_PREFIX) if c_group is not None else None)


def build(scope: Scope, prom: Prometheus, *, at: float | None = None, history_seconds: float | None = None,
          criteria: Criteria | None = None, inventory_source: str = "", progress: Progress | None = None,
          history_points: int = 168, source: str = "raw", parallel: int = PARALLEL) -> Report:
    with Asking(prom, at=at, history_seconds=history_seconds, criteria=criteria, district=scope.district,
                commune=scope.commune, history_points=history_points, source=source, parallel=parallel) as asking:
        return asking.report(scope, inventory_source, progress)


class Asking:
    """A report's queries, sent as soon as it is made (PARALLEL at a time) so that the caller can read
    the inventory meanwhile: they depend only on the --district/--commune labels, not on the hosts.
    `report(scope)` waits for the answers and judges; leaving the `with` cancels what was not sent."""

    def __init__(self, prom: Prometheus, *, at: float | None = None, history_seconds: float | None = None,
                 criteria: Criteria | None = None, district: str | None = None, commune: str | None = None,
                 history_points: int = 168, source: str = "raw", parallel: int = PARALLEL):
        if source not in SOURCES:
            raise ValueError(f"source {source!r}: one of {SOURCES}")
        self.prom, self.source, self.history_seconds = prom, source, history_seconds
        self.criteria = criteria or Criteria()
        self.generated_at = time.time()
        self.at = self.generated_at if at is None else at
        self.district, self.commune = district, commune
        q = Queries(self.criteria, district, commune)
        rq = RecordedQueries(self.criteria, district, commune) if source == "recorded" else None
        instant = {"reporting": q.reporting, **(_recorded_queries(rq) if rq else _raw_queries(q))}
        calls: dict[str, Callable[[], list[Any]]] = {k: partial(prom.query, e, self.at) for k, e in instant.items()}
        if history_seconds:
            step = max(1.0, math.ceil(history_seconds / history_points))
            window = f"{int(max(step, 60))}s"
            ranges = {"history_rtt": rq.rtt() if rq else q.rtt(window),
                      "history_loss": rq.loss() if rq else q.loss(window)}
            calls.update({k: partial(prom.query_range, e, self.at - history_seconds, self.at, step)
                          for k, e in ranges.items()})
        self._queries_before = prom.queries
        self._total = len(calls)
        self._in_flight = InFlight(calls, parallel, name="readiness-query")

    def __enter__(self) -> Asking:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._in_flight.__exit__(*exc)

    def report(self, scope: Scope, inventory_source: str = "", progress: Progress | None = None) -> Report:
        if (scope.district, scope.commune) != (self.district, self.commune):
            raise ValueError("the scope's district/commune differ from the queries'")
        with quiet_gc():
            answers = self._in_flight.answers(progress)  # the first failure stops the report
            if progress:
                progress("done", self._total, self._total)
            report = Report(evaluated_at=self.at, generated_at=self.generated_at, prometheus=self.prom.url,
                            inventory=inventory_source, district_filter=scope.district,
                            commune_filter=scope.commune, criteria=self.criteria, districts=[],
                            queries=self.prom.queries - self._queries_before, history_seconds=self.history_seconds)
            _fill(report, scope, answers, self.source)
        return report


def _fill(report: Report, scope: Scope, answers: dict[str, list[Any]], source: str) -> None:
    """The report's districts, communes and verdicts from the answers."""
    communes = {(c[0], c[2]): Commune(c[0], c[1], c[2], c[3], list(c[4])) for c in scope.communes}
    known_hosts = {h: k for k, c in communes.items() for h in c.hosts}
    # who reports (one series per PC Prometheus knows; absent = never seen)
    unexpected = []
    seen: set[str] = set()
    for s in answers["reporting"]:
        host = s.labels.get("instance", "")
        k = known_hosts.get(host)
        if k is None:
            unexpected.append(host)
            continue
        seen.add(host)
        if s.value == 1:
            communes[k].reporting.append(host)
    for c in communes.values():
        c.reporting.sort()
        c.never_seen = [h for h in c.hosts if h not in seen]

    (_recorded if source == "recorded" else _raw)(answers, communes)

    if report.history_seconds:
        for c in communes.values():
            c.history = History()
        for r in answers["history_rtt"]:
            if (c := communes.get(_key(r.labels))) is not None and c.history is not None:
                c.history.rtt_seconds = [(t, v) for t, v in r.points if math.isfinite(v)]
        for r in answers["history_loss"]:
            if (c := communes.get(_key(r.labels))) is not None and c.history is not None:
                c.history.loss_ratio = [(t, v) for t, v in r.points if math.isfinite(v)]

    for c in communes.values():
        c.reasons = judge(c, report.criteria)
    districts: dict[str, District] = {}
    for c in communes.values():
        d = districts.setdefault(c.district, District(c.district, c.district_name, []))
        d.communes.append(c)
    report.districts = sorted(districts.values(), key=lambda d: d.district)
    for d in report.districts:
        d.communes.sort(key=lambda c: c.commune)
    report.unexpected_instances = sorted(unexpected)


def _recorded_queries(q: RecordedQueries) -> dict[str, str]:
    return {"spec": q.pcs, "printers": q.devices, "printer_problems": q.printer_problems, "wan": q.wan,
            "wan_rtt": q.rtt(), "wan_loss": q.loss()}


def _raw_queries(q: Queries) -> dict[str, str]:
    return {"spec": q.spec_ok, "client": q.client, "printers": q.printers, "printer_problems": q.printer_problems,
            "scanners": q.scanners, "wan": q.wan_reached, "wan_degraded": q.wan_good, "wan_rtt": q.rtt(q.rate_window),
            "wan_loss": q.loss()}


def _recorded(answers: dict[str, list[Series]], communes: dict[tuple[str, str], Commune]) -> None:
    fields = {"pcs_spec_ok": "pcs_spec_ok", "vclient_installed": "pcs_client_installed",
              "printers": "printers_total", "printers_working": "printers_working",
              "scanners": "scanners_total", "scanners_working": "scanners_working"}
    for key in ("spec", "printers"):
        for s in answers[key]:
            if (c := communes.get(_key(s.labels))) is not None and (f := fields.get(s.labels.get("what", ""))):
                setattr(c, f, int(s.value))
    for s in answers["printer_problems"]:
        if (c := communes.get(_key(s.labels))) is not None:
            c.printer_problems[s.labels.get("problem", "other")] = int(s.value)
    targets: dict[tuple[tuple[str, str], str, str], dict[str, float]] = {}
    for s in answers["wan"]:
        targets.setdefault((_key(s.labels), s.labels.get("target", ""), s.labels.get("role", "")), {})[
            s.labels.get("what", "")] = s.value
    for (k, target, role), v in sorted(targets.items()):
        if (c := communes.get(k)) is not None and "up:max" in v:
            state = (WAN_STATE_DOWN if v["up:max"] < 1
                     else WAN_STATE_DEGRADED if v.get("degraded:bool", 0) >= 1
                     else WAN_OK)
            c.wan_targets.append(WanTarget(target, role, state))
    for s in answers["wan_rtt"]:
        if (c := communes.get(_key(s.labels))) is not None and math.isfinite(s.value):
            c.wan_rtt_seconds = s.value
    for s in answers["wan_loss"]:
        if (c := communes.get(_key(s.labels))) is not None and math.isfinite(s.value):
            c.wan_loss_ratio = s.value


def _raw(answers: dict[str, list[Series]], communes: dict[tuple[str, str], Commune]) -> None:
    for s in answers["spec"]:
        if (c := communes.get(_key(s.labels))) is not None:
            c.pcs_spec_ok = int(s.value)
    for s in answers["client"]:
        if (c := communes.get(_key(s.labels))) is not None:
            c.pcs_client_installed = int(s.value)
    for s in answers["printers"]:
        if (c := communes.get(_key(s.labels))) is not None:
            c.printers_total += int(s.value)
            if s.labels.get("value") == "1":
                c.printers_working += int(s.value)
    for s in answers["printer_problems"]:
        if (c := communes.get(_key(s.labels))) is not None:
            c.printer_problems[s.labels.get("problem", "other")] = int(s.value)
    for s in answers["scanners"]:
        if (c := communes.get(_key(s.labels))) is not None:
            c.scanners_total += int(s.value)
            if s.labels.get("value") == "1":
                c.scanners_working += int(s.value)
    reached = {(_key(s.labels), s.labels.get("target", ""), _wan_role(s.labels)): s.value
               for s in answers["wan"]}
    good = {(_key(s.labels), s.labels.get("target", ""), _wan_role(s.labels))
            for s in answers["wan_degraded"]}
    for (k, target, role), value in sorted(reached.items()):
        if (c := communes.get(k)) is not None:
            state = WAN_OK if (k, target, role) in good else WAN_STATE_DEGRADED if value >= 1 else WAN_STATE_DOWN
            c.wan_targets.append(WanTarget(target, role, state))
    for s in answers["wan_rtt"]:
        if (c := communes.get(_key(s.labels))) is not None and math.isfinite(s.value):
            c.wan_rtt_seconds = s.value
    for s in answers["wan_loss"]:
        if (c := communes.get(_key(s.labels))) is not None and math.isfinite(s.value):
            c.wan_loss_ratio = s.value
