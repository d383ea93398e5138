"""Windows: CIM/WMI through one PowerShell call, parsed from its JSON.

The parsing functions take the text PowerShell prints, so they are tested on
Linux against documented output (Win32_ComputerSystem, Win32_OperatingSystem,
Win32_BIOS, Win32_Processor as `ConvertTo-Json` renders them).
"""

from __future__ import annotations

import codecs
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import psutil

from agent.platform import Software, SystemInfo

if TYPE_CHECKING:
    from agent.devices.printer_status import SourceStatus
    from agent.devices.scanner_status import ScannerStatus
    from agent.options import Settings

SYSTEM_INFO_PS = (
    "$ErrorActionPreference='Stop';"
    "[pscustomobject]@{"
    "ComputerSystem=(Get-CimInstance Win32_ComputerSystem | Select-Object Name,Manufacturer,Model);"
    "OperatingSystem=(Get-CimInstance Win32_OperatingSystem | Select-Object Caption,Version,BuildNumber);"
    "BIOS=(Get-CimInstance Win32_BIOS | Select-Object SerialNumber);"
    "Processor=@(Get-CimInstance Win32_Processor | Select-Object Name,NumberOfCores,MaxClockSpeed)"
    "} | ConvertTo-Json -Depth 3 -Compress"
)


NETWORK_PS = (
    "$ErrorActionPreference='Stop';"
    "[pscustomobject]@{"
    "Gateway=(Get-NetRoute -DestinationPrefix '0.0.0.0/0' -ErrorAction SilentlyContinue | "
    "Sort-Object RouteMetric | Select-Object -First 1 -ExpandProperty NextHop);"
    "Dns=@(Get-DnsClientServerAddress -AddressFamily IPv4 | Where-Object { $_.ServerAddresses } | "
    "Select-Object -ExpandProperty ServerAddresses)"
    "} | ConvertTo-Json -Depth 3 -Compress"
)


class WindowsParseError(ValueError):
    pass


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:160]


def _first(value: Any) -> dict[str, Any]:
    """ConvertTo-Json renders one object as an object and several as an array."""
    if isinstance(value, list):
        value = value[0] if value else {}
    if not isinstance(value, dict):
        raise WindowsParseError(f"expected an object, got {type(value).__name__}")
    return value


def _text(obj: dict[str, Any], key: str) -> str:
    v = obj.get(key)
    return "" if v is None else str(v).strip()


def _json_object(text: str) -> dict:
    text = text.lstrip("\ufeff").strip()  # Windows PowerShell 5.1 may start UTF-8 output with a BOM
    if not text:
        raise WindowsParseError("PowerShell printed nothing (CIM unavailable or the command was cut off)")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:  # not JSON (truncated, a localized error text), 4300+ digits, too deep
        raise WindowsParseError(f"PowerShell output is not JSON: {_one_line(e)}; it began: {_one_line(text[:60])}") \
            from None
    if not isinstance(doc, dict):
        raise WindowsParseError("PowerShell output is not a JSON object")
    return doc


def parse_system_info(text: str, hostname: str = "") -> SystemInfo:
    doc = _json_object(text)
    cs = _first(doc.get("ComputerSystem") or {})
    os_ = _first(doc.get("OperatingSystem") or {})
    bios = _first(doc.get("BIOS") or {})
    cpu = _first(doc.get("Processor") or {})
    caption = _text(os_, "Caption").removeprefix("Microsoft").strip()  # "Windows 10 Pro"
    serial = _text(bios, "SerialNumber")
    if serial.lower() in ("to be filled by o.e.m.", "default string", "system serial number", "none"):
        serial = ""  # placeholders some vendors leave in the BIOS
    return SystemInfo(
        hostname=_text(cs, "Name") or hostname,
        os_name=caption or "Windows",
        os_version=_text(os_, "Version"),
        os_build=_text(os_, "BuildNumber"),
        vendor=_text(cs, "Manufacturer"),
        model=_text(cs, "Model"),
        serial=serial,
        cpu_model=_text(cpu, "Name"),
    )


def parse_network(text: str) -> tuple[str | None, list[str]]:
    """(default gateway, DNS servers) from NETWORK_PS's JSON; ConvertTo-Json renders a one-element
    array as a bare string and an empty one as null."""
    doc = _json_object(text)
    gateway = doc.get("Gateway")
    if isinstance(gateway, list):
        gateway = gateway[0] if gateway else None
    gateway = str(gateway).strip() if gateway else None
    if gateway == "0.0.0.0":  # an on-link default route has no gateway
        gateway = None
    dns = doc.get("Dns") or []
    if isinstance(dns, str):
        dns = [dns]
    elif not isinstance(dns, list):  # not what ConvertTo-Json makes of a list of addresses
        dns = []
    servers: list[str] = []
    for d in dns:
        if isinstance(d, str) and d.strip() and d.strip() not in servers:
            servers.append(d.strip())
    return gateway, servers


UNINSTALL_KEYS = (
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
    r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
)


# "    <name>    <REG_TYPE>    <data>": fields are separated by four spaces (names may hold spaces).
_REG_VALUE = re.compile(r"^ {4}(.+?) {4}(REG_[A-Z_]+)(?: {4}(.*))?$")


