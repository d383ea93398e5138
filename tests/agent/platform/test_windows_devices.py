"""Windows spooler and WIA parsing, on the JSON PowerShell prints for the documented
classes (Win32_Printer, Win32_PrintJob, WIA.DeviceManager, Win32_PnPEntity)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from agent.platform import windows_devices as wd

NOW = dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))).timestamp()


def printer(**fields) -> dict:
    base = {"Name": "Máy in Một cửa", "PrinterStatus": 3, "DetectedErrorState": 2, "ExtendedDetectedErrorState": 2,
            "WorkOffline": False, "PrinterState": 0, "DriverName": "HP Universal Printing PCL 6",
            "PortName": "IP_192.168.1.20", "Local": True, "Network": False}
    return {**base, **fields}


def parse(printers, jobs=None) -> dict:
    return wd.parse_printers(json.dumps({"Printers": printers, "Jobs": jobs}, ensure_ascii=False), NOW)


def test_idle_printer_one_object_not_a_list():
    # ConvertTo-Json renders a single printer as an object, and no jobs as null
    queues = parse(printer())
    q = queues["Máy in Một cửa"]
    assert (q.state, q.problems, q.jobs_waiting, q.oldest_job_age) == ("idle", set(), 0, 0.0)
    assert q.address == "192.168.1.20" and q.make_model == "HP Universal Printing PCL 6"


@pytest.mark.parametrize(("fields", "state", "problems"), [
    ({"PrinterStatus": 4, "PrinterState": 1024}, "processing", set()),
    ({"PrinterStatus": 7}, "stopped", {"offline"}),
    ({"WorkOffline": True}, "idle", {"offline"}),
    ({"PrinterStatus": 1, "PrinterState": 1}, "stopped", {"paused"}),
    ({"DetectedErrorState": 4}, "idle", {"media_empty"}),
    ({"DetectedErrorState": 3}, "idle", {"media_low"}),
    ({"DetectedErrorState": 8}, "idle", {"jammed"}),
    ({"DetectedErrorState": 7}, "idle", {"door_open"}),
    ({"DetectedErrorState": 5, "ExtendedDetectedErrorState": 5}, "idle", {"toner_low"}),
    ({"ExtendedDetectedErrorState": 6}, "idle", {"toner_empty"}),
    ({"ExtendedDetectedErrorState": 9}, "idle", {"service_requested"}),
    ({"ExtendedDetectedErrorState": 13}, "idle", {"other"}),
    ({"PrinterState": 0x10 | 0x8}, "idle", {"media_empty", "jammed"}),
    ({"PrinterState": 0x400000}, "idle", {"door_open"}),
    ({"PrinterState": 0x20000}, "idle", {"toner_low"}),
    ({"PrinterStatus": 6}, "stopped", {"stopped"}),
    ({"PrinterStatus": 2, "DetectedErrorState": 0}, "", set()),
])
def test_states_and_problems(fields, state, problems):
    q = parse([printer(**fields)])["Máy in Một cửa"]
    assert (q.state, q.problems) == (state, problems)


@pytest.mark.parametrize("submitted", [
    "/Date(1709517000000)/",                 # Windows PowerShell 5.1
    "2024-03-04T08:50:00+07:00",             # PowerShell 7
    "20240304085000.000000+420",             # CIM DMTF datetime
])
def test_jobs_and_their_age(submitted):
    jobs = [{"Name": "Máy in Một cửa, 12", "JobId": 12, "StatusMask": 8, "TimeSubmitted": submitted},
            {"Name": "Máy in Một cửa, 13", "JobId": 13, "StatusMask": 128, "TimeSubmitted": submitted},  # printed
            {"Name": "Other, 1", "JobId": 1, "StatusMask": 0, "TimeSubmitted": submitted}]
    q = parse([printer()], jobs)["Máy in Một cửa"]
    assert q.jobs_waiting == 1
    assert q.oldest_job_age == pytest.approx(600)


def test_not_json_or_not_documented():
    with pytest.raises(wd.WindowsDeviceError):
        wd.parse_printers("Get-CimInstance : Access denied", NOW)
    with pytest.raises(wd.WindowsDeviceError):
        wd.parse_printers("[1, 2]", NOW)
    assert wd.parse_printers("\ufeff" + json.dumps({"Printers": None, "Jobs": None}), NOW) == {}


def test_wia_devices():
    doc = {"Wia": {"DeviceID": "{6BDD1FC6-810F-11D0-BEC7-08002BE2092F}\\0000", "Type": 1,
                   "Name": "HP Scanjet Pro 2500 f1", "Manufacturer": "HP", "Description": "HP Scanjet Pro 2500 f1"},
           "WiaError": "", "Pnp": [{"Name": "HP Scanjet Pro 2500 f1", "Manufacturer": "HP", "Status": "Error",
                                    "ConfigManagerErrorCode": 10}]}
    [s] = wd.parse_scanners(json.dumps(doc))
    assert (s.name, s.vendor, s.source, s.up, s.problems) == ("HP Scanjet Pro 2500 f1", "HP", "wia", False,
                                                               {"device_error"})
    assert "10" in s.error
    doc["Pnp"] = None
    [s] = wd.parse_scanners(json.dumps(doc))
    assert s.up and s.problems == set()


@pytest.mark.parametrize("value", [
    "20241399083000.000000+420",    # month 13 (found with the fuzz targets: strptime's ValueError leaked)
    "00000304085000.000000+420",    # year 0
    "2024030408500.0000000+420",    # digits in the wrong places
    "/Date(" + "9" * 400 + ")/",    # beyond a float (OverflowError)
    "/Date(" + "9" * 5000 + ")/",   # beyond Python's int parsing limit
    "0001-01-01T00:00:00",          # local time before the epoch's range on some platforms
])
def test_impossible_cim_datetimes_are_unknown(value):
    assert wd.parse_cim_datetime(value) is None or wd.parse_cim_datetime(value) < 0


@pytest.mark.parametrize("status", ["--3", "²", "3" * 5000, " 7 "])
def test_numbers_as_text_that_are_not_numbers(status):
    # found with the fuzz targets: "--3" and "²" passed str.isdigit() and crashed int()
    q = parse([printer(PrinterStatus=status)])["Máy in Một cửa"]
    assert q.state == ("stopped" if status == " 7 " else "")


@pytest.mark.parametrize("text", ["[" * 100000, '{"Printers": ' + "1" * 5000 + "}"])
def test_json_nested_too_deep_or_huge_numbers_are_refused(text):
    # found with the fuzz targets: RecursionError and int's digit limit are not JSONDecodeError
    with pytest.raises(wd.WindowsDeviceError, match="not JSON"):
        wd.parse_printers(text, NOW)
    with pytest.raises(wd.WindowsDeviceError, match="not JSON"):
        wd.parse_scanners(text)
