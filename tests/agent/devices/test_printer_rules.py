"""The decision table (agent.devices.printer_rules.DECISIONS), one case per row, through the
pure functions a collection runs: Printer-MIB columns decoded (snmp_printer.decode), IPP
attributes read (ipp_status.status_from_attributes), and the merged view (printer_view.merge).
The expected problem and up/down of each case are written here from RFC 2790, RFC 3805 and
PWG 5100.9, not read from the table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.devices import ipp_status, printer_rules
from agent.devices import snmp_printer as sp
from agent.devices.printer_status import SourceStatus
from agent.devices.printer_view import PrinterView, merge

Supply = tuple[str, int | None, int | None, int, int]  # description, type, class, max, level
Tray = tuple[str, int | None, int, int, int | None]   # name, type, max, level, status


def snmp(bits: bytes | None = b"\x00", device: int | None = 2, alerts: tuple[tuple[int, int, int], ...] = (),
         supplies: tuple[Supply, ...] = (), trays: tuple[Tray, ...] = ()) -> SourceStatus:
    """What snmp_printer.decode makes of these Printer-MIB rows (printer device 1)."""
    t: dict[tuple[int, ...], list] = {c: [] for c in sp.COLUMNS}
    t[sp.HR_DEVICE_TYPE] = [((1,), sp.HR_DEVICE_PRINTER)]
    if device is not None:
        t[sp.HR_DEVICE_STATUS] = [((1,), device)]
    if bits is not None:
        t[sp.HR_PRINTER_ERROR_STATE] = [((1,), bits)]
    for i, (severity, group, code) in enumerate(alerts, 1):
        t[sp.ALERT_SEVERITY].append(((1, i), severity))
        t[sp.ALERT_GROUP].append(((1, i), group))
        t[sp.ALERT_CODE].append(((1, i), code))
        t[sp.ALERT_DESCR].append(((1, i), f"alert {i}".encode()))
    for i, (descr, stype, sclass, cap, level) in enumerate(supplies, 1):
        t[sp.SUPPLY_DESCR].append(((1, i), descr.encode()))
        t[sp.SUPPLY_MAX].append(((1, i), cap))
        t[sp.SUPPLY_LEVEL].append(((1, i), level))
        if stype is not None:
            t[sp.SUPPLY_TYPE].append(((1, i), stype))
        if sclass is not None:
            t[sp.SUPPLY_CLASS].append(((1, i), sclass))
    for i, (name, itype, cap, level, status) in enumerate(trays, 1):
        t[sp.INPUT_NAME].append(((1, i), name.encode()))
        t[sp.INPUT_MAX].append(((1, i), cap))
        t[sp.INPUT_LEVEL].append(((1, i), level))
        if itype is not None:
            t[sp.INPUT_TYPE].append(((1, i), itype))
        if status is not None:
            t[sp.INPUT_STATUS].append(((1, i), status))
    return sp.decode(t)


def ipp(attrs: dict, source: str = "ipp") -> SourceStatus:
    return ipp_status.status_from_attributes(attrs, source)


def view(*sources: SourceStatus) -> PrinterView:
    return merge("P", list(sources), supply_low_ratio=0.1, queue_stuck_after=600, waste_nearly_full_ratio=0.9)


TONER, WASTE_TONER, DRUM = 3, 4, 9
RECEPTACLE = 4
LOADED = ("Tray 2", 4, 500, 200, 0)

# row id -> (the printer's answers, the problems expected, up expected)
CASES: dict[str, tuple[Callable[[], PrinterView], set[str], bool]] = {
    "unreachable": (lambda: view(SourceStatus("snmp", reachable=False, error="no answer")), {"unreachable"}, False),
    "bit.noPaper": (lambda: view(snmp(b"\x40")), {"media_empty"}, False),
    "bit.noToner": (lambda: view(snmp(b"\x10")), {"toner_empty"}, False),
    "bit.doorOpen": (lambda: view(snmp(b"\x08")), {"door_open"}, False),
    "bit.jammed": (lambda: view(snmp(b"\x04")), {"jammed"}, False),
    "bit.offline": (lambda: view(snmp(b"\x02")), {"offline"}, False),
    "bit.serviceRequested": (lambda: view(snmp(b"\x01", device=None)), {"service_requested"}, False),
    # RFC 3805 §2.2.13.2: warning(3) + serviceRequested is a non-critical alert (the Konica C250i recording)
    "bit.serviceRequested.running": (lambda: view(snmp(b"\x01\x00", device=3)), {"service_requested"}, True),
    "bit.lowPaper": (lambda: view(snmp(b"\x80\x00", device=3)), {"media_low"}, True),
    "bit.lowToner": (lambda: view(snmp(b"\x20")), {"toner_low"}, True),
    "bit.inputTrayEmpty": (lambda: view(snmp(b"\x00\x04")), {"input_empty"}, True),
    "bit.overduePreventMaint": (lambda: view(snmp(b"\x00\x02")), {"service_requested"}, True),
    "bit.other": (lambda: view(snmp(b"\x00\x80")), {"other"}, True),  # inputTrayMissing
    "bit.outputNearFull": (lambda: view(snmp(b"\x00\x10")), set(), True),
    "device.down": (lambda: view(snmp(device=5)), {"stopped"}, False),
    "device.warning": (lambda: view(snmp(device=3)), {"device_warning"}, True),
    "device.running": (lambda: view(snmp(device=2)), set(), True),
    "alert.critical.known": (lambda: view(snmp(alerts=((3, 13, 8),))), {"jammed"}, False),  # critical jam
    "alert.critical.unknown": (lambda: view(snmp(alerts=((3, 5, 9999),))), {"alert_critical"}, False),
    # inputMediaSupplyEmpty(808) only as a warning: a tray, not the printer
    "alert.warning.known": (lambda: view(snmp(alerts=((4, 8, 808),))), {"input_empty"}, True),
    "alert.warning.unknown": (lambda: view(snmp(alerts=((4, 5, 9999),))), set(), True),
    "alert.other": (lambda: view(snmp(alerts=((255, 255, -1), (1, 13, 8)))), set(), True),  # Brother's "Sleep"
    "ipp.reason": (lambda: view(ipp({"printer-state": [3], "printer-state-reasons": ["media-jam-error"]})),
                   {"jammed"}, False),
    "ipp.stopped": (lambda: view(ipp({"printer-state": [5], "printer-state-reasons": ["none"]})), {"stopped"},
                    False),
    "queue.not_accepting": (lambda: view(ipp({"printer-state": [3], "printer-is-accepting-jobs": [False]},
                                             "cups")), {"not_accepting"}, False),
    "queue.stuck": (lambda: view(SourceStatus("cups", state="idle", jobs_waiting=1, oldest_job_age=700.0)),
                    {"queue_stuck"}, False),
    "queue.missing": (lambda: view(SourceStatus("cups", reachable=False, problems={"missing"})), {"missing"},
                      False),
    # the colour laser: "Tray 1" (not named manual) at 0, Tray 2 at -3, error state 00
    "input.one_empty": (lambda: view(snmp(trays=(("Tray 1", 4, 100, 0, 0), ("Tray 2", 4, 500, -3, 0)))),
                        {"input_empty"}, True),
    "input.all_empty": (lambda: view(snmp(trays=(("Tray 1", 4, 500, 0, 0), ("MP Tray", 4, 100, 0, 0)))),
                        {"media_empty"}, False),
    # HP's "Tray 1": prtInputStatus 9 = unavailable and on request (+ non-critical alerts)
    "input.manual_empty": (lambda: view(snmp(trays=(("Tray 1", 4, 100, 0, 9), LOADED))), set(), True),
    "supply.toner_low": (lambda: view(snmp(supplies=(("Black Toner", TONER, 3, 100, 5),))), {"toner_low"}, True),
    # a toner row at 0 while the printer's flags say nothing: reported, not down (brother_hl5370dw)
    "supply.toner_empty": (lambda: view(snmp(supplies=(("Black Toner", TONER, 3, -2, 0),))), {"toner_empty"},
                           True),
    "supply.part_empty": (lambda: view(snmp(supplies=(("Drum Unit", DRUM, 3, 25000, 0),))), {"service_requested"},
                          True),
    "supply.some_remaining": (lambda: view(snmp(supplies=(("Black Toner", TONER, 3, -2, -3),))), set(), True),
    "supply.unknown": (lambda: view(snmp(supplies=(("Fusing Unit", 15, None, -2, -2),))), set(), True),
    # RFC 3805: a receptacle's level is the space left: 5 of 100 left is 95 % full
    "waste.nearly_full": (lambda: view(snmp(supplies=(("Waste Toner Box", WASTE_TONER, RECEPTACLE, 100, 5),))),
                          {"waste_nearly_full"}, True),
    "waste.full": (lambda: view(snmp(supplies=(("Waste Toner Box", WASTE_TONER, RECEPTACLE, 100, 0),))),
                   {"marker_waste_full"}, True),
    # the waste container at 5 / 100 without a class column: 5 % full or 95 % full?
    "waste.direction_unknown": (lambda: view(snmp(supplies=(("Waste Toner", WASTE_TONER, None, 100, 5),))), set(),
                                True),
}


def test_the_docs_print_the_table():
    doc = (Path(__file__).resolve().parents[3] / "docs" / "printers-scanners.md").read_text(encoding="utf-8")
    begin, end = "<!-- decision-table:begin -->\n", "<!-- decision-table:end -->"
    assert doc.split(begin, 1)[1].split(end, 1)[0] == printer_rules.markdown_table(), \
        "docs/printers-scanners.md's decision table is out of date: run python3 scripts/update-readme.py"


def test_every_row_has_a_case():
    assert set(CASES) == set(printer_rules.RULES)


@pytest.mark.parametrize("row", [d.id for d in printer_rules.DECISIONS])
def test_decision_row(row):
    make, problems, up = CASES[row]
    v = make()
    assert v.problems == problems, row
    assert v.up is up, row
    decision = printer_rules.RULES[row]
    assert decision.blocks is (not up), f"{row}: the table says blocks={decision.blocks}"
    if problems and decision.problem and not decision.problem.startswith("("):
        assert problems == {decision.problem}, row


@pytest.mark.parametrize(("trays", "problems", "up"), [
    # an automatic tray that reads unknown (-2) may hold paper: not "every input empty"
    ((("Tray 1", 4, 500, 0, 0), ("Auto Select", 4, -2, -2, 0)), {"input_empty"}, True),
    # only manual feeds, all empty: normal for them
    ((("Manual Feed", 5, 1, 0, 0),), set(), True),
    # a loaded bypass tray feeds paper even when every cassette is empty
    ((("Tray 1", 4, 500, 0, 0), ("Bypass Tray", 4, 100, 40, 0)), {"input_empty"}, True),
    # unnamed trays are named after their index
    ((("", None, 500, 0, None), ("", None, 500, 300, None)), {"input_empty"}, True),
])
def test_inputs_that_can_feed(trays, problems, up):
    v = view(snmp(trays=trays))
    assert (v.problems, v.up) == (problems, up)


def test_unnamed_trays_and_supplies_get_names_from_index_and_type():
    s = snmp(supplies=(("", TONER, 3, 100, 50), ("", 4, None, -2, -3)),
             trays=(("", None, 500, 0, None), ("", None, 500, 300, None)))
    assert [x.name for x in s.supplies] == ["Toner", "Waste Toner"]
    assert [t.name for t in s.trays] == ["Tray 1", "Tray 2"]


def test_warning_status_explained_by_another_problem_is_not_repeated():
    # the Ricoh MP C3002: hrDeviceStatus warning, one cassette empty
    v = view(snmp(device=3, trays=(("Tray 4", 4, 550, 0, None), ("Tray 1", 4, 550, 55, None))))
    assert v.problems == {"input_empty"} and v.up


@pytest.mark.parametrize(("level", "cap", "state"), [
    (50, 100, "ok"), (10, 100, "low"), (0, 100, "empty"), (0, -2, "empty"), (-3, -2, "some_remaining"),
    (9, -2, "some_remaining"), (-2, -2, "unknown"), (-1, 100, "unknown"),
])
def test_consumable_states(level, cap, state):
    s = snmp(supplies=(("Black Toner", TONER, 3, cap, level),)).supplies[0]
    assert printer_rules.supply_state(s, 0.1, 0.9) == state


@pytest.mark.parametrize(("sclass", "level", "cap", "state", "fill"), [
    (RECEPTACLE, 100, 100, "ok", 0.0),          # all space left: empty box
    (RECEPTACLE, 10, 100, "nearly_full", 0.9),
    (RECEPTACLE, 0, -2, "full", 1.0),           # no space left, whatever the capacity
    (RECEPTACLE, -3, -2, "some_remaining", None),
    (RECEPTACLE, -2, 100, "unknown", None),
    (None, 100, 100, "unknown", None),          # the Ricoh's "Waste Toner": no class, either way
    (None, 25000, 25000, "unknown", None),      # the Toshiba's bottle
    (None, 100, -2, "unknown", None),           # the Sharp's
])
def test_receptacle_states(sclass, level, cap, state, fill):
    s = snmp(supplies=(("Waste Toner", WASTE_TONER, sclass, cap, level),)).supplies[0]
    assert s.kind == "waste" and s.ratio is None
    assert printer_rules.supply_state(s, 0.1, 0.9) == state
    assert s.fill == (pytest.approx(fill) if fill is not None else None)


def test_alert_descriptions_are_the_printers_words():
    s = snmp(alerts=((3, 13, 8), (255, 255, -1)))
    assert s.message == "alert 1"  # the critical row's text; the other-severity row is not a complaint
    assert s.alerts == {"critical": 1, "other": 1}
