"""The Windows collectors when PowerShell/CIM is missing, slow, failing or prints empty,
truncated or localized (Vietnamese) output: always one clear error, never a crash or a
UnicodeDecodeError. PowerShell and reg.exe are stood in for by small scripts of the same
name on PATH (a live Windows host is not available here; docs/windows-service.md)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from agent.platform import windows as w
from agent.platform import windows_devices as wd

WIN11 = {
    "ComputerSystem": {"Name": "UBND-HANGBAC-02", "Manufacturer": "HP", "Model": "HP ProDesk 400 G7"},
    "OperatingSystem": {"Caption": "Microsoft Windows 11 Pro", "Version": "10.0.22631", "BuildNumber": "22631"},
    "BIOS": {"SerialNumber": "8CC1234XYZ"},
    "Processor": {"Name": "Intel(R) Core(TM) i5-10500 CPU @ 3.10GHz", "NumberOfCores": 6, "MaxClockSpeed": 3096},
}
# What Get-CimInstance prints to stderr on a Vietnamese Windows when WMI is broken (the text is
# localized; the exit code is not).
VI_ERROR = "Get-CimInstance : Lớp không hợp lệ \r\nTại dòng:1 ký tự:1\r\n+ CategoryInfo : InvalidType"


def fake(tmp_path: Path, monkeypatch, name: str, script: str) -> None:
    """An executable `name` on PATH running `script` (sh)."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    exe = bindir / name
    exe.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


def test_powershell_missing_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    assert shutil.which("powershell.exe") is None
    with pytest.raises(w.WindowsCommandError, match=r"^PowerShell not found on this PC \(powershell.exe\)$"):
        w.run_powershell(w.SYSTEM_INFO_PS)
    with pytest.raises(w.WindowsCommandError, match="reg.exe not found"):
        w.run_reg_query(w.UNINSTALL_KEYS[0])


def test_powershell_too_slow_is_cut_off_with_a_clear_error(monkeypatch, tmp_path):
    fake(tmp_path, monkeypatch, "powershell.exe", "exec sleep 30")
    with pytest.raises(w.WindowsCommandError, match=r"did not answer within 0.3s"):
        w.run_powershell(w.SYSTEM_INFO_PS, timeout=0.3)


def test_a_failing_cim_call_keeps_its_vietnamese_message_on_one_line(monkeypatch, tmp_path):
    (tmp_path / "err.txt").write_text(VI_ERROR, encoding="utf-8")
    fake(tmp_path, monkeypatch, "powershell.exe", f"cat '{tmp_path / 'err.txt'}' >&2; exit 1")
    with pytest.raises(w.WindowsCommandError) as e:
        w.run_powershell(w.SYSTEM_INFO_PS)
    assert str(e.value).startswith("PowerShell failed (exit 1): Get-CimInstance : Lớp không hợp lệ Tại dòng:1")
    assert "\n" not in str(e.value)


def test_the_script_asks_for_utf8_and_undecodable_bytes_do_not_crash(monkeypatch, tmp_path):
    (tmp_path / "args").touch()
    fake(tmp_path, monkeypatch, "powershell.exe",
         f"printf '%s' \"$*\" > '{tmp_path / 'args'}'; printf '\\377\\376{{\"ComputerSystem\": \\351}}'")
    out = w.run_powershell(w.SYSTEM_INFO_PS)
    assert "[Console]::OutputEncoding=[System.Text.Encoding]::UTF8;" in (tmp_path / "args").read_text()
    with pytest.raises(w.WindowsParseError, match="not JSON"):
        w.parse_system_info(out)


def test_the_platform_runs_powershell_and_parses_windows_11(monkeypatch, tmp_path):
    (tmp_path / "out.json").write_text("\ufeff" + json.dumps(WIN11), encoding="utf-8")  # PowerShell 5.1's BOM
    fake(tmp_path, monkeypatch, "powershell.exe", f"cat '{tmp_path / 'out.json'}'")
    info = w.WindowsPlatform().system_info()
    assert (info.os_name, info.os_build, info.model) == ("Windows 11 Pro", "22631", "HP ProDesk 400 G7")


