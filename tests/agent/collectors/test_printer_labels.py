"""Printer names with Vietnamese diacritics, spaces, quotes and backslashes come
through the exposition intact and correctly escaped (checked by promtool and by
prometheus_client's parser)."""

from __future__ import annotations

import subprocess

from prometheus_client.parser import text_string_to_metric_families
from support import need

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
