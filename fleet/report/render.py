"""The weekly report for people and programs: text table, CSV, JSON, offline HTML.

Display only: the figures come from fleet/report/weekly.py. Every text exists in Vietnamese
and English; machine fields (CSV header, JSON keys, reason codes, alert names) are the same in
both. Times are in the office's time zone (the calendar's UTC offset). The JSON schema is
docs/weekly-report.schema.json (docs/report.md); change it only with a new SCHEMA_VERSION.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fleet import readiness as rd
from fleet.report import charts
from fleet.report import weekly as wk
from fleet.report_render import CSS as BASE_CSS
from fleet.report_render import _cell, fmt_duration
from fleet.svg_charts import esc

SCHEMA_VERSION = 1
FORMATS = ("table", "csv", "html", "json")

TEXT: dict[str, dict[str, str]] = {
    "title": {"vi": "Báo cáo tuần: mức sẵn sàng của xã/phường trong giờ làm việc và các sự cố",
              "en": "Weekly report: availability of the communes in office hours, and incidents"},
    "period": {"vi": "Kỳ báo cáo", "en": "Period"},
    "previous": {"vi": "so với kỳ trước", "en": "compared with the previous period"},
    "office": {"vi": "Giờ làm việc: {days}, {start}–{end} (UTC{offset}); ngày nghỉ lễ không tính: {holidays}",
               "en": "Office hours: {days}, {start}–{end} (UTC{offset}); holidays not counted: {holidays}"},
    "none": {"vi": "không có", "en": "none"},
    "generated": {"vi": "Lập lúc", "en": "Generated at"},
    "source": {"vi": "Nguồn", "en": "Source"},
    "queries": {"vi": "{n} truy vấn PromQL, bước {step} giây", "en": "{n} PromQL queries, step {step} s"},
    "city_line": {"vi": "Toàn thành phố: sẵn sàng {avail} thời gian làm việc ({change} điểm % {prev}); {inc} sự cố, "
                        "{open} chưa khắc phục; thời gian khắc phục trung vị {median}, lâu nhất {worst}",
                  "en": "City: available {avail} of office hours ({change} points {prev}); {inc} incidents, "
                        "{open} still open; time to restore median {median}, worst {worst}"},
    "districts_heading": {"vi": "Theo quận/huyện", "en": "Per district"},
    "communes_heading": {"vi": "Theo xã/phường (thấp nhất trước)", "en": "Per commune (lowest first)"},
    "reasons_heading": {"vi": "Số phút chưa sẵn sàng theo lý do (toàn thành phố)",
                        "en": "Minutes NOT READY by reason (city)"},
    "incidents_heading": {"vi": "Sự cố (cảnh báo đã phát)", "en": "Incidents (alerts that fired)"},
    "ttr_cause_heading": {"vi": "Thời gian khắc phục theo loại sự cố", "en": "Time to restore per cause"},
    "ttr_district_heading": {"vi": "Thời gian khắc phục theo quận/huyện", "en": "Time to restore per district"},
    "chart_districts": {"vi": "Tỉ lệ thời gian sẵn sàng theo quận/huyện", "en": "Availability per district"},
    "chart_communes": {"vi": "Xã/phường có tỉ lệ sẵn sàng thấp nhất", "en": "Communes with the lowest availability"},
    "col_rank": {"vi": "#", "en": "#"},
    "col_district": {"vi": "Quận/huyện", "en": "District"},
    "col_commune": {"vi": "Xã/phường", "en": "Commune"},
    "col_communes": {"vi": "Số xã/phường", "en": "Communes"},
    "col_availability": {"vi": "Sẵn sàng", "en": "Available"},
    "col_previous": {"vi": "Kỳ trước", "en": "Previous"},
    "col_change": {"vi": "Thay đổi (điểm %)", "en": "Change (points)"},
    "col_not_ready": {"vi": "Phút chưa sẵn sàng", "en": "Minutes not ready"},
    "col_no_data": {"vi": "Phút không có số liệu", "en": "Minutes without data"},
    "col_reasons": {"vi": "Lý do (phút)", "en": "Reasons (minutes)"},
    "col_days": {"vi": "Từng ngày", "en": "Day by day"},
    "col_incidents": {"vi": "Sự cố", "en": "Incidents"},
    "col_cause": {"vi": "Loại sự cố (cảnh báo)", "en": "Cause (alert)"},
    "col_subject": {"vi": "Đối tượng", "en": "About"},
    "col_start": {"vi": "Bắt đầu", "en": "Start"},
    "col_end": {"vi": "Kết thúc", "en": "End"},
    "col_ttr": {"vi": "Thời gian khắc phục", "en": "Time to restore"},
    "col_resolved": {"vi": "Đã khắc phục", "en": "Resolved"},
    "col_open": {"vi": "Chưa khắc phục", "en": "Still open"},
    "col_median": {"vi": "Trung vị", "en": "Median"},
    "col_worst": {"vi": "Lâu nhất", "en": "Worst"},
    "still_open": {"vi": "chưa khắc phục", "en": "still open"},
    "before": {"vi": "(bắt đầu trước kỳ số liệu)", "en": "(started before the data asked for)"},
    "no_incidents": {"vi": "Không có sự cố.", "en": "No incidents."},
    "counting": {"vi": "Chỉ tính giờ làm việc. Một xã/phường có thể cùng lúc chưa sẵn sàng vì nhiều lý do, nên tổng "
                       "số phút theo lý do có thể lớn hơn số phút chưa sẵn sàng. Thời gian khắc phục: từ lúc cảnh báo "
                       "phát tới lúc hết, tính theo giờ thực.",
                 "en": "Office hours only. A commune can be NOT READY for several reasons at once, so minutes by "
                       "reason may add up to more than the minutes NOT READY. Time to restore: from the alert firing "
                       "to its end, in wall-clock time."},
}

REASON_TEXT: dict[str, dict[str, str]] = {
    rd.PCS_NOT_REPORTING: {"vi": "không máy nào gửi số liệu", "en": "no PC reporting"},
    rd.NO_PC_MEETS_SPEC: {"vi": "không máy nào đạt cấu hình", "en": "no PC meets the spec"},
    rd.NO_WORKING_PRINTER: {"vi": "không có máy in hoạt động", "en": "no working printer"},
    rd.NO_WORKING_SCANNER: {"vi": "không có máy quét hoạt động", "en": "no working scanner"},
    rd.WAN_DOWN: {"vi": "mất kết nối WAN", "en": "WAN down"},
    rd.WAN_DEGRADED: {"vi": "WAN chập chờn", "en": "WAN degraded"},
    rd.CLIENT_MISSING: {"vi": "chưa cài phần mềm ảo hóa", "en": "virtualized client missing"},
    wk.NO_DATA: {"vi": "không có số liệu", "en": "no data"},
}
DAY_NAMES = {"vi": ("CN", "T2", "T3", "T4", "T5", "T6", "T7"), "en": ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")}

CSV_COLUMNS = ("rank", "district", "district_name", "commune", "commune_name", "availability_percent",
               "previous_availability_percent", "change_points", "office_minutes", "ready_minutes",
               "not_ready_minutes", "no_data_minutes", *(f"minutes_{r}" for r in wk.REASONS), "incidents",
               "incidents_open", "ttr_median_minutes", "ttr_worst_minutes")


# --- helpers ---------------------------------------------------------------------------

def _min(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def _ratio(v: float | None) -> float | None:
    return None if v is None else round(v, 6)


def _pct(v: float | None, signed: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v * 100:+.1f}" if signed else f"{v * 100:.1f}%"


def local_time(report: wk.Report, ts: float | None) -> str | None:
    return None if ts is None else report.calendar.local(ts).isoformat(timespec="minutes")


def _when(report: wk.Report, ts: float | None) -> str:
    return "" if ts is None else report.calendar.local(ts).strftime("%Y-%m-%d %H:%M")


def _dur(seconds: float | None, lang: str) -> str:
    return "–" if seconds is None else fmt_duration(seconds, lang)


def minutes_doc(m: wk.Minutes) -> dict[str, Any]:
    return {"office": _min(m.office), "ready": _min(m.ready), "not_ready": _min(m.not_ready),
            "no_data": _min(m.no_data), "by_reason": {r: _min(m.by_reason.get(r, 0.0)) for r in wk.REASONS}}


def ttr_doc(t: wk.TTR) -> dict[str, Any]:
    return {"incidents": t.incidents, "resolved": t.resolved, "open": t.open, "median_minutes": _min(t.median),
            "worst_minutes": _min(t.worst)}


def _offset(hours: float) -> str:
    sign = "+" if hours >= 0 else "-"
    h = abs(hours)
    return f"{sign}{int(h):02d}:{int(round((h - int(h)) * 60)):02d}"


# --- JSON ------------------------------------------------------------------------------

def to_doc(report: wk.Report, lang: str) -> dict[str, Any]:
    cal = report.calendar
    ranked = report.lowest_first()
    return {
        "schema_version": SCHEMA_VERSION,
        "report": "weekly",
        "lang": lang,
        "period": {"label": report.period.label, "from": report.period.first.isoformat(),
                   "to": report.period.last.isoformat(), "start": local_time(report, report.start),
                   "end": local_time(report, report.end),
                   "holidays": [h.isoformat() for h in report.holidays]},
        "previous_period": {"label": report.previous_period.label, "from": report.previous_period.first.isoformat(),
                            "to": report.previous_period.last.isoformat()},
        "office_hours": {**cal.as_dict(), "utc_offset": _offset(cal.utc_offset_hours)},
        "step_seconds": report.step,
        "generated_at": local_time(report, report.generated_at),
        "prometheus": report.prometheus,
        "queries": report.queries,
        "city": {"availability": _ratio(report.city.availability),
                 "previous_availability": _ratio(report.city_previous.availability),
                 "change": _ratio(report.city_change), "communes": len(report.communes),
                 "minutes": minutes_doc(report.city), "previous_incidents": report.previous_incidents,
                 "ttr": ttr_doc(report.ttr_city)},
        "districts": [{"district": d.district, "name": d.name, "communes": len(d.communes),
                       "availability": _ratio(d.minutes.availability),
                       "previous_availability": _ratio(d.previous.availability), "change": _ratio(d.change),
                       "minutes": minutes_doc(d.minutes), "ttr": ttr_doc(d.ttr or wk.TTR(d.district))}
                      for d in sorted(report.districts, key=lambda d: (d.minutes.availability or 0.0, d.district))],
        "communes": [{"rank": n, "district": c.district, "district_name": c.district_name, "commune": c.commune,
                      "name": c.name, "availability": _ratio(c.minutes.availability),
                      "previous_availability": _ratio(c.previous.availability), "change": _ratio(c.change),
                      "minutes": minutes_doc(c.minutes),
                      "days": [{"date": day.date.isoformat(), "office": day.office,
                                "availability": _ratio(day.minutes.availability) if day.office else None}
                               for day in c.days],
                      "incidents": len(c.incidents), "incidents_open": sum(i.open for i in c.incidents)}
                     for n, c in enumerate(ranked, 1)],
        "incidents": [{"district": i.district, "commune": i.commune, "alertname": i.alertname,
                       "severity": i.labels.get("severity", ""), "subject": i.subject(),
                       "labels": {k: v for k, v in i.labels.items() if k not in ("alertname",)},
                       "start": local_time(report, i.start), "end": local_time(report, i.end), "open": i.open,
                       "started_before": i.started_before, "ttr_minutes": _min(i.ttr)} for i in report.incidents],
        "ttr_by_cause": [{"cause": t.key, **ttr_doc(t)} for t in report.ttr_by_cause],
        "ttr_by_district": [{"district": t.key, **ttr_doc(t)} for t in report.ttr_by_district],
    }


def render_json(report: wk.Report, lang: str) -> str:
    return json.dumps(to_doc(report, lang), ensure_ascii=False, indent=2) + "\n"


# --- CSV -------------------------------------------------------------------------------

def _num(v: float | None) -> str:
    return "" if v is None else f"{v:g}"


def render_csv(report: wk.Report, lang: str) -> str:  # noqa: ARG001 (same columns in both languages)
    """UTF-8 with a byte order mark; one row per commune, lowest availability first."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for n, c in enumerate(report.lowest_first(), 1):
        m = c.minutes
        t = wk.ttr_stats(c.commune, c.incidents)
        w.writerow([_cell(x) for x in (
            n, c.district, c.district_name, c.commune, c.name,
            _num(None if m.availability is None else round(m.availability * 100, 3)),
            _num(None if c.previous.availability is None else round(c.previous.availability * 100, 3)),
            _num(None if c.change is None else round(c.change * 100, 3)),
            _num(_min(m.office)), _num(_min(m.ready)), _num(_min(m.not_ready)), _num(_min(m.no_data)),
            *(_num(_min(m.by_reason.get(r, 0.0))) for r in wk.REASONS),
            t.incidents, t.open, _num(_min(t.median)), _num(_min(t.worst)))])
    return "\ufeff" + buf.getvalue()