def parse_reg_query(text: str) -> list[Software]:
    """`reg query <Uninstall key> /s` output: a key line ("HKEY_LOCAL_MACHINE\\...\\{GUID}") followed by
    indented "    Name    REG_TYPE    Value" lines. Entries with a DisplayName, not hidden
    (SystemComponent=0x1) and not an update of another product (ParentKeyName), are programs."""
    out: list[Software] = []
    key, values = "", {}

    def flush() -> None:
        name = values.get("DisplayName", "").strip()
        if key and name and values.get("SystemComponent", "0x0") not in ("0x1", "1") \
                and not values.get("ParentKeyName"):
            out.append(Software(name, values.get("DisplayVersion", "").strip(), key.rsplit("\\", 1)[-1]))

    for raw in text.splitlines():
        line = raw.rstrip("\r\n")
        if line.startswith("HKEY_"):
            flush()
            key, values = line.strip(), {}
        elif key:
            m = _REG_VALUE.match(line)
            if m:
                values[m.group(1)] = m.group(3) or ""
    flush()
    return out


class WindowsCommandError(OSError):
    """PowerShell or reg.exe missing, too slow, or failing: one line for the collector's error."""


# Output in UTF-8 whatever the console's code page (a Vietnamese Windows uses 1258): names with
# diacritics survive, and nothing undecodable can stop a collector.
_UTF8_PS = "[Console]::OutputEncoding=[System.Text.Encoding]::UTF8;"


def _console_encoding() -> str:
    """reg.exe prints in the console's OEM code page ("oem" exists on Windows only)."""
    try:
        return codecs.lookup("oem").name
    except LookupError:
        return "utf-8"


def _run(argv: list[str], what: str, timeout: float, encoding: str = "utf-8") -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, encoding=encoding, errors="replace", timeout=timeout,
                              check=False)
    except FileNotFoundError:
        raise WindowsCommandError(f"{what} not found on this PC ({argv[0]})") from None
    except subprocess.TimeoutExpired:
        raise WindowsCommandError(f"{what} did not answer within {timeout:g}s (CIM/WMI busy or hung)") from None
    except OSError as e:
        raise WindowsCommandError(f"{what} could not start: {_one_line(e)}") from None


def run_reg_query(key: str, timeout: float = 30.0) -> str:
    done = _run(["reg.exe", "query", key, "/s"], "reg.exe", timeout, _console_encoding())
    if done.returncode not in (0, 1):  # 1: the key is absent (no 32-bit programs on a 32-bit Windows)
        raise WindowsCommandError(f"reg query {key} failed ({done.returncode}): {_one_line(done.stderr)[:200]}")
    return done.stdout


def run_powershell(script: str, timeout: float = 30.0) -> str:
    done = _run(["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", _UTF8_PS + script],
                "PowerShell", timeout)
    if done.returncode != 0:  # the error text is in the PC's language (e.g. Vietnamese): kept, on one line
        raise WindowsCommandError(f"PowerShell failed (exit {done.returncode}): "
                                  f"{_one_line(done.stderr or done.stdout) or 'no message'}")
    return done.stdout


class WindowsPlatform:
    name = "windows"
    # Starting PowerShell costs a weak PC about a second of CPU; identity rarely changes.
    SYSTEM_INFO_TTL = 3600.0

    def __init__(self, run: Callable[[str], str] = run_powershell,
                 reg_query: Callable[[str], str] = run_reg_query):
        self.run = run
        self._info: tuple[float, SystemInfo] | None = None
        self.reg_query = reg_query

    def system_info(self) -> SystemInfo:
        now = time.monotonic()
        if self._info is None or now - self._info[0] > self.SYSTEM_INFO_TTL:
            self._info = (now, parse_system_info(self.run(SYSTEM_INFO_PS), hostname=socket.gethostname()))
        return self._info[1]

    def system_disk(self) -> str:
        return os.environ.get("SystemDrive", "C:") + "\\"

    def fixed_disks(self) -> list[str]:
        return sorted(p.mountpoint for p in psutil.disk_partitions(all=False) if "fixed" in p.opts)

    def default_state_dir(self) -> str:
        return os.path.join(os.environ.get("ProgramData", r"C:\ProgramData"), "wardwatch")

    def configured(self, config: Settings) -> WindowsPlatform:  # noqa: ARG002 - no setting of its own
        return self

    def print_queues(self, timeout: float) -> dict[str, SourceStatus] | None:  # noqa: ARG002
        """The spooler's queues (PowerShell's own timeout applies)."""
        from agent.platform import windows_devices

        return windows_devices.print_queues(self.run, time.time())

    def local_scanners(self) -> list[ScannerStatus]:
        """WIA scanners."""
        from agent.platform import windows_devices

        return windows_devices.scanners(self.run)

    def default_gateway(self) -> str | None:
        return parse_network(self.run(NETWORK_PS))[0]

    def dns_servers(self) -> list[str]:
        return parse_network(self.run(NETWORK_PS))[1]

    def installed_software(self) -> list[Software]:
        return [s for key in UNINSTALL_KEYS for s in parse_reg_query(self.reg_query(key))]
