"""The shared problem vocabulary, IPP attributes to status, and the merged view."""

from __future__ import annotations

import datetime as dt

import pytest

from agent.devices import ipp_status
from agent.devices.printer_status import (
    SourceStatus,
    Supply,
    clean_supply_name,
    kind_from_ipp_type,
    problems_from_ipp_reasons,
    unique_names,
)
from agent.devices.printer_view import merge


@pytest.mark.parametrize(("reasons", "problems"), [
    (["none"], set()),
    (["paused"], {"paused"}),
    (["media-empty-report"], {"media_empty"}),       # ippeveprinter's form
    (["media-empty-error"], {"media_empty"}),
    (["toner-low-warning", "media-jam-error"], {"toner_low", "jammed"}),
    (["offline-report"], {"offline"}),                # CUPS: the printer does not answer
    (["marker-waste-almost-full-report"], set()),
    (["marker-waste-full-error"], {"marker_waste_full"}),
    (["cover-open"], {"door_open"}),
    (["com.vendor-strange-error"], {"other"}),       # unknown error: other
    (["com.vendor-strange-warning"], set()),          # unknown warning: nothing
    (["connecting-to-device"], set()),
    (["cups-missing-filter-warning"], {"other"}),
])
def test_ipp_reasons(reasons, problems):
    assert problems_from_ipp_reasons(reasons) == problems


def test_supply_names_have_no_serial_and_stay_distinct():
    assert clean_supply_name("Black Toner Cartridge S/N:CRUM-17012345678", "x") == "Black Toner Cartridge"
    assert clean_supply_name("Fuser S/N:", "x") == "Fuser"
    assert clean_supply_name("  Hộp   mực\x00 đen ", "x") == "Hộp mực đen"
    assert clean_supply_name("", "supply 3") == "supply 3"
    assert clean_supply_name("SNMP Toner", "x") == "SNMP Toner"
    assert unique_names(["Toner", "Toner", "Drum"]) == ["Toner", "Toner #2", "Drum"]


def test_supply_kinds():
    assert kind_from_ipp_type("toner") == "toner"
    assert kind_from_ipp_type("waste-toner") == "waste"
    assert kind_from_ipp_type("opc") == "part"
    assert kind_from_ipp_type("", "Hộp mực HP 26A") == "toner"


def test_printer_supply_attribute():
    supplies = ipp_status.parse_printer_supply(
        [b"index=1;class=receptacleThatIsFilled;type=wasteToner;unit=percent;maxcapacity=100;level=25;",
         b"index=2;class=supplyThatIsConsumed;type=toner;unit=percent;maxcapacity=100;level=-3;",
         b"garbage without fields"],
        ["Toner Waste Tank", "Black Toner"])
    # PWG 5100.13 printer-supply keeps RFC 3805's meaning: a receptacle's level is the space left
    assert [(s.name, s.kind, s.ratio, s.fill) for s in supplies] == [("Toner Waste Tank", "waste", None, 0.75),
                                                                     ("Black Toner", "toner", None, None),
                                                                     ("supply 3", "part", None, None)]


def test_cups_marker_levels():
    attrs = {"marker-names": ["Black Cartridge", "Tri-color Cartridge"], "marker-levels": [4, -1],
             "marker-types": ["ink-cartridge", "ink-cartridge"], "printer-state": [3]}
    s = ipp_status.status_from_attributes(attrs, "cups")
    assert [(x.name, x.ratio) for x in s.supplies] == [("Black Cartridge", 0.04), ("Tri-color Cartridge", None)]
    # CUPS's marker-levels give a waste unit's fill (its SNMP backend turns the space left round)
    waste = ipp_status.status_from_attributes({"marker-names": ["Waste"], "marker-levels": [95],
                                               "marker-types": ["waste-toner"]}, "cups").supplies[0]
    assert (waste.kind, waste.ratio, waste.fill) == ("waste", None, 0.95)


def test_stopped_printer_with_a_reason_is_not_also_stopped():
    s = ipp_status.status_from_attributes({"printer-state": [5], "printer-state-reasons": ["media-empty-error"]},
                                          "ipp")
    assert s.problems == {"media_empty"}
    s = ipp_status.status_from_attributes({"printer-state": [5], "printer-state-reasons": ["none"]}, "ipp")
    assert s.problems == {"stopped"}


def test_job_age_uses_the_printers_clock():
    job = {"time-at-creation": [1000], "date-time-at-creation": [dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)]}
    assert ipp_status.job_age(job, 1600, now=0) == 600
    assert ipp_status.job_age({"date-time-at-creation": job["date-time-at-creation"]}, None,
                              now=dt.datetime(2020, 1, 1, 0, 10, tzinfo=dt.timezone.utc).timestamp()) == 600


def test_merge_prefers_the_queue_for_state_and_snmp_for_supplies():
    queue = SourceStatus("cups", state="idle", accepting=True, jobs_waiting=2, oldest_job_age=30,
                         supplies=[Supply("Black", "toner", 50, 100)], make_model="Generic PCL")
    snmp = SourceStatus("snmp", state="processing", serial="SN1", reasons=("lowToner",), problems={"toner_low"},
                        supplies=[Supply("Black Toner", "toner", 9, 100)], alerts={"warning": 1})
    ipp = SourceStatus("ipp", reachable=False, error="timed out")
    v = merge("A", [queue, ipp, snmp], supply_low_ratio=0.1, queue_stuck_after=600)
    assert v.up and v.state == "idle" and v.jobs_waiting == 2 and v.serial == "SN1"
    assert [s.name for s in v.supplies] == ["Black Toner"]
    assert v.problems == {"toner_low"}
    assert v.alerts == {"warning": 1}
    assert v.source_label == "cups+ipp+snmp"
    # every network source silent: unreachable, even though the queue answers
    dead = merge("A", [queue, SourceStatus("ipp", reachable=False), SourceStatus("snmp", reachable=False)],
                 supply_low_ratio=0.1, queue_stuck_after=600)
    assert dead.problems == {"unreachable"} and not dead.up
    stuck = merge("A", [queue], supply_low_ratio=0.1, queue_stuck_after=10)
    assert stuck.problems == {"queue_stuck"} and not stuck.up


def test_attributes_of_the_wrong_shape_from_a_printer():
    # found with the fuzz targets (fuzz/targets.py, ipp): a printer-state sent as a collection raised TypeError
    # (unhashable dict), and a device or job URI with a broken IPv6 literal raised ValueError
    attrs = {"printer-state": [{"x": [1]}], "device-uri": ["ipp://[printer/ipp"],
             "printer-state-reasons": ["media-empty-error"]}
    st = ipp_status.status_from_attributes(attrs, "ipp")
    assert (st.state, st.address, st.problems) == ("", "", {"media_empty"})
    assert ipp_status._queue_of({"job-printer-uri": ["ipp://[x/printers/q"]}) == ""
    assert ipp_status._queue_of({"job-printer-uri": ["ipp://localhost/printers/M%C3%A1y"]}) == "Máy"
