"""Every real printer's recording in ../shared/fixtures/snmprec, served by one snmpsim and read
by the printers collector over SNMP, against what SOURCES.md says it holds
(tests/printer_expectations.py): up or down, the problems, every supply's label, kind,
state and reading, every input tray."""

from __future__ import annotations

import json

import pytest
from collector_runs import Run, printers
from printer_expectations import EXPECTED
from printing import SNMPREC_DIR, snmpsim


@pytest.fixture(scope="module")
def snmp_port(tmp_path_factory):
    with snmpsim(tmp_path_factory.mktemp("snmpsim-all")) as port:
        yield port


def test_every_recording_has_its_expectations():
    assert {p.stem for p in SNMPREC_DIR.glob("*.snmprec")} == set(EXPECTED)


def _config(port: int, version: str) -> str:
    # generous per-request timeouts: snmpsim is one process answering fifteen printers on a loaded machine
    items = "".join(f"      - name: {json.dumps(rec)}\n        address: 127.0.0.1\n        ipp: false\n"
                    f"        snmp_port: {port}\n        community: {rec}\n        version: {version}\n"
                    f"        snmp_timeout: 3s\n        snmp_retries: 1\n"
                    for rec in sorted(EXPECTED))
    return (f"collectors:\n  printers:\n    local_queues: false\n    concurrency: 16\n    device_timeout: 20s\n"
            f"    timeout: 50s\n    printers:\n{items}")


def _by(run: Run, name: str, key: str, printer: str) -> dict[str, float]:
    return {s.labels[key]: s.value for s in run.samples if s.name == name and s.labels["printer"] == printer}


@pytest.fixture(scope="module", params=["v2c", "v1"])
def run(request, snmp_port, tmp_path_factory):
    r = Run(printers(_config(snmp_port, request.param), tmp_path_factory.mktemp("run")), timeout=90)
    assert r.ok, r.result.error
    return r


@pytest.mark.parametrize("recording", sorted(EXPECTED))
def test_recording_over_snmp(run, recording):
    want, p = EXPECTED[recording], recording
    assert run.value("wardwatch_printer_source_up", printer=p, source="snmp") == 1
    assert run.value("wardwatch_printer_up", printer=p) == want["up"]
    assert run.problems(p) == want["problems"]
    assert run.labels("wardwatch_printer_state", "state", printer=p) == want["state"]
    assert run.labels("wardwatch_printer_state_reason", "reason", printer=p) == want["reasons"]
    if "make_model" in want:
        assert run.labels("wardwatch_printer_info", "make_model", printer=p) == {want["make_model"]}
    assert run.labels("wardwatch_printer_info", "serial", printer=p) == {want["serial"]}
    assert run.labels("wardwatch_printer_state_message_info", "message", printer=p) == (
        {want["message"]} if want["message"] else set())
    assert _by(run, "wardwatch_printer_alerts", "severity", p) == want["alerts"]

    states = {s.labels["supply"]: (s.labels["kind"], s.labels["state"]) for s in run.samples
              if s.name == "wardwatch_printer_supply_state" and s.labels["printer"] == p}
    assert states == {label: (kind, state) for label, (kind, state, _, _) in want["supplies"].items()}
    ratios = {label: r for label, (_, _, r, _) in want["supplies"].items() if r is not None}
    assert _by(run, "wardwatch_printer_supply_ratio", "supply", p) == pytest.approx(ratios)
    fills = {label: f for label, (_, _, _, f) in want["supplies"].items() if f is not None}
    assert _by(run, "wardwatch_printer_waste_fill_ratio", "supply", p) == pytest.approx(fills)

    inputs = {s.labels["input"]: (s.labels["state"], s.labels["manual"] == "1") for s in run.samples
              if s.name == "wardwatch_printer_input_state" and s.labels["printer"] == p}
    assert inputs == {name: (state, manual) for name, (state, _, manual) in want["inputs"].items()}
    tray_ratios = {name: r for name, (_, r, _) in want["inputs"].items() if r is not None}
    assert _by(run, "wardwatch_printer_input_ratio", "input", p) == pytest.approx(tray_ratios)
