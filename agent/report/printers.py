"""Check rows for the printers collector: each printer, its state and, in plain
words, what is wrong with it (Vietnamese and English)."""

from __future__ import annotations

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
    "input_empty": {"vi": "khay giấy trống", "en": "empty paper tray"},
    "waste_nearly_full": {"vi": "hộp mực thải sắp đầy", "en": "the waste toner box is nearly full"},
    "device_warning": {"vi": "máy in báo có cảnh báo", "en": "the printer reports a warning"},
    "alert_critical": {"vi": "máy in báo lỗi nghiêm trọng và đã dừng",
                       "en": "the printer reports a critical alert and has stopped"},
}
# The supplies or trays each problem is about, named after it: (metric, kind, state); trays have no kind.
_NAMED: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "toner_low": ("supply", "toner", ("low",)),
    "toner_empty": ("supply", "toner", ("empty",)),
    "service_requested": ("supply", "part", ("empty",)),
    "waste_nearly_full": ("supply", "waste", ("nearly_full",)),
    "marker_waste_full": ("supply", "waste", ("full",)),
    "input_empty": ("input", "", ("empty",)),
    "media_empty": ("input", "", ("empty",)),
}
# Supplies in these states are listed even when no problem names them (every supply is visible).
SUPPLY_TEXT = {
    "low": {"vi": "sắp hết: {s}", "en": "low: {s}"},
    "empty": {"vi": "hết: {s}", "en": "empty: {s}"},
    "some_remaining": {"vi": "còn một ít (máy in không cho số): {s}", "en": "some remaining (no number given): {s}"},
    "unknown": {"vi": "không rõ mức: {s}", "en": "level unknown: {s}"},
    "waste_some_remaining": {"vi": "hộp thải còn chỗ (máy in không cho số): {s}",
                             "en": "waste unit with some space left (no number given): {s}"},
    "waste_unknown": {"vi": "hộp thải {s}: không đọc được độ đầy (máy in không cho số, hoặc không cho biết "
                                "mức là phần còn trống hay phần đã đầy)",
                      "en": "waste unit {s}: its fill cannot be read (no number, or the printer does not say "
                            "whether its level is the space left or the fill)"},
}
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
    "message": {"vi": "máy in báo: “{m}”", "en": "the printer says: “{m}”"},
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
        detail = _detail(samples, p, lang)
        out.append(Row("printers", f"printer:{p}", TEXT["printer"][lang].format(name=p), PASS if up else FAIL,
                       ", ".join(found), detail="; ".join(detail)))
    return out


def _detail(samples: list[Sample], p: str, lang: str) -> list[str]:
    """Every problem in words, each with the supplies or trays it is about; then every other supply
    that is not plainly fine; then the printer's own words."""
    mine = [s for s in samples if s.labels.get("printer") == p]
    supplies = [s.labels for s in mine if s.name == "wardwatch_printer_supply_state"]
    trays = [s.labels for s in mine if s.name == "wardwatch_printer_input_state"]
    ratio = {s.labels["supply"]: s.value for s in mine if s.name == "wardwatch_printer_supply_ratio"}
    fill = {s.labels["supply"]: s.value for s in mine if s.name == "wardwatch_printer_waste_fill_ratio"}

    def named(labels: dict[str, str]) -> str:
        name = labels.get("supply") or labels.get("input", "")
        value = fill.get(name) if labels.get("kind") == "waste" else ratio.get(name)
        return f"{name} {value:.0%}" if value is not None and "supply" in labels else name

    problems = sorted(s.labels["problem"] for s in mine if s.name == "wardwatch_printer_problem")
    detail, listed = [], set()
    for x in problems:
        text = PROBLEM_TEXT.get(x, PROBLEM_TEXT["other"])[lang]
        if x in _NAMED:
            kind_of, kind, states = _NAMED[x]
            rows = [r for r in (supplies if kind_of == "supply" else trays) if r["state"] in states
                    and (kind_of == "input" and r.get("manual") != "1" or r.get("kind") == kind)]
            if rows:
                text += ": " + ", ".join(named(r) for r in rows)
                listed |= {r.get("supply", "") for r in rows}
        detail.append(text)
    rest = [r for r in supplies if r["supply"] not in listed]
    for state in ("empty", "low", "some_remaining", "unknown"):
        names = [named(r) for r in rest if r["state"] == state and r["kind"] != "waste"]
        if names:
            detail.append(SUPPLY_TEXT[state][lang].format(s=", ".join(names)))
    waste_left = [named(r) for r in rest if r["kind"] == "waste" and r["state"] == "some_remaining"]
    if waste_left:
        detail.append(SUPPLY_TEXT["waste_some_remaining"][lang].format(s=", ".join(waste_left)))
    for r in rest:
        if r["kind"] == "waste" and r["state"] == "unknown":
            detail.append(SUPPLY_TEXT["waste_unknown"][lang].format(s=f"“{r['supply']}”"))
    message = next((k for k, _ in _labels(samples, "wardwatch_printer_state_message_info", "message", p)), "")
    if message:
        detail.append(TEXT["message"][lang].format(m=message))
    return detail
