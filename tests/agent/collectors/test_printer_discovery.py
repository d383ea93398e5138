"""Printer discovery on a subnet: snmpsim as three devices on loopback addresses of one
/29 (two printers from the recordings, one SNMP agent that is no printer), the rest of
the subnet silent; a printer already configured is not found twice."""

from __future__ import annotations

import contextlib

import pytest
from collector_runs import Run, printers
from printing import free_udp_port, snmpsim

from agent import config

ROUTER = "\n".join([  # an SNMP agent with the system group only: a router, not a printer
    "1.3.6.1.2.1.1.1.0|4|MikroTik RouterOS",
    "1.3.6.1.2.1.1.5.0|4|router",
    "1.3.6.1.2.1.25.3.2.1.2.1|6|1.3.6.1.2.1.25.3.1.4",  # hrDeviceNetwork
    "1.3.6.1.2.1.31.1.1.1.1.1|4|ether1",
]) + "\n"


def discovery(port: int, subnets: str = "[127.0.0.0/29]", extra: str = "") -> str:
    return ("collectors:\n  printers:\n    local_queues: false\n" + extra
            + f"    discovery:\n      enabled: true\n      subnets: {subnets}\n      snmp_port: {port}\n"
            f"      timeout: 0.5s\n")


def test_printers_found_on_the_subnet_are_asked_like_configured_ones(tmp_path):
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "router.snmprec").write_text(ROUTER)
    port = free_udp_port()
    with contextlib.ExitStack() as stack:
        stack.enter_context(snmpsim(tmp_path / "a", {"public": "canonprinter_lbp"}, host="127.0.0.2", port=port))
        stack.enter_context(snmpsim(tmp_path / "b", {"public": "samsungprinter_m4080fx"}, host="127.0.0.3",
                                    port=port))
        stack.enter_context(snmpsim(tmp_path / "c", {"public": "router"}, host="127.0.0.5", port=port,
                                    recordings_dir=tmp_path / "rec"))
        configured = ("    printers:\n      - name: Máy in Samsung\n        address: 127.0.0.3\n        ipp: false\n"
                      f"        snmp_port: {port}\n")
        collector = printers(discovery(port, extra=configured), tmp_path)
        run = Run(collector)
        assert run.ok, run.result.error
        up = {s.labels["printer"]: s.value for s in run.samples if s.name == "wardwatch_printer_up"}
        assert up == {"Máy in Samsung": 1, "127.0.0.2": 1}  # not the router, not the Samsung twice
        assert run.value("wardwatch_printers_discovered") == 1
        # the Canon's recording: prtMarkerSuppliesLevel 70 of 100, serial MKRA012345
        assert run.value("wardwatch_printer_supply_ratio", printer="127.0.0.2",
                         supply="Canon Cartridge 719/719H") == pytest.approx(0.7)
        assert run.labels("wardwatch_printer_info", "serial", printer="127.0.0.2") == {"MKRA012345"}

    # Between scans the printers found are still asked: snmpsim gone, the Canon is down at once.
    run = Run(collector)
    assert run.ok
    assert run.value("wardwatch_printer_up", printer="127.0.0.2") == 0
    assert run.problems("127.0.0.2") == {"unreachable"}
    assert run.value("wardwatch_printers_discovered") == 1


def test_discovery_is_off_by_default_and_asks_nothing(tmp_path):
    run = Run(printers("collectors:\n  printers:\n    local_queues: false\n", tmp_path))
    assert run.ok
    assert not any(s.name == "wardwatch_printers_discovered" for s in run.samples)
    assert config.loads("", source="t.yml").collectors["printers"].discovery.enabled is False


@pytest.mark.parametrize(("subnets", "line", "message"), [
    ("[10.0.0.0/16]", 6, "collectors.printers.discovery.subnets: 65536 addresses in all, more than "
                         "max_addresses (256)"),
    ("[192.168.1.0/25, 192.168.2.0/25, 192.168.3.0/30]", 6, "260 addresses in all, more than max_addresses (256)"),
    ("[192.168.1.300/24]", 6, "not a network in CIDR form (e.g. 192.168.1.0/24): '192.168.1.300/24'"),
    ("[]", 6, "discovery is enabled but no subnet is listed"),
])
def test_unbounded_or_bad_subnets_are_one_line_errors(subnets, line, message):
    with pytest.raises(config.ConfigError) as e:
        config.loads(discovery(161, subnets), source="agent.yml")
    assert str(e.value).startswith(f"agent.yml:{line}: ")
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_a_scan_that_cannot_end_within_the_collectors_timeout_is_refused():
    # 256 addresses, 64 at a time, 10 s each: 40 s, and the collector is cut off after 30 s
    text = discovery(161, "[192.168.1.0/24]").replace("      timeout: 0.5s\n", "      timeout: 10s\n")
    with pytest.raises(config.ConfigError) as e:
        config.loads(text, source="agent.yml")
    assert str(e.value) == ("agent.yml:5: collectors.printers.discovery: a scan of 256 addresses can take 40 s "
                            "(timeout x ceil(addresses / 64)), not less than the collector's timeout (30 s): "
                            "lower discovery.timeout or raise collectors.printers.timeout")
    config.loads(text.replace("  printers:\n", "  printers:\n    timeout: 45s\n", 1), source="agent.yml")
