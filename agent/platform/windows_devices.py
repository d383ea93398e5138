"""Windows printers (spooler) and scanners (WIA), read with one PowerShell call
each and parsed from the JSON it prints.

Sources, as documented by Microsoft:
- Win32_Printer: PrinterStatus (1 Other, 2 Unknown, 3 Idle, 4 Printing, 5 Warmup,
  6 Stopped Printing, 7 Offline), DetectedErrorState (0 Unknown, 1 Other, 2 No Error,
  3 Low Paper, 4 No Paper, 5 Low Toner, 6 No Toner, 7 Door Open, 8 Jammed, 9 Offline,
  10 Service Requested, 11 Output Bin Full), ExtendedDetectedErrorState (... 9 Service
  Requested, 10 Output Bin Full, 11 Paper Problem, 12 Cannot Print Page, 13 User
  Intervention Required, 14 Out of Memory, 15 Server Unknown), WorkOffline, and
  PrinterState, which in practice carries the spooler's PRINTER_STATUS_* flags
  (MS-RPRN 2.2.3.12).
- Win32_PrintJob: Name ("<printer>, <job id>"), StatusMask (JOB_STATUS_* flags),
  TimeSubmitted (a CIM datetime: "/Date(ms)/" from Windows PowerShell 5.1,
  ISO 8601 from PowerShell 7, or DMTF "yyyymmddHHMMSS.ffffff+UUU").
- WIA.DeviceManager DeviceInfos (Type: 1 scanner, 2 camera, 3 video) and
  Win32_PnPEntity of class Image (ConfigManagerErrorCode 0 = working).

The functions here take that text, so they are tested on Linux against these
formats; nothing else in the agent knows about them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from agent.devices.ipp_status import clean_message
from agent.devices.printer_status import SourceStatus, problems_from_ipp_reasons, stopped_problem
from agent.devices.scanner_status import DEVICE_ERROR, ScannerStatus

PRINTERS_PS = (
    "$ErrorActionPreference='Stop';"
    "$p=@(Get-CimInstance Win32_Printer | Select-Object Name,PrinterStatus,DetectedErrorState,"
    "ExtendedDetectedErrorState,WorkOffline,PrinterState,DriverName,PortName,Local,Network);"
    "$j=@(Get-CimInstance Win32_PrintJob | Select-Object Name,JobId,StatusMask,TimeSubmitted);"
    "[pscustomobject]@{Printers=$p;Jobs=$j} | ConvertTo-Json -Depth 3 -Compress"
)

SCANNERS_PS = (
    "$ErrorActionPreference='Stop';"
    "$w=$null;$e='';"
    "try{$dm=New-Object -ComObject WIA.DeviceManager;"
    "$w=@(foreach($d in $dm.DeviceInfos){$n=@{};foreach($x in $d.Properties){$n[$x.Name]=$x.Value};"
    "[pscustomobject]@{DeviceID=$d.DeviceID;Type=$d.Type;Name=$n['Name'];"
    "Manufacturer=$n['Manufacturer'];Description=$n['Description']}})}catch{$e=$_.Exception.Message};"
    "$p=@(Get-CimInstance Win32_PnPEntity -Filter \"PNPClass='Image'\" | "
    "Select-Object Name,Manufacturer,Status,ConfigManagerErrorCode);"
    "[pscustomobject]@{Wia=$w;WiaError=$e;Pnp=$p} | ConvertTo-Json -Depth 3 -Compress"
)


class WindowsDeviceError(ValueError):
    """PowerShell printed something that is not the documented JSON."""


def _load(text: str) -> dict[str, Any]:
    text = text.lstrip("\ufeff").strip()
    if not text:
        raise WindowsDeviceError("PowerShell printed nothing (spooler/CIM unavailable or the command was cut off)")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:  # not JSON, a number of 4300+ digits, nested too deep
        raise WindowsDeviceError(f"PowerShell output is not JSON: {' '.join(str(e).split())[:160]}") from None
    if not isinstance(doc, dict):
        raise WindowsDeviceError("PowerShell output is not a JSON object")
    return doc


def _list(value: Any) -> list[dict[str, Any]]:
    """ConvertTo-Json renders one object as an object, none as null, several as an array."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [x for x in items if isinstance(x, dict)]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), 10)
        except ValueError:  # not a number ("--3", "²", 4300+ digits)
            return None
    return None


def _str(obj: dict[str, Any], key: str) -> str:
    v = obj.get(key)
    return "" if v is None else " ".join(str(v).split())


# Win32_Printer.PrinterStatus
_PRINTER_STATUS = {3: ("idle", ()), 4: ("processing", ()), 5: ("processing", ()),
                   6: ("stopped", ()), 7: ("stopped", ("offline",))}
# DetectedErrorState and ExtendedDetectedErrorState as IPP printer-state-reasons keywords,
# so that every source shares one mapping to problems.
_DETECTED_ERROR = {3: "media-low", 4: "media-empty", 5: "toner-low", 6: "toner-empty", 7: "door-open",
                   8: "media-jam", 9: "offline", 10: "service-requested", 11: "output-area-full"}
_EXTENDED_ERROR = {3: "media-low", 4: "media-empty", 5: "toner-low", 6: "toner-empty", 7: "door-open",
                   8: "media-jam", 9: "service-requested", 10: "output-area-full", 11: "media-problem",
                   12: "page-punt", 13: "user-intervention-required", 14: "out-of-memory"}
