"""`wardwatch-agent check`: a readable report of this PC from one run of every
collector. Display only: each section module turns a collector's samples into
rows; collectors know nothing of this.

Every text here exists in Vietnamese (default) and English.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

from agent.collectors.base import Sample
from agent.runner import Result

PASS, FAIL, UNKNOWN, INFO = "pass", "fail", "unknown", "info"  # INFO: said, but neither passes nor fails

STATUS = {
    "vi": {PASS: "ĐẠT", FAIL: "KHÔNG ĐẠT", UNKNOWN: "CHƯA RÕ", INFO: "GHI CHÚ"},
    "en": {PASS: "PASS", FAIL: "FAIL", UNKNOWN: "UNKNOWN", INFO: "NOTE"},
}

TEXT = {
    "title": {"vi": "wardwatch — kiểm tra máy tính {host}", "en": "wardwatch — check of PC {host}"},
    "needed": {"vi": "cần", "en": "needs"},
    "collector_failed": {"vi": "Bộ thu thập '{name}' lỗi: {error}", "en": "Collector '{name}' failed: {error}"},
    "overall_ok": {"vi": "Kết quả: ĐẠT — máy sẵn sàng phục vụ", "en": "Result: PASS — this PC is ready"},
    "overall_fail": {"vi": "Kết quả: KHÔNG ĐẠT — {n} mục cần xử lý",
                     "en": "Result: FAIL — {n} item(s) need attention"},
}


@dataclass(frozen=True)
class Row:
    area: str      # the collector it comes from
    key: str       # stable machine key, e.g. "memory"
    subject: str   # human name, in the chosen language
    status: str    # PASS / FAIL / UNKNOWN / INFO
    found: str = ""
    needed: str = ""
    detail: str = ""


Section = Callable[[list[Sample], str], list[Row]]


def _sections() -> dict[str, Section]:
    from agent.report import hardware, printers, scanners, vclient, wan

    return {"hardware": hardware.rows, "printers": printers.rows, "scanners": scanners.rows, "wan": wan.rows,
            "vclient": vclient.rows}


def build(results: Mapping[str, Result], lang: str) -> list[Row]:
    rows: list[Row] = []
    sections = _sections()
    for name, result in results.items():
        if not result.success:
            rows.append(Row(name, "collector", name, FAIL,
                            detail=TEXT["collector_failed"][lang].format(name=name, error=result.error)))
            continue
        section = sections.get(name)
        if section is not None:
            rows.extend(section(list(result.samples), lang))
    return rows


def ok(rows: list[Row]) -> bool:
    return all(r.status in (PASS, INFO) for r in rows)


def render_text(rows: list[Row], lang: str, host: str) -> str:
    lines = [TEXT["title"][lang].format(host=host), ""]
    width = max(len(s) for s in STATUS[lang].values()) + 2
    for r in rows:
        status = f"[{STATUS[lang][r.status]}]".ljust(width)
        text = r.subject
        if r.found:
            text += f": {r.found}"
        if r.needed:
            text += f" ({TEXT['needed'][lang]} {r.needed})"
        if r.detail:
            text += f" — {r.detail}" if r.found or r.needed else f": {r.detail}"
        lines.append(f"{status} {text}")
    failed = sum(r.status not in (PASS, INFO) for r in rows)
    lines += ["", TEXT["overall_ok"][lang] if not failed else TEXT["overall_fail"][lang].format(n=failed)]
    return "\n".join(lines) + "\n"


def render_json(rows: list[Row], results: Mapping[str, Result], host: str) -> str:
    doc = {
        "host": host,
        "ok": ok(rows),
        "items": [asdict(r) for r in rows],
        "collectors": {n: {"success": r.success, "duration_seconds": round(r.duration, 4), "error": r.error}
                       for n, r in results.items()},
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def find(samples: list[Sample], name: str, **labels: str) -> float | None:
    for s in samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None
