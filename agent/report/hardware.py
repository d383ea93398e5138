"""Check rows for the hardware collector: each minimum-spec requirement with the
value found and the value needed."""

from __future__ import annotations

import math

from agent.collectors.base import Sample
from agent.report import FAIL, PASS, UNKNOWN, Row, find

SUBJECT = {
    "memory": {"vi": "Bộ nhớ RAM", "en": "Memory (RAM)"},
    "disk_free": {"vi": "Dung lượng trống ổ hệ thống", "en": "Free space on the system disk"},
    "cpu_cores": {"vi": "Số nhân CPU", "en": "CPU cores"},
    "cpu_frequency": {"vi": "Tốc độ CPU", "en": "CPU frequency"},
    "os": {"vi": "Hệ điều hành", "en": "Operating system"},
}
NOT_ALLOWED = {"vi": "không nằm trong danh sách được phép", "en": "not in the allowed list"}
UNKNOWN_VALUE = {"vi": "không đọc được", "en": "could not be read"}


def _fmt(requirement: str, v: float) -> str:
    if math.isnan(v):
        return "?"
    if requirement in ("memory", "disk_free"):
        return f"{v / 2**30:.1f} GiB"
    if requirement == "cpu_frequency":
        return f"{v / 1e9:.2f} GHz"
    return f"{v:g}"


def rows(samples: list[Sample], lang: str) -> list[Row]:
    out = []
    info = next((s.labels for s in samples if s.name == "wardwatch_pc_info"), {})
    for requirement, subject in SUBJECT.items():
        met = find(samples, "wardwatch_spec_requirement_met", requirement=requirement)
        if met is None:
            continue
        if requirement == "os":
            found = f"{info.get('os_name', '')} {info.get('os_version', '')}".strip()
            out.append(Row("hardware", "os", subject[lang], PASS if met else FAIL, found,
                           detail="" if met else NOT_ALLOWED[lang]))
            continue
        value = find(samples, "wardwatch_spec_requirement_value", requirement=requirement)
        minimum = find(samples, "wardwatch_spec_requirement_minimum", requirement=requirement)
        value = math.nan if value is None else value
        status = UNKNOWN if math.isnan(value) else PASS if met else FAIL
        out.append(Row("hardware", requirement, subject[lang], status, _fmt(requirement, value),
                       "≥ " + _fmt(requirement, minimum if minimum is not None else math.nan),
                       UNKNOWN_VALUE[lang] if status == UNKNOWN else ""))
    return out
