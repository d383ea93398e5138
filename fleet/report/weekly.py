"""The weekly report's figures: availability of every commune in office hours, minutes NOT
READY by reason, incidents (the alerts' firings) with their time to restore, roll-ups per
district and city, and the change from the previous period.

Data only: no text for people here (fleet/report/render.py does that).

Sources: Prometheus or VictoriaMetrics alone, through fleet/promapi.py:
- the readiness recording rules' history (alerts/src/readiness.rules.yml):
  `commune:wardwatch_ready:bool` and `commune:wardwatch_not_ready_reason:bool{reason}`,
  the reasons being fleet/readiness.py's codes;
- the `ALERTS` series of every alert about a commune (a `commune` label: scope pc, device or
  commune, the support team's alerts; docs/alerts.md).

Counting: office hours come from the calendar (fleet/report/calendar.py). For each office day
one point of a range query (step: one day, placed at the end of office hours) counts, with a
subquery at `step` seconds, the instants of that day's office hours at which the series held:
`count_over_time((EXPR)[<office length>:<step>])`. Each instant stands for `step` seconds, so
figures are exact to the step (the rules' evaluation interval, or the scrape interval).
Hours outside office hours and holidays never count. A commune without any readiness
series at an instant counts as "no data", not as READY.

Queries: a fixed number whatever the number of PCs and communes: per chunk of at most
CHUNK_DAYS days, one for READY, one for the presence of data, one per reason; the ALERTS
series at `step` over the two periods, in chunks of at most MAX_POINTS points (Prometheus
refuses more than 11,000 points per series). All of them are sent at once (fleet/promapi.py,
PARALLEL in flight).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from fleet import readiness as rd
from fleet.errors import EXIT_USAGE, FleetError
from fleet.promapi import PARALLEL, InFlight, Prometheus, Range, quiet_gc
from fleet.report.calendar import Calendar, Period

READY_RULE = "commune:wardwatch_ready:bool"
REASON_RULE = "commune:wardwatch_not_ready_reason:bool"
# The reasons the recording rules give (every readiness reason but no_pcs, which only the inventory knows).
REASONS = tuple(r for r in rd.REASONS if r != rd.NO_PCS)
NO_DATA = "no_data"
MAX_POINTS = 11_000
CHUNK_DAYS = 7
ALERT_LABELS_DROPPED = ("__name__", "alertstate")

Progress = Callable[[str, int, int], None]


@dataclass
class Minutes:
    """Seconds counted in office hours (kept in seconds; shown as minutes)."""
    office: float = 0.0
    ready: float = 0.0
    data: float = 0.0
    by_reason: dict[str, float] = field(default_factory=dict)

    @property
    def not_ready(self) -> float:
        return max(0.0, self.data - self.ready)

    @property
    def no_data(self) -> float:
        return max(0.0, self.office - self.data)

    @property
    def availability(self) -> float | None:
        return self.ready / self.office if self.office > 0 else None

    def add(self, other: Minutes) -> None:
        self.office += other.office
        self.ready += other.ready
        self.data += other.data
        for k, v in other.by_reason.items():
            self.by_reason[k] = self.by_reason.get(k, 0.0) + v


@dataclass
class Day:
    date: dt.date
    office: bool
    minutes: Minutes


@dataclass
class Incident:
    alertname: str
    labels: dict[str, str]     # every label of the alert but alertstate
    start: float               # first evaluation seen firing
    end: float | None          # first evaluation after the last one firing; None: still open
    started_before: bool       # already firing at the start of the data asked for

    @property
    def district(self) -> str:
        return self.labels.get("district", "")

    @property
    def commune(self) -> str:
        return self.labels.get("commune", "")

    @property
    def open(self) -> bool:
        return self.end is None

    @property
    def ttr(self) -> float | None:
        return None if self.end is None else self.end - self.start

    def subject(self) -> str:
        """What the alert is about within the commune (PC, printer, scanner, WAN target)."""
        parts = [self.labels[k] for k in ("instance", "printer", "scanner", "target", "cause") if self.labels.get(k)]
        return " ".join(parts)


@dataclass
class TTR:
    key: str
    incidents: int = 0
    resolved: int = 0
    open: int = 0
    median: float | None = None
    worst: float | None = None


def ttr_stats(key: str, incidents: list[Incident]) -> TTR:
    done = [i.ttr for i in incidents if i.ttr is not None]
    return TTR(key, len(incidents), len(done), sum(i.open for i in incidents),
               statistics.median(done) if done else None, max(done) if done else None)


@dataclass
class Commune:
    district: str
    district_name: str
    commune: str
    name: str
    minutes: Minutes = field(default_factory=Minutes)
    previous: Minutes = field(default_factory=Minutes)
    days: list[Day] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)

    @property
    def change(self) -> float | None:
        a, b = self.minutes.availability, self.previous.availability
        return None if a is None or b is None else a - b


@dataclass
class District:
    district: str
    name: str
    communes: list[Commune]
    minutes: Minutes = field(default_factory=Minutes)
    previous: Minutes = field(default_factory=Minutes)
    ttr: TTR | None = None

    @property
    def change(self) -> float | None:
        a, b = self.minutes.availability, self.previous.availability
        return None if a is None or b is None else a - b


@dataclass
class Report:
    period: Period
    previous_period: Period
    calendar: Calendar
    start: float               # unix time of the period's first local midnight
    end: float                 # ... of the midnight after its last day (or now, if earlier)
    step: float
    generated_at: float
    prometheus: str
    queries: int
    districts: list[District]
    city: Minutes
    city_previous: Minutes
    incidents: list[Incident]  # overlapping the period
    previous_incidents: int
    ttr_by_cause: list[TTR]
    ttr_by_district: list[TTR]
    ttr_city: TTR
    holidays: list[dt.date]    # holidays of the calendar inside the period

    @property
    def communes(self) -> list[Commune]:
        return [c for d in self.districts for c in d.communes]

    def lowest_first(self) -> list[Commune]:
        return sorted(self.communes, key=lambda c: (c.minutes.availability if c.minutes.availability is not None
                                                    else -1.0, c.district, c.commune))

    @property
    def city_change(self) -> float | None:
        a, b = self.city.availability, self.city_previous.availability
        return None if a is None or b is None else a - b


# --- queries -------------------------------------------------------------------------

def _matchers(district: str | None, commune: str | None) -> str:
    return rd._matchers(district, commune)


class Queries:
    def __init__(self, district: str | None = None, commune: str | None = None):
        m = _matchers(district, commune)
        self.m = m
        sep = "," if m else ""
        self.ready_sel = f"max by (district, commune) ({READY_RULE}{{{m}}})"
        self.reason_sel = {r: f'max by (district, commune) ({REASON_RULE}{{reason="{r}"{sep}{m}}})' for r in REASONS}
        self.alerts = f'ALERTS{{alertstate="firing",commune!=""{sep}{m}}}'

    @staticmethod
    def counted(expr: str, window: int, step: int) -> str:
        return f"count_over_time(({expr})[{window}s:{step}s])"


def _day_chunks(days: list[dt.date], size: int = CHUNK_DAYS) -> list[list[dt.date]]:
    return [days[i:i + size] for i in range(0, len(days), size)]


def _key(labels: dict[str, str]) -> tuple[str, str]:
    return (labels.get("district", ""), labels.get("commune", ""))


@dataclass(frozen=True)
class Scope:
    """Communes known beforehand (from the inventory): (district, district name, commune, name)."""
    communes: list[tuple[str, str, str, str]]
    district: str | None = None
    commune: str | None = None


def scope_from_inventory(inventory, district: str | None = None, commune: str | None = None) -> Scope:
    s = rd.scope_from_inventory(inventory, district, commune)
    return Scope([(d, dn, c, cn) for d, dn, c, cn, _hosts in s.communes], s.district, s.commune)


def build(prom: Prometheus, cal: Calendar, period: Period, *, step: int = 60, scope: Scope | None = None,
          now: float | None = None, progress: Progress | None = None, parallel: int = PARALLEL) -> Report:
    now = time.time() if now is None else now
    scope = scope or Scope([])
    window = cal.office_seconds_per_day
    if step <= 0 or window % step or 86400 % step:
        raise FleetError(f"--step {step}: must divide a day and the office hours ({window} s) / bước phải chia "
                         f"hết một ngày và số giờ làm việc", EXIT_USAGE)
    previous = period.previous()
    start, end = cal.day_start(period.first), min(cal.day_start(period.last + dt.timedelta(days=1)), now)
    p_start = cal.day_start(previous.first)
    if end <= start:
        raise FleetError(f"{period.label}: has not started yet / chưa tới thời gian này", EXIT_USAGE)
    q = Queries(scope.district, scope.commune)
    cur_days = [d for d in period.days if cal.office_end(d) <= now]
    prev_days = previous.days
    n_points = int((end - p_start) // step)
    alert_chunks = max(1, math.ceil(n_points / MAX_POINTS))
    before = prom.queries

    communes: dict[tuple[str, str], Commune] = {
        (d, c): Commune(d, dn, c, cn) for d, dn, c, cn in scope.communes}

    def commune_of(labels: dict[str, str]) -> Commune:
        k = _key(labels)
        if k not in communes:
            communes[k] = Commune(k[0], k[0], k[1], k[1])
        return communes[k]

    # every query, sent at once: (progress step, what, chunk) -> the call
    calls: dict[tuple[str, str, int], Callable[[], list[Range]]] = {}

    def daily_queries(step_key: str, what: str, expr: str, days: list[dt.date]) -> None:
        for i, chunk in enumerate(_day_chunks(days)):
            first, last = cal.office_end(chunk[0]) - 0.001, cal.office_end(chunk[-1]) - 0.001
            calls[step_key, what, i] = partial(prom.query_range, Queries.counted(expr, window, step), first, last,
                                               86400)

    cur_office = [d for d in cur_days if cal.is_office_day(d)]
    prev_office = [d for d in prev_days if cal.is_office_day(d)]
    daily_queries("ready", "ready", f"{q.ready_sel} == 1", cur_days)
    daily_queries("data", "data", q.ready_sel, cur_days)
    for r in REASONS:
        daily_queries(r, r, f"{q.reason_sel[r]} == 1", cur_days)
    daily_queries("previous", "p_ready", f"{q.ready_sel} == 1", prev_days)
    daily_queries("previous", "p_data", q.ready_sel, prev_days)
    # incidents: the ALERTS series over both periods, at `step`
    grid_last = p_start + (n_points - 1) * step if n_points > 0 else p_start
    t0 = p_start
    for i in range(alert_chunks):
        t1 = min(grid_last, t0 + (MAX_POINTS - 1) * step)
        calls["alerts", "alerts", i] = partial(prom.query_range, q.alerts, t0, t1, step)
        t0 = t1 + step
    total = len(calls)

    with quiet_gc(), InFlight(calls, parallel, name="weekly-query") as in_flight:
        answers = in_flight.answers((lambda k, n, t: progress(k[0], n, t)) if progress else None)

    def daily(what: str) -> dict[tuple[str, str], dict[dt.date, float]]:
        """{commune: {date: seconds}} from the chunks of one daily query."""
        out: dict[tuple[str, str], dict[dt.date, float]] = {}
        for (_, w, _), ranges in answers.items():
            if w != what:
                continue
            for r in ranges:
                commune_of(r.labels)
                per = out.setdefault(_key(r.labels), {})
                for t, v in r.points:
                    if math.isfinite(v):
                        day = cal.local(t).date()
                        per[day] = per.get(day, 0.0) + v * step
        return out

    ready, data, p_ready, p_data = daily("ready"), daily("data"), daily("p_ready"), daily("p_data")
    reasons = {r: daily(r) for r in REASONS}
    series: dict[tuple[tuple[str, str], ...], list[float]] = {}
    for (_, w, _), ranges in answers.items():
        if w == "alerts":
            for r in ranges:
                labels = tuple(sorted((k, v) for k, v in r.labels.items() if k not in ALERT_LABELS_DROPPED))
                series.setdefault(labels, []).extend(t for t, v in r.points if math.isfinite(v))
    incidents: list[Incident] = []
    for labels, stamps in series.items():
        lab = dict(labels)
        stamps = sorted(set(stamps))
        run_start = prev = stamps[0]
        for t in [*stamps[1:], None]:
            if t is not None and t - prev <= step * 1.5:
                prev = t
                continue
            still = prev >= grid_last - step / 2
            incidents.append(Incident(lab.get("alertname", ""), lab, run_start, None if still else prev + step,
                                      run_start <= p_start + step / 2))
            if t is not None:
                run_start = prev = t
    incidents.sort(key=lambda i: (i.start, i.district, i.commune, i.alertname, i.subject()))

    def overlaps(i: Incident, a: float, b: float) -> bool:
        return i.start < b and (i.end is None or i.end > a)

    current = [i for i in incidents if overlaps(i, start, end)]
    previous_count = sum(overlaps(i, p_start, start) for i in incidents)
    for i in current:
        commune_of(i.labels).incidents.append(i)

    for k, c in communes.items():
        for day in period.days:
            m = Minutes()
            office = day in cur_office
            if office:
                m.office = window
                m.ready = ready.get(k, {}).get(day, 0.0)
                m.data = data.get(k, {}).get(day, 0.0)
                m.by_reason = {r: reasons[r].get(k, {}).get(day, 0.0) for r in REASONS}
                c.minutes.add(m)
            c.days.append(Day(day, office, m))
        c.minutes.by_reason = {r: c.minutes.by_reason.get(r, 0.0) for r in REASONS}
        for day in prev_office:
            c.previous.add(Minutes(window, p_ready.get(k, {}).get(day, 0.0), p_data.get(k, {}).get(day, 0.0)))

    districts: dict[str, District] = {}
    for c in sorted(communes.values(), key=lambda c: (c.district, c.commune)):
        d = districts.setdefault(c.district, District(c.district, c.district_name, []))
        d.communes.append(c)
        d.minutes.add(c.minutes)
        d.previous.add(c.previous)
    city, city_prev = Minutes(), Minutes()
    for d in districts.values():
        d.ttr = ttr_stats(d.district, [i for c in d.communes for i in c.incidents])
        city.add(d.minutes)
        city_prev.add(d.previous)
    causes = sorted({i.alertname for i in current})
    if progress:
        progress("done", total, total)
    return Report(
        period=period, previous_period=previous, calendar=cal, start=start, end=end, step=step, generated_at=now,
        prometheus=prom.url, queries=prom.queries - before, districts=sorted(districts.values(),
                                                                             key=lambda d: d.district),
        city=city, city_previous=city_prev, incidents=current, previous_incidents=previous_count,
        ttr_by_cause=[ttr_stats(a, [i for i in current if i.alertname == a]) for a in causes],
        ttr_by_district=[d.ttr for d in sorted(districts.values(), key=lambda d: d.district) if d.ttr],
        ttr_city=ttr_stats("city", current),
        holidays=sorted(h for h in cal.holidays if period.first <= h <= period.last))
