"""Windows parsing on documented output: CIM classes Win32_ComputerSystem,
Win32_OperatingSystem, Win32_BIOS, Win32_Processor as ConvertTo-Json renders
them (one object -> JSON object; several -> JSON array)."""

import json

import pytest

from agent.platform.windows import SYSTEM_INFO_PS, WindowsParseError, WindowsPlatform, parse_system_info

# The shape printed by SYSTEM_INFO_PS on Windows 10 22H2 (property names and value
# formats as documented for each CIM class).
WIN10 = {
    "ComputerSystem": {"Name": "UBND-PHUCXA-01", "Manufacturer": "Dell Inc.", "Model": "OptiPlex 3080"},
    "OperatingSystem": {"Caption": "Microsoft Windows 10 Pro", "Version": "10.0.19045", "BuildNumber": "19045"},
    "BIOS": {"SerialNumber": "7XK9JL3"},
    "Processor": [{"Name": "Intel(R) Core(TM) i3-10100 CPU @ 3.60GHz", "NumberOfCores": 4, "MaxClockSpeed": 3600}],
}


def test_windows_10():
    info = parse_system_info(json.dumps(WIN10))
    assert info.hostname == "UBND-PHUCXA-01"
    assert info.os_name == "Windows 10 Pro"
    assert info.os_version == "10.0.19045"
    assert info.os_build == "19045"
    assert (info.vendor, info.model, info.serial) == ("Dell Inc.", "OptiPlex 3080", "7XK9JL3")
    assert info.cpu_model == "Intel(R) Core(TM) i3-10100 CPU @ 3.60GHz"
    assert info.os_string.startswith("Windows 10")


def test_windows_11_single_processor_object_and_placeholder_serial():
    doc = dict(WIN10, OperatingSystem={"Caption": "Microsoft Windows 11 Pro", "Version": "10.0.22631",
                                       "BuildNumber": "22631"},
               BIOS={"SerialNumber": "To be filled by O.E.M."},
               Processor={"Name": "AMD Ryzen 3 3200G", "NumberOfCores": 4, "MaxClockSpeed": 3600})
    info = parse_system_info(json.dumps(doc))
    assert info.os_name == "Windows 11 Pro"
    assert info.serial == ""
    assert info.cpu_model == "AMD Ryzen 3 3200G"


def test_missing_parts_fall_back():
    info = parse_system_info(json.dumps({"OperatingSystem": {"Caption": None}}), hostname="fallback")
    assert info.hostname == "fallback"
    assert info.os_name == "Windows"
    assert info.vendor == ""


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"ComputerSystem": 5}'])
def test_bad_output_is_a_clear_error(text):
    with pytest.raises(WindowsParseError):
        parse_system_info(text)


def test_platform_runs_the_documented_script():
    seen = []

    def run(script):
        seen.append(script)
        return json.dumps(WIN10)

    info = WindowsPlatform(run=run).system_info()
    assert seen == [SYSTEM_INFO_PS]
    assert "Get-CimInstance Win32_OperatingSystem" in seen[0] and "ConvertTo-Json" in seen[0]
    assert info.model == "OptiPlex 3080"


def test_system_info_is_cached_between_collections():
    calls = []

    def run(script):
        calls.append(script)
        return json.dumps(WIN10)

    platform = WindowsPlatform(run=run)
    platform.system_info()
    platform.system_info()
    assert len(calls) == 1
    platform._info = (platform._info[0] - platform.SYSTEM_INFO_TTL - 1, platform._info[1])
    platform.system_info()
    assert len(calls) == 2
