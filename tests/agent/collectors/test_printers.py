"""The printers collector against real services on loopback: a cupsd of the test's
own (queues made with lpadmin, paused with cupsdisable, jobs held with lp -H hold),
a real ippeveprinter as a network IPP printer, and snmpsim serving the recordings
of real printers in ../shared/fixtures/snmprec."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
from collector_runs import Run, no_local_cups, printers
from printing import cupsd, dnssd, free_udp_port, ippeveprinter, snmpsim
from support import agent_cmd, free_port, wait_for

from agent.platform.linux import LinuxPlatform
from agent.platform.windows import WindowsPlatform

# --- a cupsd of the test's own ---------------------------------------------------------


@pytest.fixture(scope="module")
def cups(tmp_path_factory):
    with cupsd(tmp_path_factory.mktemp("cupsd")) as c:
        yield c


def cups_config(server: str, extra: str = "", top: str = "") -> str:
    return f"{top}collectors:\n  printers:\n    cups_server: \"{server}\"\n{extra}"


def test_paused_queue_with_a_held_job(cups, tmp_path):
    queue = "Máy_in_một_cửa"
    cups.add_queue(queue, description="Máy in một cửa")
    cups.run("cupsdisable", "-r", "Hết giấy khay 1", queue)
    doc = tmp_path / "don.txt"
    doc.write_text("Đơn đề nghị\n")
    before = time.time()
    cups.run("lp", "-d", queue, "-H", "hold", str(doc))
    time.sleep(2.2)
    collector = printers(cups_config(cups.server), tmp_path)
    run = Run(collector)
    elapsed = time.time() - before
    assert run.ok, run.result.error
    assert run.value("wardwatch_printer_spooler_up") == 1
    assert run.value("wardwatch_printer_up", printer=queue) == 0
    assert run.problems(queue) == {"paused"}
    assert run.labels("wardwatch_printer_state", "state", printer=queue) == {"stopped"}
    assert run.labels("wardwatch_printer_state_reason", "reason", printer=queue) == {"paused"}
    assert run.labels("wardwatch_printer_state_message_info", "message", printer=queue) == {"Hết giấy khay 1"}
    assert run.value("wardwatch_printer_accepting_jobs", printer=queue) == 1
    assert run.value("wardwatch_printer_jobs_waiting", printer=queue) == 1
    age = run.value("wardwatch_printer_oldest_job_age_seconds", printer=queue)
    assert age is not None and 2 <= age <= elapsed + 1
    assert run.labels("wardwatch_printer_info", "source", printer=queue) == {"cups"}

    # enabled again: it prints, the held job still waits (held jobs are not printed)
    cups.run("cupsenable", queue)
    run = Run(collector)
    assert run.value("wardwatch_printer_up", printer=queue) == 1
    assert run.problems(queue) == set()
    assert run.labels("wardwatch_printer_state", "state", printer=queue) == {"idle"}
    assert run.value("wardwatch_printer_jobs_waiting", printer=queue) == 1

    # a job waiting longer than printer_queue_stuck_after: the queue is stuck, which blocks printing
    stuck = printers(cups_config(cups.server, top="thresholds:\n  printer_queue_stuck_after: 1s\n"), tmp_path)
    run = Run(stuck)
    assert run.problems(queue) == {"queue_stuck"}
    assert run.value("wardwatch_printer_up", printer=queue) == 0

    cups.run("cancel", "-a", queue)
    run = Run(collector)
    assert run.value("wardwatch_printer_jobs_waiting", printer=queue) == 0
    assert run.value("wardwatch_printer_oldest_job_age_seconds", printer=queue) == 0


def test_queue_that_refuses_jobs(cups, tmp_path):
    queue = "refusing"
    cups.add_queue(queue)
    cups.run("cupsreject", "-r", "Đang thay mực", queue)
    run = Run(printers(cups_config(cups.server), tmp_path))
    assert run.problems(queue) == {"not_accepting"}
    assert run.value("wardwatch_printer_accepting_jobs", printer=queue) == 0
    assert run.value("wardwatch_printer_up", printer=queue) == 0
    assert run.labels("wardwatch_printer_state", "state", printer=queue) == {"idle"}
    cups.run("cupsaccept", queue)
    run = Run(printers(cups_config(cups.server), tmp_path))
    assert run.problems(queue) == set()
    assert run.value("wardwatch_printer_up", printer=queue) == 1


def test_deleted_queue_is_reported_missing_at_the_next_run(cups, tmp_path):
    queue = "soon_gone"
    cups.add_queue(queue)
    collector = printers(cups_config(cups.server), tmp_path)
    run = Run(collector)
    assert run.value("wardwatch_printer_up", printer=queue) == 1
    cups.run("lpadmin", "-x", queue)
    run = Run(collector)
    assert run.ok
    assert run.value("wardwatch_printer_up", printer=queue) == 0
    assert run.problems(queue) == {"missing"}
    assert run.value("wardwatch_printer_source_up", printer=queue, source="cups") == 0
    # forgotten after forget_after
    forgetful = printers(cups_config(cups.server, "    forget_after: 0s\n"), tmp_path)
    forgetful._known = dict(collector._known)
    time.sleep(0.05)
    assert queue not in Run(forgetful).printers()


def test_no_cups_configured_and_none_reachable_reports_nothing(tmp_path, cups):
    nowhere = LinuxPlatform(cups_sockets=(str(tmp_path / "no.sock"),), cups_ports=(("127.0.0.1", free_port()),))
    run = Run(printers("", tmp_path, nowhere))
    assert run.ok
    assert run.samples == []
    # the same default config finds a CUPS that answers on loopback
    found = LinuxPlatform(cups_sockets=(str(tmp_path / "no.sock"),), cups_ports=(("127.0.0.1", cups.port),))
    cups.add_queue("auto_found")
    run = Run(printers("", tmp_path, found))
    assert run.value("wardwatch_printer_up", printer="auto_found") == 1
    assert run.value("wardwatch_printer_spooler_up") == 1
    # and through CUPS's UNIX socket, which is looked at first
    by_socket = LinuxPlatform(cups_sockets=(cups.socket,), cups_ports=())
    run = Run(printers("", tmp_path, by_socket))
    assert run.ok, run.result.error
    assert run.value("wardwatch_printer_up", printer="auto_found") == 1


def test_cups_that_stops_answering(tmp_path):
    with cupsd(tmp_path) as c:
        c.add_queue("q1")
        collector = printers(cups_config(c.server), tmp_path)
        assert Run(collector).value("wardwatch_printer_up", printer="q1") == 1
    run = Run(collector)  # cupsd is gone
    assert run.ok
    assert run.value("wardwatch_printer_spooler_up") == 0
    assert run.value("wardwatch_printer_up", printer="q1") == 0
    assert run.problems("q1") == {"unreachable"}


# --- ippeveprinter as a network IPP printer ------------------------------------------------


@pytest.fixture(scope="module")
def dns_sd(tmp_path_factory):
    with dnssd(tmp_path_factory.mktemp("dnssd")):
        yield


def ipp_config(name: str, uri: str, extra: str = "") -> str:
    return (f"collectors:\n  printers:\n    local_queues: false\n    printers:\n"
            f"      - name: {json.dumps(name, ensure_ascii=False)}\n        address: 127.0.0.1\n"
            f"        ipp_uri: {uri}\n        snmp: false\n{extra}")


def test_ipp_printer_followed_through_its_states(dns_sd, tmp_path):
    name = 'Máy in "IPP" một cửa'
    slow = tmp_path / "slow-print.sh"
    slow.write_text("#!/bin/sh\nsleep 4\n")
    slow.chmod(0o755)
    with ippeveprinter(tmp_path, command=str(slow)) as printer:
        collector = printers(ipp_config(name, printer.uri), tmp_path)
        run = Run(collector)
        assert run.ok, run.result.error
        assert run.value("wardwatch_printer_up", printer=name) == 1
        assert run.labels("wardwatch_printer_state", "state", printer=name) == {"idle"}
        assert run.labels("wardwatch_printer_info", "make_model", printer=name) == {"Wardwatch Test Laser"}
        assert run.value("wardwatch_printer_source_up", printer=name, source="ipp") == 1
        assert run.problems(name) == set()

        printer.set_supplies(waste=25, toner=5)
        run = Run(collector)
        assert run.value("wardwatch_printer_supply_ratio", printer=name, supply="Black Toner") == pytest.approx(0.05)
        assert run.problems(name) == {"toner_low"}
        assert run.value("wardwatch_printer_up", printer=name) == 1  # low toner still prints

        printer.set_supplies(waste=25, toner=0)
        run = Run(collector)
        assert run.problems(name) == {"toner_empty"}
        assert run.value("wardwatch_printer_up", printer=name) == 0

        printer.set_supplies(waste=25, toner=80)
        printer.set_media_level(0)
        run = Run(collector)
        assert run.problems(name) == {"media_empty"}
        assert "media-empty-report" in run.labels("wardwatch_printer_state_reason", "reason", printer=name)

        # a job being printed: processing
        doc = tmp_path / "job.pwg"
        doc.write_bytes(b"RaS2" + bytes(2000))
        subprocess.run(["ipptool", "-f", str(doc), printer.uri, "print-job.test"], capture_output=True,
                       timeout=30, check=False)
        wait_for(lambda: Run(collector).labels("wardwatch_printer_state", "state", printer=name) == {"processing"},
                 timeout=10, what="the printer to be processing a job")
    run = Run(collector)  # ippeveprinter stopped
    assert run.ok
    assert run.value("wardwatch_printer_up", printer=name) == 0
    assert run.problems(name) == {"unreachable"}
    assert run.value("wardwatch_printer_source_up", printer=name, source="ipp") == 0


def test_queue_and_its_network_printer_are_one_view(dns_sd, cups, tmp_path):
    with ippeveprinter(tmp_path, name="Merged") as printer:
        cups.add_queue("to_ipp", uri=printer.uri)
        cfg = (f"collectors:\n  printers:\n    cups_server: \"{cups.server}\"\n    printers:\n"
               f"      - name: Máy in chung\n        address: 127.0.0.1\n        ipp_uri: {printer.uri}\n"
               f"        snmp: false\n")
        run = Run(printers(cfg, tmp_path))
        assert run.ok, run.result.error
        assert "to_ipp" not in run.printers()  # merged, not listed twice
        assert run.labels("wardwatch_printer_info", "source", printer="Máy in chung") == {"cups+ipp"}
        assert run.value("wardwatch_printer_source_up", printer="Máy in chung", source="cups") == 1
        assert run.value("wardwatch_printer_source_up", printer="Máy in chung", source="ipp") == 1
        assert run.value("wardwatch_printer_jobs_waiting", printer="Máy in chung") == 0
        cups.run("cupsdisable", "-r", "Tạm dừng để bảo trì", "to_ipp")
        run = Run(printers(cfg, tmp_path))
        assert run.problems("Máy in chung") == {"paused"}
        assert run.labels("wardwatch_printer_state_message_info", "message",
                          printer="Máy in chung") == {"Tạm dừng để bảo trì"}
        cups.run("lpadmin", "-x", "to_ipp")


# --- snmpsim serving real printers' recordings -----------------------------------------------


@pytest.fixture(scope="module")
def snmp_port(tmp_path_factory):
    with snmpsim(tmp_path_factory.mktemp("snmpsim")) as port:
        yield port


def snmp_config(port: int, *entries: tuple[str, str, str]) -> str:
    items = "".join(f"      - name: {json.dumps(name, ensure_ascii=False)}\n        address: 127.0.0.1\n"
                    f"        ipp: false\n        snmp_port: {port}\n        community: {community}\n"
                    f"        version: {version}\n"
                    for name, community, version in entries)
    return f"collectors:\n  printers:\n    local_queues: false\n    printers:\n{items}"


# Every recording's expected values: tests/printer_expectations.py, checked in test_printer_recordings.py.


def test_snmp_printer_that_stops_answering_and_a_silent_one(tmp_path):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # takes requests, never answers
    silent.bind(("127.0.0.1", 0))
    try:
        with snmpsim(tmp_path, {"public": "canonprinter_lbp"}) as port:
            cfg = snmp_config(port, ("Canon", "public", "v2c")) + (
                f"      - name: Im lặng\n        address: 127.0.0.1\n        ipp: false\n"
                f"        snmp_port: {silent.getsockname()[1]}\n        snmp_timeout: 0.3\n        snmp_retries: 0\n"
                f"      - name: Sai community\n        address: 127.0.0.1\n        ipp: false\n"
                f"        snmp_port: {port}\n        community: wrong\n        snmp_timeout: 0.3\n"
                f"        snmp_retries: 0\n    device_timeout: 3s\n")
            collector = printers(cfg, tmp_path)
            run = Run(collector)
            assert run.ok, run.result.error
            assert run.value("wardwatch_printer_up", printer="Canon") == 1
            for dead in ("Im lặng", "Sai community"):
                assert run.value("wardwatch_printer_up", printer=dead) == 0
                assert run.problems(dead) == {"unreachable"}
                assert run.value("wardwatch_printer_source_up", printer=dead, source="snmp") == 0
        run = Run(collector)  # snmpsim stopped: reported down at the very next run
        assert run.ok
        assert run.value("wardwatch_printer_up", printer="Canon") == 0
        assert run.problems("Canon") == {"unreachable"}
        assert run.value("wardwatch_printer_source_up", printer="Canon", source="snmp") == 0
        assert not any(s.name == "wardwatch_printer_supply_ratio" for s in run.samples)  # nothing stale
    finally:
        silent.close()


def test_unanswered_udp_port_costs_its_own_timeout_only(snmp_port, tmp_path):
    """Several printers, one that never answers: the others are read, the dead one is
    reported unreachable, and the collection still succeeds."""
    dead_port = free_udp_port()
    entries = [(f"Máy {i}", "canonprinter_lbp", "v2c") for i in range(6)]
    cfg = snmp_config(snmp_port, *entries) + (
        f"      - name: Tắt\n        address: 127.0.0.1\n        ipp: false\n        snmp_port: {dead_port}\n"
        f"        snmp_timeout: 0.5\n        snmp_retries: 0\n    concurrency: 3\n")
    run = Run(printers(cfg, tmp_path))
    assert run.ok
    assert all(run.value("wardwatch_printer_up", printer=f"Máy {i}") == 1 for i in range(6))
    assert run.problems("Tắt") == {"unreachable"}


# --- Windows spooler through the Windows platform (documented Win32_Printer JSON) -------------

SPOOLER_JSON = json.dumps({
    "Printers": [
        {"Name": "HP LaserJet Pro M404 (Một cửa)", "PrinterStatus": 3, "DetectedErrorState": 2,
         "ExtendedDetectedErrorState": 2, "WorkOffline": False, "PrinterState": 0,
         "DriverName": "HP LaserJet Pro M404-M405 PCL 6 (V3)", "PortName": "IP_192.168.1.20", "Local": True,
         "Network": False},
        {"Name": "Canon LBP2900", "PrinterStatus": 7, "DetectedErrorState": 9, "ExtendedDetectedErrorState": 2,
         "WorkOffline": True, "PrinterState": 128, "DriverName": "Canon LBP2900", "PortName": "USB001",
         "Local": True, "Network": False},
    ],
    "Jobs": [{"Name": "Canon LBP2900, 12", "JobId": 12, "StatusMask": 0, "TimeSubmitted": "/Date(1700000000000)/"}],
}, ensure_ascii=False)


def test_windows_spooler_queues(tmp_path):
    platform = WindowsPlatform(run=lambda script: SPOOLER_JSON)
    run = Run(printers("", tmp_path, platform))
    assert run.ok, run.result.error
    hp, canon = "HP LaserJet Pro M404 (Một cửa)", "Canon LBP2900"
    assert run.value("wardwatch_printer_up", printer=hp) == 1
    assert run.value("wardwatch_printer_up", printer=canon) == 0
    # offline (PrinterStatus 7, WorkOffline), and its one job has waited since 2023: stuck
    assert run.problems(canon) == {"offline", "queue_stuck"}
    assert run.labels("wardwatch_printer_state", "state", printer=canon) == {"stopped"}
    assert run.value("wardwatch_printer_jobs_waiting", printer=canon) == 1
    assert run.value("wardwatch_printer_oldest_job_age_seconds", printer=canon) > time.time() - 1700000000 - 5
    assert run.labels("wardwatch_printer_info", "source", printer=hp) == {"windows"}


def test_windows_spooler_stopped(tmp_path):
    def fail(script: str) -> str:
        raise subprocess.CalledProcessError(1, "powershell.exe", stderr="The spooler service is not running.")

    run = Run(printers("", tmp_path, WindowsPlatform(run=fail)))
    assert run.ok
    assert run.value("wardwatch_printer_spooler_up") == 0


# --- config errors, through the real command ----------------------------------------------------


@pytest.mark.parametrize(("body", "where", "message"), [
    ("      - name: a\n        address: ''\n", "test-cfg.yml:6: collectors.printers.printers[0].address",
     "required"),
    ("      - name: a\n        address: x\n      - name: a\n        address: y\n",
     "test-cfg.yml:7: collectors.printers.printers[1].name", "already used"),
    ("      - name: a\n        address: x\n        version: v5\n",
     "test-cfg.yml:7: collectors.printers.printers[0].version", "v1, v2c, v3"),
    ("      - name: a\n        address: x\n        version: v3\n",
     "collectors.printers.printers[0].v3_user", "required with version v3"),
    ("      - name: a\n        address: x\n        version: v3\n        v3_user: u\n",
     "collectors.printers.printers[0].v3_auth_password_file",
     "required with v3_auth_protocol SHA, and not set (or v3_auth_protocol: none)"),
    ("      - name: a\n        address: x\n        version: v3\n        v3_user: u\n"
     "        v3_auth_password_file: {tmp}/short\n",
     "test-cfg.yml:9: collectors.printers.printers[0].v3_auth_password_file", "shorter than 8 characters"),
    ("      - name: a\n        address: x\n        version: v3\n        v3_user: u\n"
     "        v3_auth_password_file: {tmp}/missing\n",
     "test-cfg.yml:9: collectors.printers.printers[0].v3_auth_password_file", "cannot read"),
    ("      - name: a\n        address: x\n        version: v3\n        v3_user: u\n        v3_auth_protocol: none\n",
     "test-cfg.yml:9: collectors.printers.printers[0].v3_auth_protocol", "none cannot go with encryption"),
    ("      - name: a\n        address: x\n        ipp_uri: ftp://x/\n",
     "test-cfg.yml:7: collectors.printers.printers[0].ipp_uri", "not an IPP URI"),
    # found with the fuzz targets (fuzz/targets.py, config): the default IPP URI built from these raised IppError
    # (a traceback at start) or asked another host than the one meant
    ("      - name: a\n        address: '[192.0.2.1'\n", "test-cfg.yml:6: collectors.printers.printers[0].address",
     "not a host name or IP address"),
    ("      - name: a\n        address: 192.0.2.1/x\n", "test-cfg.yml:6: collectors.printers.printers[0].address",
     "not a host name or IP address"),
])
def test_bad_printer_config_is_one_line(tmp_path, body, where, message):
    cfg = tmp_path / "test-cfg.yml"
    (tmp_path / "short").write_text("1234567\n")
    cfg.write_text("collectors:\n  printers:\n    local_queues: false\n    printers:\n"
                   + body.replace("{tmp}", str(tmp_path)))
    r = subprocess.run(agent_cmd("print-config", "--config", str(cfg)), capture_output=True, text=True,
                       timeout=60, cwd=Path(__file__).resolve().parents[3])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert where in lines[0] and message in lines[0]


def test_default_config_asks_no_network_printer(tmp_path):
    c = printers("", tmp_path, no_local_cups())
    assert c.network == []
    assert Run(c).samples == []


def test_configured_queue_that_does_not_exist(cups, tmp_path):
    cfg = (f"collectors:\n  printers:\n    cups_server: \"{cups.server}\"\n    printers:\n"
           f"      - name: Máy in tầng 1\n        address: 127.0.0.1\n        queue: khong_co\n"
           f"        ipp: false\n        snmp: false\n")
    run = Run(printers(cfg, tmp_path))
    assert run.ok
    assert run.value("wardwatch_printer_up", printer="Máy in tầng 1") == 0
    assert run.problems("Máy in tầng 1") == {"missing"}


def test_community_never_in_logs_errors_or_metrics(snmp_port, tmp_path, caplog):
    secret = "s3cr3t-c0mmunity"
    cfg = (f"collectors:\n  printers:\n    local_queues: false\n    device_timeout: 2s\n    printers:\n"
           f"      - name: Máy in\n        address: 127.0.0.1\n        ipp: false\n        snmp_port: {snmp_port}\n"
           f"        community: {secret}\n        snmp_timeout: 0.3\n        snmp_retries: 0\n")
    caplog.set_level("DEBUG")
    collector = printers(cfg, tmp_path)
    run = Run(collector)
    assert run.problems("Máy in") == {"unreachable"}
    assert "did not answer" in caplog.text  # the failure is logged...
    assert secret not in caplog.text         # ...without the community
    assert secret not in repr(run.samples) and secret not in repr(collector.network)


def test_snmpv3_printer_from_the_config(tmp_path, caplog):
    (tmp_path / "auth").write_text("m0t-cua-auth\n")
    (tmp_path / "priv").write_text("m0t-cua-priv\n")
    (tmp_path / "wrong").write_text("sai-mat-khau\n")
    v3 = ["--v3-engine-id=auto", "--v3-user=wardwatch", "--v3-auth-proto=SHA", "--v3-auth-key=m0t-cua-auth",
          "--v3-priv-proto=AES", "--v3-priv-key=m0t-cua-priv"]
    caplog.set_level("DEBUG")
    with snmpsim(tmp_path, {"public": "canonprinter_lbp"}, v3=v3) as port:
        entry = ("      - name: {name}\n        address: 127.0.0.1\n        ipp: false\n        snmp_port: " + str(port)
                 + "\n        version: v3\n        v3_user: wardwatch\n        v3_context: public\n"
                 "        v3_auth_password_file: " + str(tmp_path) + "/{auth}\n"
                 "        v3_priv_password_file: " + str(tmp_path) + "/priv\n        snmp_retries: 0\n")
        cfg = ("collectors:\n  printers:\n    local_queues: false\n    printers:\n"
               + entry.format(name="Máy in Canon", auth="auth") + entry.format(name="Sai mật khẩu", auth="wrong"))
        run = Run(printers(cfg, tmp_path))
    assert run.ok, run.result.error
    assert run.value("wardwatch_printer_up", printer="Máy in Canon") == 1
    assert run.value("wardwatch_printer_supply_ratio", printer="Máy in Canon",
                     supply="Canon Cartridge 719/719H") == pytest.approx(0.7)
    assert run.value("wardwatch_printer_up", printer="Sai mật khẩu") == 0
    assert run.problems("Sai mật khẩu") == {"unreachable"}
    assert "wrong authentication password or protocol (usmStatsWrongDigests)" in caplog.text
    for secret in ("m0t-cua-auth", "m0t-cua-priv", "sai-mat-khau"):
        assert secret not in caplog.text and secret not in repr(run.samples)
