"""Check rows for the printers collector: each printer, its state and, in plain
words, what is wrong with it (Vietnamese and English)."""

from __future__ import annotations

import re

from agent.collectors.base import Sample
from agent.report import FAIL, PASS, Row, find

PROBLEM_TEXT = {
    "offline": {"vi": "máy in đang tắt hoặc mất kết nối", "en": "the printer is off or disconnected"},
    "paused": {"vi": "hàng đợi in đang bị tạm dừng", "en": "the queue is paused"},
    "stopped": {"vi": "máy in đã dừng", "en": "the printer has stopped"},
    "not_accepting": {"vi": "hàng đợi không nhận lệnh in mới", "en": "the queue refuses new jobs"},
    "media_empty": {"vi": "hết giấy", "en": "out of paper"},
    "media_low": {"vi": "sắp hết giấy", "en": "paper is low"},
    "jammed": {"vi": "kẹt giấy", "en": "paper jam"},
    "door_open": {"vi": "nắp máy đang mở", "en": "a door or cover is open"},
    "toner_low": {"vi": "sắp hết mực", "en": "toner or ink is low"},
    "toner_empty": {"vi": "hết mực", "en": "out of toner or ink"},
    "marker_waste_full": {"vi": "hộp mực thải đã đầy", "en": "the waste toner box is full"},
    "service_requested": {"vi": "máy in cần bảo dưỡng", "en": "the printer asks for service"},
    "queue_stuck": {"vi": "lệnh in bị kẹt trong hàng đợi", "en": "jobs are stuck in the queue"},
    "unreachable": {"vi": "không liên lạc được với máy in", "en": "the printer does not answer"},
    "missing": {"vi": "máy in không còn được cài trên máy tính này",
                "en": "the printer is no longer installed on this PC"},
    "other": {"vi": "lỗi khác (xem thông báo của máy in)", "en": "another problem (see the printer's message)"},
}
_WASTE = re.compile(r"waste|thải", re.IGNORECASE)  # a waste box is not toner left
STATE_TEXT = {
    "idle": {"vi": "sẵn sàng", "en": "idle"},
    "processing": {"vi": "đang in", "en": "printing"},
    "stopped": {"vi": "đã dừng", "en": "stopped"},
}
TEXT = {
    "printer": {"vi": "Máy in “{name}”", "en": "Printer “{name}”"},
    "none": {"vi": "Máy in", "en": "Printers"},
    "none_found": {"vi": "không tìm thấy máy in nào: cắm máy in rồi thêm hàng đợi in (Linux: "
                         "`lpadmin -p TÊN -E -v URI -m everywhere`; Windows: Cài đặt › Bluetooth & thiết bị › "
                         "Máy in & máy quét), hoặc khai báo máy in mạng trong `collectors.printers.printers` "
                         "của tệp cấu hình",
                   "en": "no printer found: connect the printer and add a print queue for it (Linux: "
                         "`lpadmin -p NAME -E -v URI -m everywhere`; Windows: Settings › Bluetooth & devices › "
                         "Printers & scanners), or list a network printer under `collectors.printers.printers` "
                         "in the config"},
    "spooler": {"vi": "Dịch vụ in của máy tính", "en": "This PC's print system"},
    "spooler_down": {"vi": "không trả lời (CUPS hoặc Print Spooler đã dừng?)",
                     "en": "does not answer (CUPS or the Print Spooler stopped?)"},
    "jobs": {"vi": "{n} lệnh in đang chờ", "en": "{n} job(s) waiting"},
    "oldest": {"vi": "lâu nhất {age}", "en": "oldest {age}"},
    "message": {"vi": "thông báo: “{m}”", "en": "message: “{m}”"},
    "supplies": {"vi": "mực còn: {s}", "en": "supplies left: {s}"},
}


def age_text(seconds: float, lang: str) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)} giây" if lang == "vi" else f"{int(seconds)} s"
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{minutes} phút" if lang == "vi" else f"{minutes} min"
    return f"{hours} giờ {minutes} phút" if lang == "vi" else f"{hours} h {minutes} min"


def _labels(samples: list[Sample], name: str, label: str, printer: str) -> list[tuple[str, float]]:
    return [(s.labels[label], s.value) for s in samples if s.name == name and s.labels.get("printer") == printer]


def rows(samples: list[Sample], lang: str) -> list[Row]:
    out: list[Row] = []
    spooler = find(samples, "wardwatch_printer_spooler_up")
    if spooler == 0:
        out.append(Row("printers", "spooler", TEXT["spooler"][lang], FAIL, detail=TEXT["spooler_down"][lang]))
    printers = [s.labels["printer"] for s in samples if s.name == "wardwatch_printer_up"]
    if not printers and spooler != 0:
        out.append(Row("printers", "printers", TEXT["none"][lang], FAIL, detail=TEXT["none_found"][lang]))
    for p in printers:
        up = find(samples, "wardwatch_printer_up", printer=p)
        info = next((s.labels for s in samples if s.name == "wardwatch_printer_info" and s.labels["printer"] == p), {})
        state = next((k for k, _ in _labels(samples, "wardwatch_printer_state", "state", p)), "")
        found = [info.get("make_model", "")] if info.get("make_model") else []
        if state in STATE_TEXT:
            found.append(STATE_TEXT[state][lang])
        jobs = find(samples, "wardwatch_printer_jobs_waiting", printer=p)
        if jobs:
            text = TEXT["jobs"][lang].format(n=int(jobs))
            age = find(samples, "wardwatch_printer_oldest_job_age_seconds", printer=p)
            if age:
                text += f" ({TEXT['oldest'][lang].format(age=age_text(age, lang))})"
            found.append(text)
        problems = [k for k, _ in _labels(samples, "wardwatch_printer_problem", "problem", p)]
        detail = [PROBLEM_TEXT.get(x, PROBLEM_TEXT["other"])[lang] for x in problems]
        message = next((k for k, _ in _labels(samples, "wardwatch_printer_state_message_info", "message", p)), "")
        if message and problems:
            detail.append(TEXT["message"][lang].format(m=message))
        if {"toner_low", "toner_empty"} & set(problems):
            levels = sorted(((n, r) for n, r in _labels(samples, "wardwatch_printer_supply_ratio", "supply", p)
                             if not _WASTE.search(n)), key=lambda x: x[1])[:3]
            if levels:
                detail.append(TEXT["supplies"][lang].format(s=", ".join(f"{n} {r:.0%}" for n, r in levels)))
        out.append(Row("printers", f"printer:{p}", TEXT["printer"][lang].format(name=p), PASS if up else FAIL,
                       ", ".join(found), detail="; ".join(detail)))
    return out
