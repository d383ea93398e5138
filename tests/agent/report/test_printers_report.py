"""Check rows for printers and scanners, in Vietnamese and English."""

from __future__ import annotations

from agent.collectors.base import sample
from agent.report import FAIL, PASS, render_text
from agent.report import printers as printers_report
from agent.report import scanners as scanners_report

NAME = "Máy in một cửa"


def paused_printer():
    return [
        sample("wardwatch_printer_up", 0, printer=NAME),
        sample("wardwatch_printer_info", 1, printer=NAME, source="cups", make_model="HP LaserJet M404", serial=""),
        sample("wardwatch_printer_problem", 1, printer=NAME, problem="paused"),
        sample("wardwatch_printer_problem", 1, printer=NAME, problem="toner_low"),
        sample("wardwatch_printer_state", 1, printer=NAME, state="stopped"),
        sample("wardwatch_printer_state_message_info", 1, printer=NAME, message="Hết giấy khay 1"),
        sample("wardwatch_printer_jobs_waiting", 2, printer=NAME),
        sample("wardwatch_printer_oldest_job_age_seconds", 3900, printer=NAME),
        sample("wardwatch_printer_supply_ratio", 0.07, printer=NAME, supply="Black Toner"),
        sample("wardwatch_printer_supply_state", 1, printer=NAME, supply="Black Toner", kind="toner", state="low"),
        sample("wardwatch_printer_waste_fill_ratio", 0.2, printer=NAME, supply="Waste Toner Box"),
        sample("wardwatch_printer_supply_state", 1, printer=NAME, supply="Waste Toner Box", kind="waste", state="ok"),
        sample("wardwatch_printer_up", 1, printer="Canon"),
        sample("wardwatch_printer_info", 1, printer="Canon", source="snmp", make_model="Canon LBP6670", serial="X"),
        sample("wardwatch_printer_state", 1, printer="Canon", state="idle"),
    ]


def test_printer_rows_vi():
    rows = printers_report.rows(paused_printer(), "vi")
    assert [(r.subject, r.status) for r in rows] == [("Máy in “Máy in một cửa”", FAIL), ("Máy in “Canon”", PASS)]
    assert rows[0].found == "HP LaserJet M404, đã dừng, 2 lệnh in đang chờ (lâu nhất 1 giờ 5 phút)"
    assert rows[0].detail == ("hàng đợi in đang bị tạm dừng; sắp hết mực: Black Toner 7%; "
                              "máy in báo: “Hết giấy khay 1”")
    assert rows[1].found == "Canon LBP6670, sẵn sàng" and rows[1].detail == ""


def test_printer_rows_en():
    rows = printers_report.rows(paused_printer(), "en")
    assert rows[0].found == "HP LaserJet M404, stopped, 2 job(s) waiting (oldest 1 h 5 min)"
    assert rows[0].detail == ("the queue is paused; toner or ink is low: Black Toner 7%; "
                              "the printer says: “Hết giấy khay 1”")
    text = render_text(rows, "en", "pc-01")
    assert "[FAIL]" in text and "Printer “Máy in một cửa”" in text


def test_no_printer_and_dead_spooler():
    [row] = printers_report.rows([], "en")
    assert row.status == FAIL and row.detail.startswith("no printer found: connect the printer")
    [row] = printers_report.rows([sample("wardwatch_printer_spooler_up", 0)], "vi")
    assert row.status == FAIL and "không trả lời" in row.detail


def test_scanner_rows():
    samples = [
        sample("wardwatch_scanner_up", 1, scanner="test:0"),
        sample("wardwatch_scanner_info", 1, scanner="test:0", source="sane", vendor="Noname", model="frontend-tester"),
        sample("wardwatch_scanner_up", 0, scanner="Máy quét"),
        sample("wardwatch_scanner_info", 1, scanner="Máy quét", source="escl", vendor="", model=""),
        sample("wardwatch_scanner_problem", 1, scanner="Máy quét", problem="unreachable"),
    ]
    rows = scanners_report.rows(samples, "vi")
    assert [(r.subject, r.status, r.found, r.detail) for r in rows] == [
        ("Máy quét “test:0”", PASS, "Noname frontend-tester (SANE)", ""),
        ("Máy quét “Máy quét”", FAIL, "eSCL", "không liên lạc được với máy quét"),
    ]
    [row] = scanners_report.rows([], "en")
    assert row.status == FAIL and row.detail.startswith("no scanner found: connect the scanner")


def test_no_printer_or_scanner_says_what_to_do_in_both_languages():
    """The next step: the command that adds a CUPS queue (lpadmin(8)), the one that lists SANE's scanners
    (scanimage(1)), and the config keys for network devices, which must be real options."""
    from agent import config as cfg

    keys = {dotted for dotted, _ in cfg.walk()}
    for lang in ("vi", "en"):
        [printer] = printers_report.rows([], lang)
        [scanner] = scanners_report.rows([], lang)
        assert "lpadmin -p" in printer.detail and "-v URI" in printer.detail
        assert "scanimage -L" in scanner.detail
        for row, key in ((printer, "collectors.printers.printers"), (scanner, "collectors.scanners.escl")):
            assert f"`{key}`" in row.detail and key in keys
    assert "không tìm thấy máy in nào" in printers_report.rows([], "vi")[0].detail
    assert "không tìm thấy máy quét nào" in scanners_report.rows([], "vi")[0].detail