@pytest.mark.parametrize(("text", "message"), [
    ("", "printed nothing"),
    ("\r\n  \r\n", "printed nothing"),
    (json.dumps(WIN11)[:57], "not JSON"),  # cut off mid-way (the timeout killed it, a full pipe)
    (VI_ERROR, "it began: Get-CimInstance : Lớp không hợp lệ"),  # an error printed where JSON was expected
])
def test_system_info_on_empty_truncated_or_localized_output(text, message):
    with pytest.raises(w.WindowsParseError, match=message):
        w.parse_system_info(text)


@pytest.mark.parametrize("text", ["", '{"Printers": [{"Name": "HP LaserJet", "PrinterSt', VI_ERROR, "[]"])
def test_printers_on_empty_truncated_or_localized_output(text):
    with pytest.raises(wd.WindowsDeviceError):
        wd.parse_printers(text, 0.0)


@pytest.mark.parametrize("text", ["", '{"Wia": [{"DeviceID": "{6BDD1FC6-810F', VI_ERROR])
def test_scanners_on_empty_truncated_or_localized_output(text):
    with pytest.raises(wd.WindowsDeviceError):
        wd.parse_scanners(text)


def test_wia_service_stopped_on_a_vietnamese_windows_is_a_clear_error():
    doc = {"Wia": None, "WiaError": "Không thể tạo thành phần ActiveX.", "Pnp": None}
    with pytest.raises(wd.WindowsDeviceError, match="WIA is not available: Không thể tạo thành phần ActiveX."):
        wd.parse_scanners(json.dumps(doc, ensure_ascii=False))


def test_no_printer_and_no_job_is_an_empty_spooler_not_an_error():
    # Get-CimInstance returns nothing: @() renders as [], a $null property as null.
    assert wd.parse_printers('{"Printers":[],"Jobs":null}', 0.0) == {}


def test_a_vietnamese_printer_with_a_waiting_job():
    doc = {"Printers": {"Name": "Máy in tầng 1", "PrinterStatus": 3, "DetectedErrorState": 2,
                        "PrinterState": 0, "DriverName": "Canon LBP2900", "PortName": "USB001"},
           "Jobs": {"Name": "Máy in tầng 1, 7", "JobId": 7, "StatusMask": 0, "TimeSubmitted": "/Date(1709517600000)/"}}
    q = wd.parse_printers(json.dumps(doc, ensure_ascii=False), 1709517600.0 + 90)["Máy in tầng 1"]
    assert (q.jobs_waiting, q.oldest_job_age, q.address) == (1, 90.0, "")


REG_VI = (
    "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{B7F2D3A1}\r\n"
    "    DisplayName    REG_SZ    Phần mềm Một cửa điện tử\r\n"
    "    DisplayVersion    REG_SZ    2.4.1\r\n"
    "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\CitrixOnlinePluginPackWeb\r\n"
    "    DisplayName    REG_SZ    Citrix Workspace 2405\r\n"
    "    DisplayVersion    REG_SZ    24.5.0.76\r\n"
    "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\KB50345\r\n"
    "    DisplayName    REG_SZ    Bản cập nhật bảo mật\r\n"
    "    ParentKeyName    REG_SZ    OperatingSystem\r\n"
)


def test_installed_software_on_a_vietnamese_windows_and_a_truncated_listing():
    names = [(s.name, s.version) for s in w.parse_reg_query(REG_VI)]
    assert names == [("Phần mềm Một cửa điện tử", "2.4.1"), ("Citrix Workspace 2405", "24.5.0.76")]
    cut = REG_VI[:REG_VI.index("24.5.0.76") + 4]  # the listing stops mid-value
    assert [s.name for s in w.parse_reg_query(cut)][:2] == ["Phần mềm Một cửa điện tử", "Citrix Workspace 2405"]
    assert w.parse_reg_query("") == []
    # reg.exe's "key not found" in Vietnamese (exit 1) holds no key line: nothing, not an error.
    assert w.parse_reg_query("LỖI: Hệ thống không thể tìm thấy khóa hoặc giá trị đăng ký đã chỉ định.\r\n") == []
