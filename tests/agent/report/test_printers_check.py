"""`check` for printers, on every real recording (decoded from its file, judged, turned into
samples and rows as a collection does): snapshots in both languages, and what the technician
must read there whatever the wording: every supply that is low, empty or not measured, every
empty tray, by name.

Refresh the snapshots on purpose: WARDWATCH_UPDATE_SNAPSHOTS=1 pytest tests/agent/report/test_printers_check.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from printer_expectations import EXPECTED
from printing import SNMPREC_DIR
from snmprec import read_snmprec

from agent.collectors.base import sample
from agent.collectors.printers import samples
from agent.devices import snmp_printer
from agent.devices.printer_view import merge
from agent.report import printers as printers_report
from agent.report import render_text

SNAPSHOTS = Path(__file__).parent / "snapshots"


def recorded_samples() -> list:
    out = []
    for recording in sorted(EXPECTED):
        status = snmp_printer.decode(read_snmprec(SNMPREC_DIR / f"{recording}.snmprec"))
        view = merge(recording, [status], supply_low_ratio=0.1, queue_stuck_after=900, waste_nearly_full_ratio=0.9)
        out += samples(view, 0.1, 0.9)
    return out


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_check_snapshot(lang):
    text = render_text(printers_report.rows(recorded_samples(), lang), lang, "pc-01")
    path = SNAPSHOTS / f"printers_check_{lang}.txt"
    if os.environ.get("WARDWATCH_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("recording", sorted(EXPECTED))
def test_check_names_every_supply_and_tray_that_needs_a_look(recording, lang):
    want = EXPECTED[recording]
    [row] = [r for r in printers_report.rows(recorded_samples(), lang) if r.key == f"printer:{recording}"]
    assert row.status == ("pass" if want["up"] else "fail")
    for label, (_, state, _, _) in want["supplies"].items():
        if state != "ok":
            assert label in row.detail, (label, state)
    for name, (state, _, manual) in want["inputs"].items():
        if state == "empty" and not manual:
            assert name in row.detail, name
    if want["message"]:
        assert f"“{want['message']}”" in row.detail


def four_inks_at_one_percent() -> list:
    p = "Epson"
    out = [sample("wardwatch_printer_up", 1, printer=p),
           sample("wardwatch_printer_info", 1, printer=p, source="snmp", make_model="Epson L6190", serial=""),
           sample("wardwatch_printer_problem", 1, printer=p, problem="toner_low")]
    for ink in ("Black Ink", "Cyan Ink", "Magenta Ink", "Yellow Ink"):
        out += [sample("wardwatch_printer_supply_ratio", 0.01, printer=p, supply=ink),
                sample("wardwatch_printer_supply_state", 1, printer=p, supply=ink, kind="toner", state="low")]
    return out


def test_every_low_supply_is_named_not_only_three():
    [vi] = printers_report.rows(four_inks_at_one_percent(), "vi")
    assert vi.detail == "sắp hết mực: Black Ink 1%, Cyan Ink 1%, Magenta Ink 1%, Yellow Ink 1%"
    [en] = printers_report.rows(four_inks_at_one_percent(), "en")
    assert en.detail == "toner or ink is low: Black Ink 1%, Cyan Ink 1%, Magenta Ink 1%, Yellow Ink 1%"


def test_waste_nearly_full_with_its_fill_and_an_unreadable_one():
    p = "Ricoh"
    rows = [sample("wardwatch_printer_up", 1, printer=p),
            sample("wardwatch_printer_problem", 1, printer=p, problem="waste_nearly_full"),
            sample("wardwatch_printer_waste_fill_ratio", 0.95, printer=p, supply="Waste Toner Box"),
            sample("wardwatch_printer_supply_state", 1, printer=p, supply="Waste Toner Box", kind="waste",
                   state="nearly_full"),
            sample("wardwatch_printer_supply_state", 1, printer=p, supply="Waste Toner", kind="waste",
                   state="unknown")]
    [en] = printers_report.rows(rows, "en")
    assert en.detail == ("the waste toner box is nearly full: Waste Toner Box 95%; waste unit “Waste Toner”: its "
                         "fill cannot be read (no number, or the printer does not say whether its level is the "
                         "space left or the fill)")
    [vi] = printers_report.rows(rows, "vi")
    assert vi.detail.startswith("hộp mực thải sắp đầy: Waste Toner Box 95%; hộp thải “Waste Toner”: ")
