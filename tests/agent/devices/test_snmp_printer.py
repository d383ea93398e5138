"""Printer-MIB decoding, on its own (the recordings read straight from the .snmprec
files) and bit by bit; snmpsim serves the same files in tests/agent/collectors."""

from __future__ import annotations

import pytest
from printing import SNMPREC_DIR
from snmprec import read_snmprec

from agent.devices import snmp_printer as sp
from agent.devices.printer_status import level_ratio


@pytest.mark.parametrize(("value", "bits"), [
    (b"\x00", []),
    (b"\x80\x00", ["lowPaper"]),              # the Samsung M4080FX recording
    (b"\x40", ["noPaper"]),
    (b"\x20", ["lowToner"]),
    (b"\x10", ["noToner"]),
    (b"\x08", ["doorOpen"]),
    (b"\x04", ["jammed"]),
    (b"\x02", ["offline"]),
    (b"\x01", ["serviceRequested"]),
    (b"\x00\x80", ["inputTrayMissing"]),
    (b"\x00\x04", ["inputTrayEmpty"]),
    (b"\x00\x02", ["overduePreventMaint"]),
    (b"\x00\x01", []),                         # bit 15: not defined by RFC 3805
    (b"\x06\x08", ["jammed", "offline", "outputFull"]),
])
def test_error_state_bits_msb_first(value, bits):
    assert sp.decode_error_state(value) == bits


@pytest.mark.parametrize(("level", "capacity", "ratio"), [
    (70, 100, 0.7),
    (0, 100, 0.0),
    (0, -2, 0.0),       # empty, whatever the capacity
    (-3, -2, None),     # "some remaining": not empty, no number
    (-3, 100, None),
    (-2, 100, None),    # unknown
    (-1, 100, None),    # other / no restriction
    (5, -1, None),      # capacity without limit
    (5, -2, None),      # capacity unknown
    (120, 100, 1.0),    # over the capacity: full
])
def test_level_ratio_special_values(level, capacity, ratio):
    assert level_ratio(level, capacity) == (pytest.approx(ratio) if ratio is not None else None)


def test_brother_recording():
    s = sp.decode(read_snmprec(SNMPREC_DIR / "brother-nc7700w.snmprec"))
    assert s.make_model == "Brother MFC-9970CDW"
    assert s.serial == "U62513L0J132946"
    assert s.problems == set()
    assert s.state == ""  # hrPrinterStatus 1 = other
    assert s.message == "Sleep"
    assert s.alerts == {"other": 1}  # severity 255 is outside the MIB's range
    by_name = {x.name: x for x in s.supplies}
    assert set(by_name) == {"Black Toner Cartridge", "Cyan Toner Cartridge", "Magenta Toner Cartridge",
                            "Yellow Toner Cartridge", "Waste Toner Box", "Belt Unit", "Drum Unit"}
    assert by_name["Black Toner Cartridge"].kind == "toner" and by_name["Black Toner Cartridge"].ratio is None
    assert by_name["Waste Toner Box"].kind == "waste"
    assert by_name["Drum Unit"].ratio == pytest.approx(16805 / 25000)
    trays = {t.name: t for t in s.trays}
    assert trays["MP TRAY"].manual and not trays["TRAY1"].manual
    assert trays["TRAY1"].level == -3 and trays["TRAY1"].ratio is None


def test_samsung_recording():
    s = sp.decode(read_snmprec(SNMPREC_DIR / "samsungprinter_m4080fx.snmprec"))
    assert s.reasons == ("lowPaper",)
    assert s.problems == {"media_low"}
    assert s.serial == ""
    assert [x.name for x in s.supplies][:2] == ["Black Toner Cartridge", "Fuser"]  # "S/N:" cut from the label
    assert {t.name: t.ratio for t in s.trays} == {"Tray 1": pytest.approx(0.1), "MP Tray": 0.0}


def test_canon_recording():
    s = sp.decode(read_snmprec(SNMPREC_DIR / "canonprinter_lbp.snmprec"))
    assert s.make_model == "Canon LBP6670"
    assert [(x.name, x.kind, x.ratio) for x in s.supplies] == [("Canon Cartridge 719/719H", "toner", 0.7)]
    assert s.trays == [] and s.alerts == {}


@pytest.mark.parametrize(("severity", "group", "code", "problem"), [
    (3, 6, 3, "door_open"),           # critical coverOpen
    (3, 13, 8, "jammed"),             # critical jam
    (4, 8, 807, "media_low"),         # warning inputMediaSupplyLow
    (3, 8, 808, "media_empty"),       # critical inputMediaSupplyEmpty
    (4, 11, 1104, "toner_low"),       # warning markerTonerAlmostEmpty
    (3, 11, 1101, "toner_empty"),     # critical markerTonerEmpty
    (3, 11, 1109, "marker_waste_full"),
    (3, 8, 13, "media_empty"),        # subunitEmpty in the input group
    (3, 11, 13, "toner_empty"),       # subunitEmpty in the marker supplies group
    (4, 11, 12, "toner_low"),         # subunitAlmostEmpty in the marker supplies group
    (3, 5, 9999, "alert_critical"),   # a critical alert we do not know: the printer stopped
    (4, 8, 808, "input_empty"),       # inputMediaSupplyEmpty only as a warning: one tray, others feed
    (4, 11, 1101, "toner_low"),       # markerTonerEmpty as a warning: it still prints
    (1, 13, 8, None),                 # a jam of severity other(1): not the printer's complaint
    (4, 5, 9999, None),               # an unknown warning is not a problem
    (255, 255, -1, None),             # the Brother "Sleep" row
    (5, 6, 4, None),                  # coverClosed, a binary change event
])
def test_alert_codes(severity, group, code, problem):
    assert sp.alert_problem(severity, group, code) == problem


def test_target_repr_hides_the_community():
    assert "s3cret" not in repr(sp.Target("10.0.0.5", 161, "s3cret"))