# PRINTER_STATUS_* flags (MS-RPRN 2.2.3.12) carried by Win32_Printer.PrinterState
_STATUS_FLAGS = {
    0x00000001: "paused", 0x00000002: "other", 0x00000008: "media-jam", 0x00000010: "media-empty",
    0x00000040: "media-problem", 0x00000080: "offline", 0x00000800: "output-area-full",
    0x00001000: "offline", 0x00020000: "toner-low", 0x00040000: "toner-empty", 0x00080000: "page-punt",
    0x00100000: "user-intervention-required", 0x00200000: "out-of-memory", 0x00400000: "door-open",
    0x02000000: "offline",
}
_PRINTING_FLAGS = 0x00000400 | 0x00004000 | 0x00000100  # printing, processing, io active
# Win32_PrintJob.StatusMask: printed, deleted, complete: no longer waiting
_JOB_DONE = 0x00000080 | 0x00000100 | 0x00001000

_PORT_ADDRESS = re.compile(r"^(?:IP_)?(\d{1,3}(?:\.\d{1,3}){3})(?:_\d+)?$", re.IGNORECASE)


def printer_reasons(p: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """(state, IPP-style reasons) of one Win32_Printer object."""
    state, reasons = _PRINTER_STATUS.get(_int(p.get("PrinterStatus")) or 0, ("", ()))
    out = list(reasons)
    for table, key in ((_DETECTED_ERROR, "DetectedErrorState"), (_EXTENDED_ERROR, "ExtendedDetectedErrorState")):
        reason = table.get(_int(p.get(key)) or 0)
        if reason:
            out.append(reason)
    flags = _int(p.get("PrinterState")) or 0
    for bit, reason in _STATUS_FLAGS.items():
        if flags & bit:
            out.append(reason)
    if flags & _PRINTING_FLAGS and state in ("", "idle"):
        state = "processing"
    if "paused" in out and state != "stopped":
        state = "stopped"
    if p.get("WorkOffline") is True:
        out.append("offline")
    return state, tuple(dict.fromkeys(out))  # distinct, in order


def parse_cim_datetime(value: Any) -> float | None:
    """Unix time from the three renderings of a CIM datetime (see the module docstring)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        m = re.fullmatch(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/", value.strip())
        if m:
            return int(m.group(1)) / 1000.0
        m = re.fullmatch(r"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)\.(\d{6})([+-])(\d{3})", value.strip())
        if m:
            year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
            offset = dt.timedelta(minutes=int(m.group(9))) * (1 if m.group(8) == "+" else -1)
            return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone(offset)).timestamp()
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.astimezone()  # local time, as Windows shows it
        return parsed.timestamp()
    except (ValueError, OverflowError):  # an impossible date (month 13, year 0, 10**400 ms): unknown, not an error
        return None


def parse_printers(text: str, now: float) -> dict[str, SourceStatus]:
    """The PRINTERS_PS output as one SourceStatus per spooler queue."""
    doc = _load(text)
    jobs: dict[str, list[float | None]] = {}
    for job in _list(doc.get("Jobs")):
        printer, sep, _ = _str(job, "Name").rpartition(",")
        if not sep or (_int(job.get("StatusMask")) or 0) & _JOB_DONE:
            continue
        jobs.setdefault(printer.strip(), []).append(parse_cim_datetime(job.get("TimeSubmitted")))
    out: dict[str, SourceStatus] = {}
    for p in _list(doc.get("Printers")):
        name = str(p.get("Name") or "").strip()
        if not name:
            continue
        state, reasons = printer_reasons(p)
        waiting = jobs.get(name, [])
        ages = [max(0.0, now - t) for t in waiting if t is not None]
        port = _PORT_ADDRESS.match(_str(p, "PortName"))
        problems = problems_from_ipp_reasons(reasons)
        problems |= stopped_problem(state, problems)
        out[name] = SourceStatus(
            source="windows",
            state=state,
            reasons=reasons,
            message=clean_message(", ".join(reasons)),
            problems=problems,
            make_model=_str(p, "DriverName"),
            address=port.group(1) if port else "",
            jobs_waiting=len(waiting),
            oldest_job_age=max(ages) if ages else (0.0 if not waiting else None),
        )
    return out


WIA_SCANNER = 1


def parse_scanners(text: str) -> list[ScannerStatus]:
    """The SCANNERS_PS output: WIA scanners, and imaging devices Windows reports in error."""
    doc = _load(text)
    if doc.get("WiaError"):
        raise WindowsDeviceError(f"WIA is not available: {clean_message(str(doc['WiaError']))}")
    broken = {_str(p, "Name"): p for p in _list(doc.get("Pnp")) if (_int(p.get("ConfigManagerErrorCode")) or 0) != 0}
    out: list[ScannerStatus] = []
    seen: set[str] = set()
    for d in _list(doc.get("Wia")):
        if _int(d.get("Type")) != WIA_SCANNER:
            continue
        name = _str(d, "Name") or _str(d, "DeviceID")
        if not name or name in seen:
            continue
        seen.add(name)
        s = ScannerStatus(name, "wia", vendor=_str(d, "Manufacturer"), model=_str(d, "Description") or name)
        if name in broken:
            s.problems.add(DEVICE_ERROR)
            s.error = f"Windows device error code {_int(broken[name].get('ConfigManagerErrorCode'))}"
        out.append(s)
    for name, p in broken.items():
        if name and name not in seen:
            out.append(ScannerStatus(name, "wia", vendor=_str(p, "Manufacturer"), model=name,
                                     problems={DEVICE_ERROR},
                                     error=f"Windows device error code {_int(p.get('ConfigManagerErrorCode'))}"))
    return out


def print_queues(run: Callable[[str], str], now: float) -> dict[str, SourceStatus]:
    return parse_printers(run(PRINTERS_PS), now)


def scanners(run: Callable[[str], str]) -> list[ScannerStatus]:
    return parse_scanners(run(SCANNERS_PS))
