"""Windows' uninstall registry as `reg query <key> /s` prints it (documented format:
key paths, then four-space-separated "name  REG_TYPE  data" lines)."""

from __future__ import annotations

from agent.platform import Software
from agent.platform.windows import UNINSTALL_KEYS, WindowsPlatform, parse_reg_query

REG = (
    "\r\n"
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\CitrixOnlinePluginPackWeb\r\n"
    "    DisplayName    REG_SZ    Citrix Workspace 2405\r\n"
    "    DisplayVersion    REG_SZ    24.5.0.76\r\n"
    "    Publisher    REG_SZ    Citrix Systems, Inc.\r\n"
    "    EstimatedSize    REG_DWORD    0x7a120\r\n"
    "    Inno Setup: App Path    REG_SZ    C:\\Program Files (x86)\\Citrix\r\n"
    "\r\n"
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{0A1B2C3D-0000-4000-8000-000000000001}\r\n"
    "    DisplayName    REG_SZ    Citrix Workspace Inside\r\n"
    "    SystemComponent    REG_DWORD    0x1\r\n"
    "\r\n"
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\KB5034441\r\n"
    "    DisplayName    REG_SZ    Security Update for Citrix Workspace\r\n"
    "    ParentKeyName    REG_SZ    CitrixOnlinePluginPackWeb\r\n"
    "\r\n"
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\NoName\r\n"
    "    UninstallString    REG_SZ    C:\\x.exe\r\n"
    "\r\n"
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{B7F2D3A1-5C4E-4F6A-9B8D-1E2F3A4B5C6D}\r\n"
    "    DisplayName    REG_SZ    Omnissa Horizon Client\r\n"
    "    DisplayVersion    REG_SZ    8.13.0.9995\r\n"
    "    NoModify    REG_DWORD    0x1\r\n"
)


def test_parse_reg_query():
    assert parse_reg_query(REG) == [
        Software("Citrix Workspace 2405", "24.5.0.76", "CitrixOnlinePluginPackWeb"),
        Software("Omnissa Horizon Client", "8.13.0.9995", "{B7F2D3A1-5C4E-4F6A-9B8D-1E2F3A4B5C6D}"),
    ]
    assert parse_reg_query("") == []


def test_platform_reads_both_uninstall_keys():
    asked = []

    def reg_query(key: str) -> str:
        asked.append(key)
        return REG if "WOW6432Node" not in key else ""

    p = WindowsPlatform(run=lambda s: "{}", reg_query=reg_query)
    assert [s.name for s in p.installed_software()] == ["Citrix Workspace 2405", "Omnissa Horizon Client"]
    assert asked == list(UNINSTALL_KEYS)
