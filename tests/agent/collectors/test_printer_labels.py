"""Printer names with Vietnamese diacritics, spaces, quotes and backslashes come
through the exposition intact and correctly escaped (checked by promtool, by
prometheus_client's parser, and by a real Prometheus scraping the agent)."""

from __future__ import annotations

import subprocess

from printing import snmpsim
from prometheus_client.parser import text_string_to_metric_families
from support import agent_cmd, free_port, http_get, need, process, prometheus, prometheus_query, wait_for

from agent.collectors.base import sample
from agent.runner import Result, validate
from exporters.exposition import render

NAMES = ["Máy in Bộ phận Một cửa", 'Máy in "tầng 2"', "Phòng Tư pháp\\Hộ tịch", "Ảnh\nmới"]


def test_names_survive_exposition(tmp_path):
    samples = []
    for n in NAMES:
        samples += [sample("wardwatch_printer_up", 1, printer=n),
                    sample("wardwatch_printer_info", 1, printer=n, source="cups", make_model="Canon LBP 2900",
                           serial=""),
                    sample("wardwatch_printer_supply_ratio", 0.5, printer=n, supply="Hộp mực đen")]
    body = render({"printers": Result(validate(samples), True, 0.1, 1.0, "", 1.0)})
    found = {s.labels["printer"]: s.labels for f in text_string_to_metric_families(body.decode("utf-8"))
             for s in f.samples if s.name == "wardwatch_printer_supply_ratio"}
    assert set(found) == set(NAMES)
    assert all(labels["supply"] == "Hộp mực đen" for labels in found.values())
    assert 'printer="Máy in \\"tầng 2\\""' in body.decode()
    assert 'printer="Phòng Tư pháp\\\\Hộ tịch"' in body.decode()
    r = subprocess.run([need("promtool"), "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()


def test_real_prometheus_scrapes_vietnamese_names(tmp_path):
    """The agent serving a network printer (snmpsim) under a Vietnamese name, scraped by a
    real Prometheus: the series can be selected by that exact name."""
    name = 'Máy in "Bộ phận Một cửa"'
    with snmpsim(tmp_path, {"public": "samsungprinter_m4080fx"}) as snmp_port:
        cfg = tmp_path / "agent.yml"
        cfg.write_text(
            "collectors:\n  hardware:\n    enabled: false\n  scanners:\n    enabled: false\n"
            "  printers:\n    interval: 2s\n    local_queues: false\n    printers:\n"
            f"      - name: '{name}'\n        address: 127.0.0.1\n        ipp: false\n"
            f"        snmp_port: {snmp_port}\n", encoding="utf-8")
        port = free_port()
        with process(agent_cmd("run", "--config", str(cfg), "--listen", f"127.0.0.1:{port}"), port=port,
                     log=tmp_path / "agent.log", timeout=30):
            wait_for(lambda: b"wardwatch_printer_up{" in http_get(f"http://127.0.0.1:{port}/metrics")[1],
                     timeout=20, what="the printer in /metrics")
            with prometheus(tmp_path, [{"job_name": "agent", "static_configs": [
                    {"targets": [f"127.0.0.1:{port}"]}]}]) as base:
                query = 'wardwatch_printer_problem{printer="Máy in \\"Bộ phận Một cửa\\""}'
                result = wait_for(lambda: prometheus_query(base, query), timeout=30, what="the series in Prometheus")
                assert [r["metric"]["problem"] for r in result] == ["media_low"]
                assert result[0]["metric"]["printer"] == name