# --- text ------------------------------------------------------------------------------

def _header(report: wk.Report, lang: str) -> list[str]:
    t = TEXT
    cal = report.calendar
    days = ", ".join(DAY_NAMES[lang][d] for d in sorted(cal.days))
    office = cal.as_dict()
    holidays = ", ".join(h.isoformat() for h in report.holidays) or t["none"][lang]
    city = t["city_line"][lang].format(
        avail=_pct(report.city.availability), change=_pct(report.city_change, signed=True), prev=t["previous"][lang],
        inc=report.ttr_city.incidents, open=report.ttr_city.open, median=_dur(report.ttr_city.median, lang),
        worst=_dur(report.ttr_city.worst, lang))
    return [f"wardwatch — {t['title'][lang]}",
            f"{t['period'][lang]}: {report.period.label} ({report.period.first} – {report.period.last})",
            t["office"][lang].format(days=days, start=office["start"], end=office["end"],
                                     offset=_offset(cal.utc_offset_hours), holidays=holidays),
            f"{t['generated'][lang]}: {_when(report, report.generated_at)} · {t['source'][lang]}: {report.prometheus}"
            f" · " + t["queries"][lang].format(n=report.queries, step=f"{report.step:g}"),
            city]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _reasons_text(m: wk.Minutes, lang: str) -> str:
    return "; ".join(f"{REASON_TEXT[r][lang]} {_min(v):g}" for r, v in m.by_reason.items() if v > 0)


