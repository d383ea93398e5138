"""One view per printer, merged from every source that sees it (a local queue,
IPP, SNMP), and the rules that decide its problems and whether it can print."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.devices import printer_rules
from agent.devices.printer_status import (
    SourceStatus,
    Supply,
    Tray,
)

LOCAL_SOURCES = ("cups", "windows")
NETWORK_SOURCES = ("ipp", "snmp")
# Who is believed first for each fact.
_STATE_ORDER = ("cups", "windows", "ipp", "snmp")
_MODEL_ORDER = ("ipp", "cups", "snmp", "windows")
_SUPPLY_ORDER = ("snmp", "ipp", "cups", "windows")
MAX_REASONS = 16


@dataclass
class PrinterView:
    name: str
    sources: list[SourceStatus]
    problems: set[str] = field(default_factory=set)
    blocking: set[str] = field(default_factory=set)  # the problems that stop it printing
    state: str = ""
    accepting: bool | None = None
    reasons: tuple[str, ...] = ()
    message: str = ""
    make_model: str = ""
    serial: str = ""
    jobs_waiting: int | None = None
    oldest_job_age: float | None = None
    supplies: list[Supply] = field(default_factory=list)
    trays: list[Tray] = field(default_factory=list)
    alerts: dict[str, int] | None = None

    @property
    def reachable(self) -> bool:
        return any(s.reachable for s in self.sources)

    @property
    def up(self) -> bool:
        """Present and able to print: some source answered and nothing blocks printing."""
        return self.reachable and not self.blocking

    @property
    def source_label(self) -> str:
        """The configured sources, stable from one run to the next (e.g. "cups+ipp+snmp")."""
        return "+".join(dict.fromkeys(s.source for s in self.sources))


def _first(statuses: Sequence[SourceStatus], order: Sequence[str], attr: str):
    by_source = {s.source: s for s in statuses if s.reachable}
    for source in order:
        s = by_source.get(source)
        if s is not None:
            value = getattr(s, attr)
            if value not in ("", None, [], ()):
                return value
    return None


def merge(name: str, statuses: Sequence[SourceStatus], *, supply_low_ratio: float,
          queue_stuck_after: float, waste_nearly_full_ratio: float = 0.9) -> PrinterView:
    view = PrinterView(name, list(statuses))
    reachable = [s for s in statuses if s.reachable]
    for s in statuses:
        view.problems |= s.problems  # an unanswered network source has none; a vanished queue says "missing"
        view.blocking |= s.blocking_problems
    verdict = printer_rules.Verdict()
    network = [s for s in statuses if s.source in NETWORK_SOURCES]
    if network and not any(s.reachable for s in network):
        verdict.apply("unreachable")

    view.state = _first(reachable, _STATE_ORDER, "state") or ""
    view.accepting = _first(reachable, _STATE_ORDER, "accepting")
    view.message = _first(reachable, _STATE_ORDER, "message") or ""
    view.make_model = _first(statuses, _MODEL_ORDER, "make_model") or next(
        (s.make_model for s in statuses if s.make_model), "")
    view.serial = _first(reachable, ("snmp", "ipp"), "serial") or ""
    reasons: list[str] = []
    for s in reachable:
        reasons += [r for r in s.reasons if r not in reasons]
    view.reasons = tuple(reasons[:MAX_REASONS])

    local = next((s for s in reachable if s.source in LOCAL_SOURCES), None)
    ipp = next((s for s in reachable if s.source == "ipp"), None)
    if local is not None:
        view.jobs_waiting, view.oldest_job_age = local.jobs_waiting, local.oldest_job_age
    elif ipp is not None:
        view.jobs_waiting = ipp.jobs_waiting  # queued-job-count; the printer does not say how old
    view.supplies = _first(reachable, _SUPPLY_ORDER, "supplies") or []
    view.trays = _first(reachable, ("snmp",), "trays") or []
    snmp = next((s for s in reachable if s.source == "snmp"), None)
    view.alerts = dict(snmp.alerts) if snmp is not None else None

    if reachable:
        for v in (printer_rules.supply_readings(view.supplies, supply_low_ratio, waste_nearly_full_ratio),
                  printer_rules.tray_readings(view.trays)):
            verdict.problems |= v.problems
            verdict.blocking |= v.blocking
        if view.jobs_waiting and view.oldest_job_age is not None and view.oldest_job_age > queue_stuck_after:
            verdict.apply("queue.stuck")
        if snmp is not None:
            verdict.problems |= printer_rules.device_warning(snmp.device_status,
                                                             view.problems | verdict.problems).problems
    view.problems |= verdict.problems
    view.blocking |= verdict.blocking
    return view
