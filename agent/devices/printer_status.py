"""What one source (a CUPS or Windows queue, IPP, SNMP) says about one printer,
and the shared, bounded vocabulary of problems every source is mapped onto.

The problem names are the `problem` label of `wardwatch_printer_problem`; alert
rules and the check report are written against them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

OFFLINE, PAUSED, STOPPED, NOT_ACCEPTING = "offline", "paused", "stopped", "not_accepting"
MEDIA_EMPTY, MEDIA_LOW, JAMMED, DOOR_OPEN = "media_empty", "media_low", "jammed", "door_open"
TONER_LOW, TONER_EMPTY, MARKER_WASTE_FULL = "toner_low", "toner_empty", "marker_waste_full"
SERVICE_REQUESTED, QUEUE_STUCK, UNREACHABLE, MISSING, OTHER = (
    "service_requested", "queue_stuck", "unreachable", "missing", "other")
INPUT_EMPTY, WASTE_NEARLY_FULL, DEVICE_WARNING, ALERT_CRITICAL = (
    "input_empty", "waste_nearly_full", "device_warning", "alert_critical")

PROBLEMS: tuple[str, ...] = (
    OFFLINE, PAUSED, STOPPED, NOT_ACCEPTING, MEDIA_EMPTY, MEDIA_LOW, JAMMED, DOOR_OPEN, TONER_LOW,
    TONER_EMPTY, MARKER_WASTE_FULL, SERVICE_REQUESTED, QUEUE_STUCK, UNREACHABLE, MISSING, OTHER,
    INPUT_EMPTY, WASTE_NEARLY_FULL, DEVICE_WARNING, ALERT_CRITICAL,
)

# Problems that stop the printer from printing when the printer itself (or its queue) says
# so: IPP reasons, a local queue's state. Levels read from the printer never block on their
# own (agent.devices.printer_rules: the decision table).
BLOCKING: frozenset[str] = frozenset({
    OFFLINE, PAUSED, STOPPED, NOT_ACCEPTING, MEDIA_EMPTY, JAMMED, DOOR_OPEN, TONER_EMPTY,
    MARKER_WASTE_FULL, QUEUE_STUCK, UNREACHABLE, MISSING, ALERT_CRITICAL,
})

def stopped_problem(state: str, problems: set[str]) -> set[str]:
    """`stopped` when the printer says it stopped and no blocking problem already says why."""
    if state == "stopped" and not (problems & BLOCKING):
        return {STOPPED}
    return set()


# Supply kinds: what a supply running out means.
TONER, WASTE, PART = "toner", "waste", "part"
# How a waste receptacle's level reads: the space left (RFC 3805 receptacleThatIsFilled), how
# full it is (CUPS marker-levels), or not known (a waste type or name without the class).
SPACE_LEFT, FILL, DIRECTION_UNKNOWN = "space_left", "fill", ""


@dataclass(frozen=True)
class Supply:
    """A marker supply. `level` and `max_capacity` are as the source gives them:
    RFC 3805 units for SNMP (with the special values -1, -2, -3), percent for IPP."""

    name: str
    kind: str  # TONER, WASTE or PART
    level: int
    max_capacity: int
    direction: str = DIRECTION_UNKNOWN  # waste only: SPACE_LEFT, FILL or DIRECTION_UNKNOWN

    @property
    def ratio(self) -> float | None:
        """What is left of a consumable; None for a receptacle (see `fill`)."""
        if self.kind == WASTE:
            return None
        return level_ratio(self.level, self.max_capacity)

    @property
    def fill(self) -> float | None:
        """How full a waste receptacle is (0 empty, 1 full); None when its level cannot be read
        that way (no number, or the direction is not known)."""
        if self.kind != WASTE:
            return None
        if self.direction == SPACE_LEFT:
            if self.level == 0:
                return 1.0  # no space left, whatever the capacity says
            ratio = level_ratio(self.level, self.max_capacity)
            return None if ratio is None else 1.0 - ratio
        if self.direction == FILL:
            return level_ratio(self.level, self.max_capacity)
        return None


@dataclass(frozen=True)
class Tray:
    """An input tray (prtInputTable)."""

    name: str
    level: int
    max_capacity: int
    manual: bool  # a manual / multi-purpose feed, normally left empty

    @property
    def ratio(self) -> float | None:
        return level_ratio(self.level, self.max_capacity)


@dataclass
class SourceStatus:
    """What one source reported about one printer in one collection."""

    source: str                     # cups, windows, ipp, snmp
    reachable: bool = True
    error: str = ""                 # why it was not reachable (short; never a secret)
    state: str = ""                 # idle, processing, stopped ("" when the source does not say)
    accepting: bool | None = None
    reasons: tuple[str, ...] = ()   # IPP printer-state-reasons keywords as sent
    message: str = ""               # printer-state-message and the like
    problems: set[str] = field(default_factory=set)
    blocking: set[str] | None = None  # the problems that stop printing; None: those in BLOCKING
    device_status: int | None = None  # hrDeviceStatus (RFC 2790), SNMP only
    make_model: str = ""
    serial: str = ""
    address: str = ""               # host this queue prints to, when known (for merging)
    jobs_waiting: int | None = None
    oldest_job_age: float | None = None
    supplies: list[Supply] = field(default_factory=list)
    trays: list[Tray] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)  # severity -> count

    @property
    def blocking_problems(self) -> set[str]:
        return set(self.problems & BLOCKING) if self.blocking is None else set(self.blocking)


def level_ratio(level: int, max_capacity: int) -> float | None:
    """Remaining fraction, or None when the device gives no number.

    RFC 3805 prtMarkerSuppliesLevel: -1 other (no restriction), -2 unknown,
    -3 "some remaining"; prtMarkerSuppliesMaxCapacity: -1 no restriction,
    -2 unknown. A level of 0 is empty whatever the capacity says."""
    if level >= 0 and max_capacity > 0:
        return min(level / max_capacity, 1.0)
    if level == 0:
        return 0.0
    return None


# --- IPP printer-state-reasons (RFC 8011 §5.4.12, PWG 5100.9, CUPS) -------------

_IPP_REASONS: dict[str, str] = {
    "paused": PAUSED, "moving-to-paused": PAUSED, "hold-new-jobs": PAUSED,
    "offline": OFFLINE, "shutdown": OFFLINE, "timed-out": OFFLINE,
    "media-empty": MEDIA_EMPTY, "media-needed": MEDIA_EMPTY, "input-tray-missing": OTHER,
    "media-low": MEDIA_LOW,
    "media-jam": JAMMED, "jam": JAMMED, "input-media-jam": JAMMED, "output-media-jam": JAMMED,
    "door-open": DOOR_OPEN, "cover-open": DOOR_OPEN, "interlock-open": DOOR_OPEN,
    "toner-empty": TONER_EMPTY, "marker-supply-empty": TONER_EMPTY, "ink-empty": TONER_EMPTY,
    "toner-low": TONER_LOW, "marker-supply-low": TONER_LOW, "ink-low": TONER_LOW,
    "marker-waste-full": MARKER_WASTE_FULL,
    "service-requested": SERVICE_REQUESTED, "developer-empty": SERVICE_REQUESTED, "opc-life-over": SERVICE_REQUESTED,
    "fuser-over-temp": SERVICE_REQUESTED, "fuser-under-temp": SERVICE_REQUESTED,
    "spool-area-full": OTHER, "stopped-partly": OTHER, "other": OTHER, "printer-not-ready": OFFLINE,
    "cups-missing-filter": OTHER, "cups-insecure-filter": OTHER,
}
# Reasons that say nothing is wrong (or only that something is in progress).
_IPP_BENIGN = frozenset({
    "none", "connecting-to-device", "cups-waiting-for-job-completed", "marker-waste-almost-full",
    "developer-low", "opc-near-eol", "identify-printer-requested", "deactivated", "stopping",
    "cups-remote-pending", "cups-remote-pending-held", "cups-remote-processing", "cups-remote-stopped",
    "cups-remote-canceled", "cups-remote-aborted", "cups-remote-completed", "moving-to-processing",
    "power-save", "sleep", "warming-up", "processing-to-stop-point", "printer-restarted",
    "cups-ipp-conformance-failure-report", "cups-ipp-missing-cancel-job", "cups-ipp-missing-get-job-attributes",
    "cups-ipp-missing-get-jobs", "cups-ipp-missing-job-history", "cups-ipp-missing-job-id",
    "cups-ipp-missing-job-state", "cups-ipp-missing-operations-supported", "cups-ipp-missing-print-job",
    "cups-ipp-missing-printer-is-accepting-jobs", "cups-ipp-missing-printer-state-reasons",
    "cups-ipp-missing-send-document", "cups-ipp-missing-validate-job", "cups-ipp-wrong-http-version",
})
_SEVERITY_SUFFIX = re.compile(r"-(report|warning|error)$")


def reason_severity(reason: str) -> str:
    """error, warning or report (RFC 8011: no suffix means error)."""
    m = _SEVERITY_SUFFIX.search(reason)
    return m.group(1) if m else "error"


def problems_from_ipp_reasons(reasons: Iterable[str]) -> set[str]:
    """Known reasons map whatever their severity suffix (printers say "media-empty-report"
    as often as "media-empty-error"); unknown ones count as `other` only as errors."""
    out: set[str] = set()
    for reason in reasons:
        base = _SEVERITY_SUFFIX.sub("", reason.strip().lower())
        if not base or base in _IPP_BENIGN:
            continue
        problem = _IPP_REASONS.get(base)
        if problem is not None:
            out.add(problem)
        elif reason_severity(reason.strip().lower()) == "error":
            out.add(OTHER)
    return out


# --- supply names and kinds -------------------------------------------------------

# Serial numbers, part numbers and CRUM ids that printers append to a supply's description;
# each form was seen in a real printer's answers (docs/printers-scanners.md, "Supply labels"):
#   "Black Toner Cartridge S/N:CRUM-17012345678", "Fuser S/N:"          (Samsung)
#   "Black Toner, PN 006R01509;SN48178080E0000481"                       (Xerox)
#   "Toner SN: 123", "Toner SN#123", "Toner Serial No. 1"
#   "Black Cartridge 827A HP CF300A", "Fuser Kit HP 110V-C1N54A, 220V-C1N58A", "Clean Rollers HP None" (HP)
#   "Black Toner Cartridge OKI DATA CORP"                                 (OKI: the maker, not the supply)
_SERIAL_IN_NAME = re.compile(
    r"(?:\s*[,;]\s*(?:S/N|SN|P/N|PN|CRUM)"  # after a comma or semicolon: whatever follows
    r"|(?:\s+|^)(?:S/N|SN|P/N|PN|CRUM|serial(?:\s*no\.?)?|part\s*(?:no\.?|number))(?=$|[\s:#.\-]|\d)).*$",
    re.IGNORECASE)
_HP_PART = re.compile(r"(?:\s+\d{2,3}[A-Z]{1,2})?\s+HP(?:\s.*)?$")
_MAKER_SUFFIX = re.compile(r"\s+OKI\s+DATA\s+CORP\.?$", re.IGNORECASE)
_TONER_WORDS = re.compile(r"toner|\bink\b|cartridge|mực|hộp mực|ribbon", re.IGNORECASE)
_WASTE_WORDS = re.compile(r"waste|thải", re.IGNORECASE)


def clean_supply_name(name: str, fallback: str) -> str:
    """A bounded, stable label: the supply's colour and kind without the serial or part
    numbers some printers append (every form in `_SERIAL_IN_NAME`, `_HP_PART`,
    `_MAKER_SUFFIX`), no NULs, no runs of spaces, at most 64 characters."""
    name = " ".join(name.replace("\x00", " ").split())
    for pattern in (_SERIAL_IN_NAME, _HP_PART, _MAKER_SUFFIX):
        name = pattern.sub("", name).strip(" ,;")
    name = name[:64].strip()
    return name or fallback


def unique_names(names: list[str]) -> list[str]:
    """Distinct labels for supplies or trays that share a name ("Toner", "Toner #2")."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} #{seen[n]}")
    return out