def render_table(report: wk.Report, lang: str) -> str:
    t = TEXT
    out = _header(report, lang)
    out += ["", t["districts_heading"][lang]]
    rows = [[t[k][lang] for k in ("col_district", "col_communes", "col_availability", "col_previous", "col_change",
                                  "col_incidents", "col_median", "col_worst")]]
    for d in report.districts:
        tt = d.ttr or wk.TTR(d.district)
        rows.append([d.name, str(len(d.communes)), _pct(d.minutes.availability), _pct(d.previous.availability),
                     _pct(d.change, True), str(tt.incidents), _dur(tt.median, lang), _dur(tt.worst, lang)])
    out += ["  " + line for line in _table(rows)]
    out += ["", t["communes_heading"][lang]]
    rows = [[t[k][lang] for k in ("col_rank", "col_commune", "col_district", "col_availability", "col_change",
                                  "col_not_ready", "col_reasons", "col_incidents")]]
    for n, c in enumerate(report.lowest_first(), 1):
        rows.append([str(n), c.name, c.district_name, _pct(c.minutes.availability), _pct(c.change, True),
                     f"{_min(c.minutes.not_ready):g}", _reasons_text(c.minutes, lang), str(len(c.incidents))])
    out += ["  " + line for line in _table(rows)]
    out += ["", t["incidents_heading"][lang]]
    if report.incidents:
        rows = [[t[k][lang] for k in ("col_commune", "col_cause", "col_subject", "col_start", "col_end", "col_ttr")]]
        for i in report.incidents:
            rows.append([f"{i.commune} ({i.district})", i.alertname, i.subject(), _when(report, i.start),
                         _when(report, i.end) if i.end else t["still_open"][lang], _dur(i.ttr, lang)])
        out += ["  " + line for line in _table(rows)]
    else:
        out.append("  " + t["no_incidents"][lang])
    out += ["", t["counting"][lang]]
    return "\n".join(out) + "\n"


