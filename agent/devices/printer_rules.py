"""When a printer is down, and what each of its readings means: one decision table.

A printer is down only when it cannot print: nothing answers for it, its own flags say
it cannot (RFC 2790 hrDeviceStatus down, hrPrinterDetectedErrorState bits, RFC 3805
critical prtAlert rows, IPP printer-state stopped and its reasons, a queue that does not
take or pass jobs), or no input that can feed paper has any. Everything read from levels
(a toner at 0 %, one empty cassette among loaded ones, a waste box nearly full) is a
problem the technician should see, never a reason to call the printer down: the printer
itself says whether it still prints.

`DECISIONS` is the table (docs/printers-scanners.md prints it, tests/agent/devices/
test_printer_rules.py holds one case per row). The functions below read their problem
and whether it blocks printing from the table, never from constants of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from agent.devices.printer_status import (
    ALERT_CRITICAL,
    DEVICE_WARNING,
    DOOR_OPEN,
    INPUT_EMPTY,
    JAMMED,
    MARKER_WASTE_FULL,
    MEDIA_EMPTY,
    MEDIA_LOW,
    OFFLINE,
    OTHER,
    SERVICE_REQUESTED,
    STOPPED,
    TONER,
    TONER_EMPTY,
    TONER_LOW,
    UNREACHABLE,
    WASTE,
    WASTE_NEARLY_FULL,
    Supply,
    Tray,
)


@dataclass(frozen=True)
class Decision:
    id: str
    when: str          # the condition, as docs/printers-scanners.md prints it
    problem: str       # the `problem` label it raises ("" for none)
    blocks: bool       # True: the printer is down (wardwatch_printer_up 0)
    source: str        # what says so: "flag" (the printer's own), "reading" (a level wardwatch reads), "silence"


DECISIONS: tuple[Decision, ...] = (
    Decision("unreachable", "no network source (IPP, SNMP) of the printer answers", UNREACHABLE, True, "silence"),
    # hrPrinterDetectedErrorState (RFC 3805 §2.2.13.4)
    Decision("bit.noPaper", "hrPrinterDetectedErrorState noPaper", MEDIA_EMPTY, True, "flag"),
    Decision("bit.noToner", "hrPrinterDetectedErrorState noToner", TONER_EMPTY, True, "flag"),
    Decision("bit.doorOpen", "hrPrinterDetectedErrorState doorOpen", DOOR_OPEN, True, "flag"),
    Decision("bit.jammed", "hrPrinterDetectedErrorState jammed", JAMMED, True, "flag"),
    Decision("bit.offline", "hrPrinterDetectedErrorState offline", OFFLINE, True, "flag"),
    Decision("bit.serviceRequested", "hrPrinterDetectedErrorState serviceRequested, hrDeviceStatus not "
             "running(2) or warning(3) (absent, unknown, testing or down)", SERVICE_REQUESTED, True, "flag"),
    Decision("bit.serviceRequested.running", "hrPrinterDetectedErrorState serviceRequested while hrDeviceStatus "
             "says running(2) or warning(3) (RFC 3805 §2.2.13.2: a non-critical alert)",
             SERVICE_REQUESTED, False, "flag"),
    Decision("bit.lowPaper", "hrPrinterDetectedErrorState lowPaper", MEDIA_LOW, False, "flag"),
    Decision("bit.lowToner", "hrPrinterDetectedErrorState lowToner", TONER_LOW, False, "flag"),
    Decision("bit.inputTrayEmpty", "hrPrinterDetectedErrorState inputTrayEmpty (one tray, not every input)",
             INPUT_EMPTY, False, "flag"),
    Decision("bit.overduePreventMaint", "hrPrinterDetectedErrorState overduePreventMaint", SERVICE_REQUESTED,
             False, "flag"),
    Decision("bit.other", "hrPrinterDetectedErrorState inputTrayMissing, outputTrayMissing, markerSupplyMissing "
             "or outputFull", OTHER, False, "flag"),
    Decision("bit.outputNearFull", "hrPrinterDetectedErrorState outputNearFull", "", False, "flag"),
    # hrDeviceStatus (RFC 2790)
    Decision("device.down", "hrDeviceStatus down(5) and no blocking problem says why", STOPPED, True, "flag"),
    Decision("device.warning", "hrDeviceStatus warning(3) and no other problem says why", DEVICE_WARNING, False,
             "flag"),
    Decision("device.running", "hrDeviceStatus running(2), testing(4) or unknown(1)", "", False, "flag"),
    # prtAlertTable (RFC 3805 prtAlertSeverityLevel: critical 3, warning 4, warningBinaryChangeEvent 5)
    Decision("alert.critical.known", "a critical(3) prtAlert row whose code wardwatch knows (e.g. 808 "
             "inputMediaSupplyEmpty → media_empty, 1101 markerTonerEmpty → toner_empty)", "(the code's)", True,
             "flag"),
    Decision("alert.critical.unknown", "a critical(3) prtAlert row of another code", ALERT_CRITICAL, True, "flag"),
    Decision("alert.warning.known", "a warning(4) or warningBinaryChangeEvent(5) prtAlert row whose code wardwatch "
             "knows; a code that would block is read as its warning form (media_empty → input_empty, "
             "toner_empty → toner_low, marker_waste_full → waste_nearly_full, others → device_warning)",
             "(the code's)", False, "flag"),
    Decision("alert.warning.unknown", "a warning(4) or (5) prtAlert row of another code", "", False, "flag"),
    Decision("alert.other", "a prtAlert row of severity other(1) or a value outside the MIB (Brother's 255 "
             "\"Sleep\")", "", False, "flag"),
    # IPP (RFC 8011, PWG 5100.9) and local queues
    Decision("ipp.reason", "an IPP printer-state-reasons keyword (any -error/-warning/-report suffix) that "
             "wardwatch knows: blocks when its problem is offline, paused, media_empty, jammed, door_open, "
             "toner_empty or marker_waste_full", "(the reason's)", True, "flag"),
    Decision("ipp.stopped", "IPP printer-state stopped(5) and no blocking reason says why", STOPPED, True, "flag"),
    Decision("queue.not_accepting", "printer-is-accepting-jobs false", "not_accepting", True, "flag"),
    Decision("queue.stuck", "the oldest waiting job is older than thresholds.printer_queue_stuck_after",
             "queue_stuck", True, "reading"),
    Decision("queue.missing", "the local queue is gone", "missing", True, "flag"),
    # inputs (prtInputTable)
    Decision("input.all_empty", "every input reads 0, none reads paper (> 0 or -3 \"some remaining\"), no "
             "automatic tray is unknown (-1, -2), and at least one automatic tray is empty", MEDIA_EMPTY, True,
             "reading"),
    Decision("input.one_empty", "an automatic tray reads 0 while another input can feed (or is unknown)",
             INPUT_EMPTY, False, "reading"),
    Decision("input.manual_empty", "a manual feed reads 0: prtInputType sheetFeedManual(5), prtInputStatus "
             "\"unavailable and on request\" (availability 1), or a name saying MP, multi-purpose, manual or "
             "bypass", "", False, "reading"),
    # supplies (prtMarkerSuppliesTable, IPP marker-levels / printer-supply)
    Decision("supply.toner_low", "a toner or ink at or below thresholds.printer_supply_low_ratio", TONER_LOW,
             False, "reading"),
    Decision("supply.toner_empty", "a toner or ink reads 0 (the printer's own flags decide whether it still "
             "prints)", TONER_EMPTY, False, "reading"),
    Decision("supply.part_empty", "a drum, fuser, belt or kit reads 0", SERVICE_REQUESTED, False, "reading"),
    Decision("supply.some_remaining", "a supply reads -3 \"some remaining\", or a level with no capacity",
             "", False, "reading"),
    Decision("supply.unknown", "a supply reads -2 (unknown) or -1", "", False, "reading"),
    Decision("waste.nearly_full", "a waste receptacle at or above thresholds.printer_waste_nearly_full_ratio "
             "full", WASTE_NEARLY_FULL, False, "reading"),
    Decision("waste.full", "a waste receptacle with no space left", MARKER_WASTE_FULL, False, "reading"),
    Decision("waste.direction_unknown", "a waste unit whose level may be space left or fill (no "
             "receptacleThatIsFilled class): no fill, no problem; `check` says so", "", False, "reading"),
)
RULES: dict[str, Decision] = {d.id: d for d in DECISIONS}


@dataclass
class Verdict:
    """Problems raised, and those of them that stop printing."""

    problems: set[str] = field(default_factory=set)
    blocking: set[str] = field(default_factory=set)
    rows: list[str] = field(default_factory=list)  # the decisions that applied, in order

    def apply(self, row_id: str, problem: str | None = None) -> None:
        d = RULES[row_id]
        name = problem if problem is not None else d.problem
        self.rows.append(row_id)
        if not name:
            return
        self.problems.add(name)
        if d.blocks:
            self.blocking.add(name)


# --- SNMP: hrPrinterDetectedErrorState, hrDeviceStatus, prtAlertTable ---------------------

_BIT_ROWS = {
    "noPaper": "bit.noPaper", "noToner": "bit.noToner", "doorOpen": "bit.doorOpen", "jammed": "bit.jammed",
    "offline": "bit.offline", "lowPaper": "bit.lowPaper", "lowToner": "bit.lowToner",
    "inputTrayEmpty": "bit.inputTrayEmpty", "overduePreventMaint": "bit.overduePreventMaint",
    "inputTrayMissing": "bit.other", "outputTrayMissing": "bit.other", "markerSupplyMissing": "bit.other",
    "outputFull": "bit.other", "outputNearFull": "bit.outputNearFull",
}
DEVICE_RUNNING, DEVICE_WARNING_STATUS, DEVICE_TESTING, DEVICE_DOWN = 2, 3, 4, 5

# prtAlertCode (IANA-PRINTER-MIB PrtAlertCodeTC) → problem
_ALERT_CODE_PROBLEMS = {
    3: DOOR_OPEN, 5: DOOR_OPEN, 8: JAMMED, 11: SERVICE_REQUESTED, 22: OFFLINE, 30: SERVICE_REQUESTED,
    32: SERVICE_REQUESTED, 501: DOOR_OPEN, 807: MEDIA_LOW, 808: MEDIA_EMPTY,
    1001: SERVICE_REQUESTED, 1002: SERVICE_REQUESTED, 1003: SERVICE_REQUESTED, 1004: SERVICE_REQUESTED,
    1101: TONER_EMPTY, 1102: TONER_EMPTY, 1103: TONER_EMPTY, 1104: TONER_LOW, 1105: TONER_LOW, 1106: TONER_LOW,
    1109: MARKER_WASTE_FULL, 1110: MARKER_WASTE_FULL, 1112: SERVICE_REQUESTED, 1114: SERVICE_REQUESTED,
}
GROUP_INPUT, GROUP_SUPPLIES = 8, 11
# subunitAlmostEmpty(12), subunitEmpty(13), subunitAlmostFull(14), subunitFull(15): meaning depends on the group
_SUBUNIT_CODE_PROBLEMS = {
    (12, GROUP_INPUT): MEDIA_LOW, (13, GROUP_INPUT): MEDIA_EMPTY,
    (12, GROUP_SUPPLIES): TONER_LOW, (13, GROUP_SUPPLIES): TONER_EMPTY,
    (14, GROUP_SUPPLIES): WASTE_NEARLY_FULL, (15, GROUP_SUPPLIES): MARKER_WASTE_FULL,
}
# what a blocking problem means when the printer calls it only a warning
_WARNING_FORM = {MEDIA_EMPTY: INPUT_EMPTY, TONER_EMPTY: TONER_LOW, MARKER_WASTE_FULL: WASTE_NEARLY_FULL}
ALERT_SEVERITIES = {3: "critical", 4: "warning", 5: "warning"}  # anything else: "other"
_BLOCKING_IF_FLAGGED = frozenset({MEDIA_EMPTY, TONER_EMPTY, DOOR_OPEN, JAMMED, OFFLINE, MARKER_WASTE_FULL})


def alert_code_problem(group: int, code: int) -> str | None:
    return _ALERT_CODE_PROBLEMS.get(code) or _SUBUNIT_CODE_PROBLEMS.get((code, group))


def alert_decision(severity: int, group: int, code: int) -> tuple[str, str | None]:
    """The table row a prtAlert row falls under, and the problem it raises (None: the row's own)."""
    level = ALERT_SEVERITIES.get(severity, "other")
    problem = alert_code_problem(group, code)
    if level == "critical":
        return ("alert.critical.known", problem) if problem else ("alert.critical.unknown", None)
    if level == "warning":
        if problem is None:
            return "alert.warning.unknown", None
        if problem in _BLOCKING_IF_FLAGGED:
            problem = _WARNING_FORM.get(problem, DEVICE_WARNING)
        return "alert.warning.known", problem
    return "alert.other", None


def snmp_flags(bits: Iterable[str], device_status: int | None,
               alerts: Sequence[tuple[int, int, int]] = ()) -> Verdict:
    """What the printer's own SNMP flags say: error-state bit names, hrDeviceStatus and
    prtAlert rows as (severity, group, code). `device.warning` is left to `device_warning`,
    which also sees the problems read from levels."""
    v = Verdict()
    runs = device_status in (DEVICE_RUNNING, DEVICE_WARNING_STATUS)
    for bit in bits:
        if bit == "serviceRequested":
            v.apply("bit.serviceRequested.running" if runs else "bit.serviceRequested")
        elif bit in _BIT_ROWS:
            v.apply(_BIT_ROWS[bit])
    for severity, group, code in alerts:
        row, problem = alert_decision(severity, group, code)
        v.apply(row, problem)
    if device_status == DEVICE_DOWN:
        if not v.blocking:
            v.apply("device.down")
    elif device_status in (1, DEVICE_RUNNING, DEVICE_TESTING):
        v.apply("device.running")
    return v


def device_warning(device_status: int | None, problems: set[str]) -> Verdict:
    """hrDeviceStatus warning(3) with nothing else to say why: a warning of its own."""
    v = Verdict()
    if device_status == DEVICE_WARNING_STATUS and not problems:
        v.apply("device.warning")
    return v


# --- readings: supplies and inputs -------------------------------------------------------

OK, LOW, EMPTY, SOME_REMAINING, UNKNOWN = "ok", "low", "empty", "some_remaining", "unknown"
NEARLY_FULL, FULL = "nearly_full", "full"
SUPPLY_STATES = (OK, LOW, EMPTY, SOME_REMAINING, UNKNOWN, NEARLY_FULL, FULL)
INPUT_STATES = (OK, EMPTY, SOME_REMAINING, UNKNOWN)


def supply_state(s: Supply, low_ratio: float, nearly_full_ratio: float) -> str:
    """One word for a supply: consumables ok / low / empty, receptacles ok / nearly_full / full,
    either some_remaining (-3, or a level without a capacity) or unknown (-2, -1, a waste unit
    whose direction is not known)."""
    if s.kind == WASTE:
        if s.level == -3:
            return SOME_REMAINING  # some space remaining (RFC 3805)
        fill = s.fill
        if fill is None:
            return UNKNOWN
        if fill >= 1.0:
            return FULL
        return NEARLY_FULL if fill >= nearly_full_ratio else OK
    if s.level == -3:
        return SOME_REMAINING
    if s.level == 0:
        return EMPTY
    ratio = s.ratio
    if ratio is None:
        return SOME_REMAINING if s.level > 0 else UNKNOWN
    return LOW if ratio <= low_ratio else OK


def tray_state(t: Tray) -> str:
    if t.level > 0:
        return OK
    if t.level == 0:
        return EMPTY
    return SOME_REMAINING if t.level == -3 else UNKNOWN


def supply_readings(supplies: Iterable[Supply], low_ratio: float, nearly_full_ratio: float) -> Verdict:
    v = Verdict()
    for s in supplies:
        state = supply_state(s, low_ratio, nearly_full_ratio)
        if s.kind == WASTE:
            if state == FULL:
                v.apply("waste.full")
            elif state == NEARLY_FULL:
                v.apply("waste.nearly_full")
            elif state == UNKNOWN and s.level >= 0:
                v.apply("waste.direction_unknown")
        elif state == SOME_REMAINING:
            v.apply("supply.some_remaining")
        elif state == UNKNOWN:
            v.apply("supply.unknown")
        elif s.kind == TONER and state == EMPTY:
            v.apply("supply.toner_empty")
        elif s.kind == TONER and state == LOW:
            v.apply("supply.toner_low")
        elif state == EMPTY:
            v.apply("supply.part_empty")
    return v


def tray_readings(trays: Sequence[Tray]) -> Verdict:
    """Out of paper only when no input can feed; one empty cassette among loaded ones is
    that tray's problem (the tray names are in wardwatch_printer_input_state)."""
    v = Verdict()
    states = [(t, tray_state(t)) for t in trays]
    feeds = any(s in (OK, SOME_REMAINING) for _, s in states)
    auto_empty = [t for t, s in states if not t.manual and s == EMPTY]
    auto_unknown = any(not t.manual and s == UNKNOWN for t, s in states)
    if auto_empty and not feeds and not auto_unknown:
        v.apply("input.all_empty")
    elif auto_empty:
        v.apply("input.one_empty")
    if any(t.manual and s == EMPTY for t, s in states):
        v.apply("input.manual_empty")
    return v


def empty_inputs(trays: Sequence[Tray]) -> list[str]:
    """The automatic trays that read 0, by name."""
    return [t.name for t in trays if not t.manual and tray_state(t) == EMPTY]


def markdown_table() -> str:
    """DECISIONS as docs/printers-scanners.md prints it (scripts/update-readme.py writes it there)."""
    lines = ["| row | when | problem | printer down? | said by |", "| --- | --- | --- | --- | --- |"]
    for d in DECISIONS:
        problem = f"`{d.problem}`" if d.problem and not d.problem.startswith("(") else (d.problem or "—")
        said = {"flag": "the printer's own flags", "reading": "a reading wardwatch makes",
                "silence": "no answer"}[d.source]
        lines.append(f"| `{d.id}` | {d.when} | {problem} | {'**yes**' if d.blocks else 'no'} | {said} |")
    return "\n".join(lines) + "\n"