def kind_from_words(description: str) -> str:
    if _WASTE_WORDS.search(description):
        return WASTE
    if _TONER_WORDS.search(description):
        return TONER
    return PART


# IPP marker-types / printer-supply type keywords (PWG 5100.13, both spellings).
_IPP_TONER_TYPES = frozenset({
    "toner", "toner-cartridge", "tonercartridge", "ink", "ink-cartridge", "inkcartridge", "ink-ribbon",
    "inkribbon", "solid-wax", "solidwax", "ribbon-wax", "ribbonwax", "matte-toner", "mattetoner",
})


def kind_from_ipp_type(marker_type: str, description: str = "") -> str:
    t = marker_type.strip().lower()
    if "waste" in t:
        return WASTE
    if t in _IPP_TONER_TYPES:
        return TONER
    if t in ("", "other", "unknown"):
        return kind_from_words(description)
    return PART


_MANUAL_TRAY = re.compile(r"\b(mp(\s*tray)?|multi[- ]?purpose|manual|bypass|khay tay)\b", re.IGNORECASE)
_ON_REQUEST = 1  # prtInputStatus availability "unavailable and on request" (RFC 3805 SubUnitStatusTC)


def is_manual_tray(name: str, input_type: int | None = None, status: int | None = None) -> bool:
    """A feed normally left empty: sheetFeedManual(5) in prtInputType, a prtInputStatus whose
    availability is "unavailable and on request" (HP's multipurpose "Tray 1"), or a name that
    says so ("MP Tray", "MPTRAY", "Bypass Tray", "Manual Paper")."""
    on_request = status is not None and status >= 0 and status & 0b111 == _ON_REQUEST
    return input_type == 5 or on_request or bool(_MANUAL_TRAY.search(name))