# --- HTML ------------------------------------------------------------------------------

CSS = BASE_CSS + """
tr.low{background:#fff8f8}td.change-up{color:#2e7d32}td.change-down{color:#c62828}
tr.open td.end{color:#c62828;font-weight:600}
"""


def _change_cell(v: float | None) -> str:
    cls = "" if v is None or abs(v) < 0.0005 else (" change-up" if v > 0 else " change-down")
    return f'<td class="num{cls}">{_pct(v, True)}</td>'


def _ttr_rows(items: list[wk.TTR], names: dict[str, str], lang: str, attr: str) -> list[str]:
    h = []
    for tt in items:
        h.append(f'<tr data-{attr}="{esc(tt.key)}"><td>{esc(names.get(tt.key, tt.key))}</td>'
                 f'<td class="num">{tt.incidents}</td><td class="num">{tt.resolved}</td><td class="num">{tt.open}</td>'
                 f'<td class="num">{esc(_dur(tt.median, lang))}</td><td class="num">{esc(_dur(tt.worst, lang))}</td>'
                 "</tr>")
    return h


def render_html(report: wk.Report, lang: str) -> str:
    t = TEXT
    header = _header(report, lang)
    h = ["<!DOCTYPE html>", f'<html lang="{lang}"><head><meta charset="utf-8">',
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
         "img-src data:\">",
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         f"<title>{esc(t['title'][lang])} — {esc(report.period.label)}</title>",
         f"<style>{CSS}</style></head><body>",
         f"<h1>{esc(t['title'][lang])}</h1>"]
    h += [f'<p class="meta">{esc(line)}</p>' for line in header[1:4]]
    h.append(f'<p class="summary" id="city">{esc(header[4])}</p>')
    # charts
    h.append(f"<h2>{esc(t['districts_heading'][lang])}</h2>")
    h.append('<figure id="chart-districts">' + charts.availability_bars(
        [(d.district, d.name, d.minutes.availability) for d in report.districts], t["chart_districts"][lang])
        + "</figure>")
    h.append('<table id="districts"><thead><tr>' + "".join(
        f"<th>{esc(t[k][lang])}</th>" for k in ("col_district", "col_communes", "col_availability", "col_previous",
                                                "col_change", "col_not_ready", "col_no_data", "col_incidents",
                                                "col_median", "col_worst")) + "</tr></thead><tbody>")
    for d in report.districts:
        tt = d.ttr or wk.TTR(d.district)
        h.append(f'<tr data-district="{esc(d.district)}"><td>{esc(d.name)}</td><td class="num">{len(d.communes)}</td>'
                 f'<td class="num avail">{_pct(d.minutes.availability)}</td>'
                 f'<td class="num">{_pct(d.previous.availability)}</td>{_change_cell(d.change)}'
                 f'<td class="num">{_min(d.minutes.not_ready):g}</td><td class="num">{_min(d.minutes.no_data):g}</td>'
                 f'<td class="num">{tt.incidents}</td><td class="num">{esc(_dur(tt.median, lang))}</td>'
                 f'<td class="num">{esc(_dur(tt.worst, lang))}</td></tr>')
    h.append("</tbody></table>")
    h.append(f"<h2>{esc(t['reasons_heading'][lang])}</h2>")
    h.append('<figure id="chart-reasons">' + charts.minute_bars(
        [(r, REASON_TEXT[r][lang], _min(v) or 0.0) for r, v in report.city.by_reason.items()]
        + [(wk.NO_DATA, REASON_TEXT[wk.NO_DATA][lang], _min(report.city.no_data) or 0.0)],
        t["reasons_heading"][lang]) + "</figure>")
    ranked = report.lowest_first()
    h.append(f"<h2>{esc(t['communes_heading'][lang])}</h2>")
    h.append('<figure id="chart-communes">' + charts.availability_bars(
        [(f"{c.district}/{c.commune}", c.name, c.minutes.availability) for c in ranked[:15]],
        t["chart_communes"][lang]) + "</figure>")
    h.append('<table id="communes"><thead><tr>' + "".join(
        f"<th>{esc(t[k][lang])}</th>" for k in ("col_rank", "col_commune", "col_district", "col_availability",
                                                "col_previous", "col_change", "col_not_ready", "col_reasons",
                                                "col_days", "col_incidents")) + "</tr></thead><tbody>")
    for n, c in enumerate(ranked, 1):
        days = [(f"{DAY_NAMES[lang][d.date.isoweekday() % 7]} {d.date.isoformat()}", d.minutes.availability,
                 d.office) for d in c.days]
        low = " low" if c.minutes.availability is not None and c.minutes.availability < 1 else ""
        h.append(f'<tr class="commune{low}" data-district="{esc(c.district)}" data-commune="{esc(c.commune)}">'
                 f'<td class="num">{n}</td><td>{esc(c.name)}</td><td>{esc(c.district_name)}</td>'
                 f'<td class="num avail">{_pct(c.minutes.availability)}</td>'
                 f'<td class="num">{_pct(c.previous.availability)}</td>{_change_cell(c.change)}'
                 f'<td class="num">{_min(c.minutes.not_ready):g}</td>'
                 f'<td>{esc(_reasons_text(c.minutes, lang))}</td><td>{charts.day_strip(days)}</td>'
                 f'<td class="num">{len(c.incidents)}</td></tr>')
    h.append("</tbody></table>")
    h.append(f"<h2>{esc(t['incidents_heading'][lang])}</h2>")
    if report.incidents:
        h.append('<table id="incidents"><thead><tr>' + "".join(
            f"<th>{esc(t[k][lang])}</th>" for k in ("col_district", "col_commune", "col_cause", "col_subject",
                                                    "col_start", "col_end", "col_ttr")) + "</tr></thead><tbody>")
        names = {(c.district, c.commune): c.name for c in report.communes}
        dnames = {d.district: d.name for d in report.districts}
        for i in report.incidents:
            end = _when(report, i.end) if i.end else t["still_open"][lang]
            start = _when(report, i.start) + (" " + t["before"][lang] if i.started_before else "")
            h.append(f'<tr class="incident{" open" if i.open else ""}" data-alert="{esc(i.alertname)}" '
                     f'data-commune="{esc(i.commune)}"><td>{esc(dnames.get(i.district, i.district))}</td>'
                     f'<td>{esc(names.get((i.district, i.commune), i.commune))}</td><td>{esc(i.alertname)}</td>'
                     f'<td>{esc(i.subject())}</td><td>{esc(start)}</td><td class="end">{esc(end)}</td>'
                     f'<td class="num">{esc(_dur(i.ttr, lang))}</td></tr>')
        h.append("</tbody></table>")
        head = "".join(f"<th>{esc(t[k][lang])}</th>" for k in ("col_incidents", "col_resolved", "col_open",
                                                                "col_median", "col_worst"))
        h.append(f"<h2>{esc(t['ttr_cause_heading'][lang])}</h2>")
        h.append(f'<table id="ttr-cause"><thead><tr><th>{esc(t["col_cause"][lang])}</th>{head}</tr></thead><tbody>')
        h += _ttr_rows(report.ttr_by_cause, {}, lang, "cause")
        h.append("</tbody></table>")
        h.append(f"<h2>{esc(t['ttr_district_heading'][lang])}</h2>")
        h.append(f'<table id="ttr-district"><thead><tr><th>{esc(t["col_district"][lang])}</th>{head}</tr></thead>'
                 "<tbody>")
        h += _ttr_rows(report.ttr_by_district, dnames, lang, "district")
        h.append("</tbody></table>")
    else:
        h.append(f"<p>{esc(t['no_incidents'][lang])}</p>")
    h.append(f'<p class="small">{esc(t["counting"][lang])}</p>')
    h.append("</body></html>")
    return "\n".join(h) + "\n"


def render(report: wk.Report, fmt: str, lang: str) -> str:
    return {"table": render_table, "csv": render_csv, "html": render_html, "json": render_json}[fmt](report, lang)
