"""Check rows for the scanners collector: each scanner and, in plain words, what
is wrong with it (Vietnamese and English)."""

from __future__ import annotations

from agent.collectors.base import Sample
from agent.report import FAIL, PASS, Row, find

PROBLEM_TEXT = {
    "unreachable": {"vi": "không liên lạc được với máy quét", "en": "the scanner does not answer"},
    "missing": {"vi": "không còn thấy máy quét (đã rút cáp hoặc tắt máy?)",
                "en": "the scanner is no longer found (unplugged or switched off?)"},
    "stopped": {"vi": "máy quét đã dừng", "en": "the scanner has stopped"},
    "down": {"vi": "máy quét đang lỗi", "en": "the scanner is down"},
    "adf_jam": {"vi": "kẹt giấy ở khay nạp tự động (ADF)", "en": "paper jam in the document feeder (ADF)"},
    "adf_door_open": {"vi": "nắp khay nạp tự động đang mở", "en": "the document feeder's cover is open"},
    "device_error": {"vi": "Windows báo thiết bị lỗi (kiểm tra driver)",
                     "en": "Windows reports a device error (check the driver)"},
    "other": {"vi": "lỗi khác", "en": "another problem"},
}
SOURCE_TEXT = {"sane": "SANE", "escl": "eSCL", "wia": "WIA"}
TEXT = {
    "scanner": {"vi": "Máy quét “{name}”", "en": "Scanner “{name}”"},
    "none": {"vi": "Máy quét", "en": "Scanners"},
    "none_found": {"vi": "không tìm thấy máy quét nào: cắm máy quét rồi xem SANE có thấy không bằng "
                         "`scanimage -L` (Linux; Windows: Cài đặt › Bluetooth & thiết bị › Máy in & máy quét), "
                         "hoặc khai báo máy quét mạng (eSCL) trong `collectors.scanners.escl` của tệp cấu hình",
                   "en": "no scanner found: connect the scanner and check that SANE lists it with `scanimage -L` "
                         "(Linux; Windows: Settings › Bluetooth & devices › Printers & scanners), or list a "
                         "network (eSCL) scanner under `collectors.scanners.escl` in the config"},
}


def rows(samples: list[Sample], lang: str) -> list[Row]:
    scanners = [s.labels["scanner"] for s in samples if s.name == "wardwatch_scanner_up"]
    if not scanners:
        return [Row("scanners", "scanners", TEXT["none"][lang], FAIL, detail=TEXT["none_found"][lang])]
    out = []
    for name in scanners:
        up = find(samples, "wardwatch_scanner_up", scanner=name)
        info = next((s.labels for s in samples if s.name == "wardwatch_scanner_info" and s.labels["scanner"] == name),
                    {})
        found = " ".join(x for x in (info.get("vendor", ""), info.get("model", "")) if x)
        source = SOURCE_TEXT.get(info.get("source", ""), "")
        if source:
            found = f"{found} ({source})" if found else source
        problems = [s.labels["problem"] for s in samples
                    if s.name == "wardwatch_scanner_problem" and s.labels["scanner"] == name]
        detail = "; ".join(PROBLEM_TEXT.get(p, PROBLEM_TEXT["other"])[lang] for p in problems)
        out.append(Row("scanners", f"scanner:{name}", TEXT["scanner"][lang].format(name=name),
                       PASS if up else FAIL, found, detail=detail))
    return out
