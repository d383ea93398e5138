"""The readiness report for people and programs: text table, CSV, JSON, offline HTML.

Display only: the data and the verdicts come from fleet/readiness.py. Every text
exists in Vietnamese and English; machine fields (CSV header, JSON keys, reason
codes) are the same in both. The JSON schema is docs/readiness.schema.json
(described in docs/readiness.md); change it only with a new SCHEMA_VERSION.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

from fleet import readiness as rd
from fleet.svg_charts import LOSS_COLOR, esc, sparkline, stacked_bars

SCHEMA_VERSION = 1
FORMATS = ("table", "csv", "html", "json")

TEXT: dict[str, dict[str, str]] = {
    "title": {"vi": "Báo cáo mức sẵn sàng phục vụ dịch vụ công trực tuyến của xã/phường",
              "en": "Readiness of communes to serve online public services"},
    "READY": {"vi": "SẴN SÀNG", "en": "READY"},
    "NOT_READY": {"vi": "CHƯA SẴN SÀNG", "en": "NOT READY"},
    "evaluated": {"vi": "Thời điểm đánh giá", "en": "Evaluated at"},
    "generated": {"vi": "Lập lúc", "en": "Generated at"},
    "source": {"vi": "Nguồn", "en": "Source"},
    "queries": {"vi": "{n} truy vấn PromQL", "en": "{n} PromQL queries"},
    "summary": {"vi": "{ready}/{total} xã/phường sẵn sàng, {not_ready} chưa sẵn sàng; {rep}/{pcs} máy đang gửi số liệu",
                "en": "{ready} of {total} communes READY, {not_ready} NOT READY; {rep} of {pcs} PCs reporting"},
    "district_line": {"vi": "{name} ({key}): {ready}/{total} xã/phường sẵn sàng",
                      "en": "{name} ({key}): {ready} of {total} communes READY"},
    "col_district": {"vi": "Quận/huyện", "en": "District"},
    "col_commune": {"vi": "Xã/phường", "en": "Commune"},
    "col_verdict": {"vi": "Kết luận", "en": "Verdict"},
    "col_pcs": {"vi": "Máy báo", "en": "PCs reporting"},
    "col_spec": {"vi": "Đạt cấu hình", "en": "Meet spec"},
    "col_client": {"vi": "Có PM ảo hóa", "en": "With client"},
    "col_printers": {"vi": "Máy in tốt", "en": "Printers OK"},
    "col_scanners": {"vi": "Máy quét tốt", "en": "Scanners OK"},
    "col_wan": {"vi": "Đường truyền", "en": "WAN"},
    "col_reasons": {"vi": "Lý do", "en": "Reasons"},
    "col_rtt": {"vi": "Độ trễ WAN", "en": "WAN latency"},
    "col_loss": {"vi": "Mất gói WAN", "en": "WAN loss"},
    "col_ready": {"vi": "Sẵn sàng", "en": "Ready"},
    "col_not_ready": {"vi": "Chưa sẵn sàng", "en": "Not ready"},
    "col_communes": {"vi": "Số xã/phường", "en": "Communes"},
    "districts_heading": {"vi": "Theo quận/huyện", "en": "Per district"},
    "communes_heading": {"vi": "Theo xã/phường", "en": "Per commune"},
    "chart_districts": {"vi": "Số xã/phường sẵn sàng và chưa sẵn sàng theo quận/huyện",
                        "en": "Communes ready and not ready, per district"},
    "chart_window": {"vi": "Biểu đồ đường truyền: {window} đến thời điểm đánh giá (độ trễ trung bình, tỉ lệ mất gói "
                           "tới cổng dịch vụ công và cổng ảo hóa)",
                     "en": "WAN charts: the {window} up to the evaluation time (mean latency and packet loss to the "
                           "e-government portal and the virtualization gateway)"},
    "no_history": {"vi": "không có số liệu", "en": "no data"},
    "not_reporting": {"vi": "Máy không gửi số liệu: {hosts}", "en": "PCs not reporting: {hosts}"},
    "never_seen": {"vi": "{host} (Prometheus chưa từng thấy)", "en": "{host} (never seen by Prometheus)"},
    "criteria": {"vi": "Tiêu chí SẴN SÀNG: ít nhất {min_pcs_reporting} máy gửi số liệu, {min_pcs_spec_ok} máy đạt cấu "
                       "hình tối thiểu, {min_client_installed} máy có phần mềm ảo hóa, {min_printers_working} máy in "
                       "và {min_scanners_working} máy quét hoạt động; mọi đích WAN loại {roles} kết nối được và không "
                       "chập chờn.",
                 "en": "READY means: at least {min_pcs_reporting} PC reporting, {min_pcs_spec_ok} PC meeting the "
                       "minimum spec, {min_client_installed} PC with the virtualized client, {min_printers_working} "
                       "working printer and {min_scanners_working} working scanner; every WAN target of role "
                       "{roles} reached and not degraded."},
    "unexpected": {"vi": "Máy có số liệu nhưng không có trong kiểm kê: {hosts}",
                   "en": "Reporting but not in the inventory: {hosts}"},
    "max": {"vi": "tối đa", "en": "max"},
    "now": {"vi": "hiện tại", "en": "now"},
}

REASON_TEXT: dict[str, dict[str, str]] = {
    rd.NO_PCS: {"vi": "kiểm kê không có máy nào ở xã/phường này",
                "en": "the inventory lists no PC in this commune"},
    rd.PCS_NOT_REPORTING: {"vi": "không máy nào gửi số liệu ({rep}/{total} máy)",
                           "en": "no PC reporting ({rep} of {total})"},
    rd.NO_PC_MEETS_SPEC: {"vi": "không máy nào đạt cấu hình tối thiểu (0/{rep} máy đang báo)",
                          "en": "no PC meets the minimum spec (0 of {rep} reporting)"},
    rd.NO_WORKING_PRINTER: {"vi": "không có máy in hoạt động ({working}/{total}{problems})",
                            "en": "no working printer ({working} of {total}{problems})"},
    rd.NO_WORKING_SCANNER: {"vi": "không có máy quét hoạt động ({working}/{total})",
                            "en": "no working scanner ({working} of {total})"},
    rd.WAN_DOWN: {"vi": "mất kết nối WAN tới {targets}", "en": "WAN down to {targets}"},
    rd.WAN_DEGRADED: {"vi": "đường truyền WAN chập chờn tới {targets}", "en": "WAN degraded to {targets}"},
    rd.CLIENT_MISSING: {"vi": "chưa máy nào cài phần mềm ảo hóa (0/{rep} máy đang báo)",
                        "en": "the virtualized client is installed on no PC (0 of {rep} reporting)"},
}
NONE_FOUND = {
    rd.NO_WORKING_PRINTER: {"vi": "không thấy máy in nào", "en": "no printer found"},
    rd.NO_WORKING_SCANNER: {"vi": "không thấy máy quét nào", "en": "no scanner found"},
}
WAN_NO_DATA = {"vi": "không có số liệu đo tới cổng {roles}", "en": "no measurement of any {roles} target"}

WAN_STATE_TEXT = {
    rd.WAN_OK: {"vi": "tốt", "en": "ok"},
    rd.WAN_STATE_DEGRADED: {"vi": "chập chờn", "en": "degraded"},
    rd.WAN_STATE_DOWN: {"vi": "mất kết nối", "en": "down"},
    "none": {"vi": "không có số liệu", "en": "no data"},
}

PRINTER_PROBLEM_TEXT = {
    "offline": {"vi": "ngoại tuyến", "en": "offline"},
    "paused": {"vi": "tạm dừng", "en": "paused"},
    "stopped": {"vi": "đã dừng", "en": "stopped"},
    "not_accepting": {"vi": "không nhận lệnh in", "en": "not accepting jobs"},
    "media_empty": {"vi": "hết giấy", "en": "out of paper"},
    "media_low": {"vi": "sắp hết giấy", "en": "paper low"},
    "jammed": {"vi": "kẹt giấy", "en": "jammed"},
    "door_open": {"vi": "mở nắp", "en": "door open"},
    "toner_low": {"vi": "sắp hết mực", "en": "toner low"},
    "toner_empty": {"vi": "hết mực", "en": "toner empty"},
    "marker_waste_full": {"vi": "hộp mực thải đầy", "en": "waste toner full"},
    "service_requested": {"vi": "cần bảo trì", "en": "service requested"},
    "queue_stuck": {"vi": "hàng đợi in bị treo", "en": "queue stuck"},
    "unreachable": {"vi": "không liên lạc được", "en": "unreachable"},
    "other": {"vi": "lỗi khác", "en": "other problem"},
}

CSV_COLUMNS = ("district", "district_name", "commune", "commune_name", "verdict", "verdict_text", "reasons",
               "reasons_text", "pcs_total", "pcs_reporting", "pcs_spec_ok", "pcs_client_installed",
               "printers_working", "printers_total", "scanners_working", "scanners_total", "wan_state",
               "wan_rtt_ms", "wan_loss_percent", "not_reporting")


# --- small helpers -------------------------------------------------------------------

def fmt_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def fmt_utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def fmt_duration(seconds: float, lang: str) -> str:
    units = (("d", 86400, "ngày", "day"), ("h", 3600, "giờ", "hour"), ("m", 60, "phút", "minute"),
             ("s", 1, "giây", "second"))
    for _, size, vi, en in units:
        if seconds >= size and (seconds % size == 0 or size == 1 or seconds >= 10 * size):
            n = round(seconds / size)
            return f"{n} {vi}" if lang == "vi" else f"{n} {en}{'s' if n != 1 else ''}"
    return f"{seconds:g} s"


def wan_state(c: rd.Commune, criteria: rd.Criteria) -> str:
    """The commune's worst WAN state over the roles readiness looks at ("none": nothing measured)."""
    states = {t.state for t in c.wan_targets if t.role in criteria.wan_roles}
    for s in (rd.WAN_STATE_DOWN, rd.WAN_STATE_DEGRADED, rd.WAN_OK):
        if s in states:
            return s
    return "none"


def reason_text(c: rd.Commune, code: str, lang: str, criteria: rd.Criteria) -> str:
    if code in (rd.WAN_DOWN, rd.WAN_DEGRADED):
        state = rd.WAN_STATE_DOWN if code == rd.WAN_DOWN else rd.WAN_STATE_DEGRADED
        targets = c.wan_in(state, criteria.wan_roles)
        if not targets:
            return WAN_NO_DATA[lang].format(roles="/".join(criteria.wan_roles))
        names = ", ".join(f"{t.target} ({t.role})" for t in targets)
        return REASON_TEXT[code][lang].format(targets=names)
    problems = ""
    if code == rd.NO_WORKING_PRINTER and c.printer_problems:
        problems = ": " + ", ".join(f"{PRINTER_PROBLEM_TEXT.get(p, {}).get(lang, p)} {n}"
                                    for p, n in sorted(c.printer_problems.items()))
    working, total = ((c.printers_working, c.printers_total) if code == rd.NO_WORKING_PRINTER
                      else (c.scanners_working, c.scanners_total))
    if code in NONE_FOUND and total == 0:
        return NONE_FOUND[code][lang]
    return REASON_TEXT[code][lang].format(rep=len(c.reporting), total=len(c.hosts) if code == rd.PCS_NOT_REPORTING
                                          else total, working=working, problems=problems)


def not_reporting_text(c: rd.Commune, lang: str) -> str:
    if not c.not_reporting:
        return ""
    never = set(c.never_seen)
    hosts = ", ".join(TEXT["never_seen"][lang].format(host=h) if h in never else h for h in c.not_reporting)
    return TEXT["not_reporting"][lang].format(hosts=hosts)


def _ms(v: float | None) -> str:
    return "" if v is None else f"{v * 1000:.0f}"


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v * 100:.1f}"


# --- JSON ----------------------------------------------------------------------------

def to_doc(report: rd.Report, lang: str) -> dict[str, Any]:
    """The report as plain data (schema docs/readiness.schema.json, version SCHEMA_VERSION)."""
    crit = report.criteria
    communes = []
    for c in report.communes:
        doc = {
            "district": c.district, "district_name": c.district_name,
            "commune": c.commune, "name": c.name,
            "verdict": c.verdict, "ready": c.ready,
            "reasons": [{"code": r, "text": reason_text(c, r, lang, crit)} for r in c.reasons],
            "pcs": {"total": len(c.hosts), "reporting": len(c.reporting), "spec_ok": c.pcs_spec_ok,
                    "client_installed": c.pcs_client_installed, "not_reporting": c.not_reporting,
                    "never_seen": c.never_seen},
            "printers": {"total": c.printers_total, "working": c.printers_working,
                         "problems": dict(sorted(c.printer_problems.items()))},
            "scanners": {"total": c.scanners_total, "working": c.scanners_working},
            "wan": {"state": wan_state(c, crit),
                    "targets": [{"target": t.target, "role": t.role, "state": t.state} for t in c.wan_targets],
                    "rtt_seconds": c.wan_rtt_seconds, "loss_ratio": c.wan_loss_ratio},
        }
        if c.history is not None:
            doc["wan"]["history"] = {"rtt_seconds": [[t, v] for t, v in c.history.rtt_seconds],
                                     "loss_ratio": [[t, v] for t, v in c.history.loss_ratio]}
        communes.append(doc)
    return {
        "schema_version": SCHEMA_VERSION,
        "lang": lang,
        "evaluated_at": fmt_utc(report.evaluated_at),
        "evaluated_at_unix": report.evaluated_at,
        "generated_at": fmt_utc(report.generated_at),
        "prometheus": report.prometheus,
        "inventory": report.inventory,
        "filter": {"district": report.district_filter, "commune": report.commune_filter},
        "criteria": crit.as_dict(),
        "queries": report.queries,
        "history_seconds": report.history_seconds,
        "summary": {"communes": len(report.communes), "ready": sum(c.ready for c in report.communes),
                    "not_ready": sum(not c.ready for c in report.communes),
                    "pcs": sum(d.pcs for d in report.districts),
                    "pcs_reporting": sum(d.pcs_reporting for d in report.districts)},
        "districts": [{"district": d.district, "name": d.name, "communes": len(d.communes), "ready": d.ready,
                       "not_ready": d.not_ready, "pcs": d.pcs, "pcs_reporting": d.pcs_reporting}
                      for d in report.districts],
        "communes": communes,
        "unexpected_instances": report.unexpected_instances,
    }


def render_json(report: rd.Report, lang: str) -> str:
    """Indented down to one line per district and commune: json.dumps(indent=...) would use Python's
    own encoder throughout (seconds for 10,000 communes), each line here is the C encoder's."""
    return _indented(to_doc(report, lang), 2) + "\n"


def _indented(value: object, levels: int, pad: str = "") -> str:
    if levels == 0 or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value, ensure_ascii=False)
    inner = pad + "  "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_indented(v, levels - 1, inner)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    return "[\n" + ",\n".join(inner + _indented(v, levels - 1, inner) for v in value) + "\n" + pad + "]"


# --- CSV -----------------------------------------------------------------------------

def _cell(value: object) -> str:
    """No spreadsheet formulas from inventory names (=, +, -, @ at the start)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def render_csv(report: rd.Report, lang: str) -> str:
    """UTF-8 with a byte order mark (Excel then shows Vietnamese right); one row per commune."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    crit = report.criteria
    for c in report.communes:
        w.writerow([_cell(x) for x in (
            c.district, c.district_name, c.commune, c.name, c.verdict, TEXT[c.verdict][lang],
            ";".join(c.reasons), "; ".join(reason_text(c, r, lang, crit) for r in c.reasons),
            len(c.hosts), len(c.reporting), c.pcs_spec_ok, c.pcs_client_installed, c.printers_working,
            c.printers_total, c.scanners_working, c.scanners_total, wan_state(c, crit), _ms(c.wan_rtt_seconds),
            _pct(c.wan_loss_ratio), ";".join(c.not_reporting))])
    return "\ufeff" + buf.getvalue()


# --- text table ----------------------------------------------------------------------

def _header(report: rd.Report, lang: str) -> list[str]:
    t = TEXT
    total = len(report.communes)
    ready = sum(c.ready for c in report.communes)
    lines = [f"wardwatch — {t['title'][lang]}",
             f"{t['evaluated'][lang]}: {fmt_time(report.evaluated_at)} · {t['source'][lang]}: {report.prometheus} · "
             + t["queries"][lang].format(n=report.queries),
             t["summary"][lang].format(ready=ready, total=total, not_ready=total - ready,
                                       rep=sum(d.pcs_reporting for d in report.districts),
                                       pcs=sum(d.pcs for d in report.districts))]
    if report.unexpected_instances:
        lines.append(t["unexpected"][lang].format(hosts=", ".join(report.unexpected_instances)))
    return lines


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def render_table(report: rd.Report, lang: str) -> str:
    t = TEXT
    crit = report.criteria
    out = _header(report, lang)
    head = [t[k][lang] for k in ("col_commune", "col_verdict", "col_pcs", "col_spec", "col_client", "col_printers",
                                 "col_scanners", "col_wan", "col_reasons")]
    for d in report.districts:
        out += ["", t["district_line"][lang].format(name=d.name, key=d.district, ready=d.ready, total=len(d.communes))]
        rows = [head]
        for c in d.communes:
            details = [reason_text(c, r, lang, crit) for r in c.reasons]
            if c.reasons != [rd.PCS_NOT_REPORTING] and (nr := not_reporting_text(c, lang)):
                details.append(nr)
            rows.append([c.name, t[c.verdict][lang], f"{len(c.reporting)}/{len(c.hosts)}", str(c.pcs_spec_ok),
                         str(c.pcs_client_installed), f"{c.printers_working}/{c.printers_total}",
                         f"{c.scanners_working}/{c.scanners_total}", WAN_STATE_TEXT[wan_state(c, crit)][lang],
                         "; ".join(details)])
        out += ["  " + line for line in _table(rows)]
    out += ["", t["criteria"][lang].format(**crit.as_dict() | {"roles": "/".join(crit.wan_roles)})]
    return "\n".join(out) + "\n"


# --- HTML ----------------------------------------------------------------------------

CSS = """
body{font-family:"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;margin:24px;color:#212121;font-size:14px}
h1{font-size:20px;margin:0 0 6px}h2{font-size:16px;margin:22px 0 8px}
.meta{color:#616161;margin:2px 0}.summary{font-size:15px;margin:10px 0}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #e0e0e0;padding:4px 6px;text-align:left;
vertical-align:top}th{background:#f5f5f5;position:sticky;top:0}
td.num{text-align:right;white-space:nowrap}
.verdict{font-weight:600;white-space:nowrap}tr.ready .verdict{color:#2e7d32}tr.not-ready .verdict{color:#c62828}
tr.not-ready{background:#fff8f8}ul.reasons{margin:0;padding-left:16px}.small{color:#616161;font-size:12px}
.spark-cell{white-space:nowrap}.spark-cell svg{display:block}
@media print{th{position:static}tr{page-break-inside:avoid}}
"""


def render_html(report: rd.Report, lang: str) -> str:
    t = TEXT
    crit = report.criteria
    total = len(report.communes)
    ready = sum(c.ready for c in report.communes)
    h = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        # nothing may load from anywhere: the file is read offline
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(t['title'][lang])} — {esc(fmt_time(report.evaluated_at))}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{esc(t['title'][lang])}</h1>",
        f'<p class="meta">{esc(t["evaluated"][lang])}: <time datetime="{fmt_utc(report.evaluated_at)}">'
        f'{esc(fmt_time(report.evaluated_at))}</time> · {esc(t["generated"][lang])}: '
        f'{esc(fmt_time(report.generated_at))} · {esc(t["source"][lang])}: {esc(report.prometheus)} · '
        f'{esc(t["queries"][lang].format(n=report.queries))}</p>',
        f'<p class="summary" id="summary">{esc(t["summary"][lang].format(ready=ready, total=total, not_ready=total - ready, rep=sum(d.pcs_reporting for d in report.districts), pcs=sum(d.pcs for d in report.districts)))}</p>',  # noqa: E501
    ]
    if report.unexpected_instances:
        h.append(f'<p class="meta">{esc(t["unexpected"][lang].format(hosts=", ".join(report.unexpected_instances)))}'
                 "</p>")
    # per district: chart and table
    h.append(f'<h2>{esc(t["districts_heading"][lang])}</h2>')
    h.append(f'<figure id="chart-districts">{stacked_bars([(d.name, d.ready, d.not_ready) for d in report.districts], (t["col_ready"][lang], t["col_not_ready"][lang]), t["chart_districts"][lang])}'  # noqa: E501
             f'<figcaption class="small">{esc(t["chart_districts"][lang])}</figcaption></figure>')
    h.append('<table id="districts"><thead><tr>' + "".join(
        f"<th>{esc(t[k][lang])}</th>" for k in ("col_district", "col_communes", "col_ready", "col_not_ready",
                                                "col_pcs")) + "</tr></thead><tbody>")
    for d in report.districts:
        h.append(f'<tr data-district="{esc(d.district)}"><td>{esc(d.name)}</td><td class="num">{len(d.communes)}</td>'
                 f'<td class="num">{d.ready}</td><td class="num">{d.not_ready}</td>'
                 f'<td class="num">{d.pcs_reporting}/{d.pcs}</td></tr>')
    h.append("</tbody></table>")

    # per commune
    h.append(f'<h2>{esc(t["communes_heading"][lang])}</h2>')
    history = report.history_seconds
    if history:
        h.append(f'<p class="small">{esc(t["chart_window"][lang].format(window=fmt_duration(history, lang)))}</p>')
    cols = ["col_district", "col_commune", "col_verdict", "col_pcs", "col_spec", "col_client", "col_printers",
            "col_scanners", "col_wan", "col_reasons"] + (["col_rtt", "col_loss"] if history else [])
    h.append('<table id="readiness"><thead><tr>' + "".join(f"<th>{esc(t[k][lang])}</th>" for k in cols)
             + "</tr></thead><tbody>")
    start = report.evaluated_at - (history or 0)
    for c in report.communes:
        items = [reason_text(c, r, lang, crit) for r in c.reasons]
        nr = not_reporting_text(c, lang) if c.reasons != [rd.PCS_NOT_REPORTING] else ""
        reasons = "".join(f'<li data-reason="{esc(r)}">{esc(text)}</li>' for r, text in zip(c.reasons, items,
                                                                                           strict=True))
        cls = "ready" if c.ready else "not-ready"
        row = [f'<tr class="{cls}" data-district="{esc(c.district)}" data-commune="{esc(c.commune)}">',
               f"<td>{esc(c.district_name)}</td><td>{esc(c.name)}</td>",
               f'<td class="verdict">{esc(t[c.verdict][lang])}</td>',
               f'<td class="num">{len(c.reporting)}/{len(c.hosts)}</td><td class="num">{c.pcs_spec_ok}</td>',
               f'<td class="num">{c.pcs_client_installed}</td>',
               f'<td class="num">{c.printers_working}/{c.printers_total}</td>',
               f'<td class="num">{c.scanners_working}/{c.scanners_total}</td>',
               f"<td>{esc(WAN_STATE_TEXT[wan_state(c, crit)][lang])}</td>",
               f'<td>{"<ul class=reasons>" + reasons + "</ul>" if reasons else ""}'
               f'{"<div class=small>" + esc(nr) + "</div>" if nr else ""}</td>']
        if history:
            hist = c.history or rd.History()
            row.append(_spark_cell(hist.rtt_seconds, start, report.evaluated_at, lang, "rtt", c))
            row.append(_spark_cell(hist.loss_ratio, start, report.evaluated_at, lang, "loss", c))
        row.append("</tr>")
        h.append("".join(row))
    h.append("</tbody></table>")
    h.append(f'<p class="small">{esc(t["criteria"][lang].format(**crit.as_dict() | {"roles": "/".join(crit.wan_roles)}))}</p>')  # noqa: E501
    h.append("</body></html>")
    return "\n".join(h) + "\n"


def _spark_cell(points: list[tuple[float, float]], start: float, end: float, lang: str, kind: str,
                c: rd.Commune) -> str:
    if not points:
        return f'<td class="spark-cell small">{esc(TEXT["no_history"][lang])}</td>'
    peak = max(v for _, v in points)
    last = points[-1][1]
    if kind == "rtt":
        svg = sparkline(points, start, end, y_max=max(peak, 0.05), title=f"{c.name}: {TEXT['col_rtt'][lang]}")
        label = f"{TEXT['now'][lang]} {last * 1000:.0f} ms · {TEXT['max'][lang]} {peak * 1000:.0f} ms"
    else:
        svg = sparkline(points, start, end, y_max=max(peak, 0.05), color=LOSS_COLOR,
                        title=f"{c.name}: {TEXT['col_loss'][lang]}")
        label = f"{TEXT['now'][lang]} {last * 100:.1f}% · {TEXT['max'][lang]} {peak * 100:.1f}%"
    return f'<td class="spark-cell">{svg}<span class="small">{esc(label)}</span></td>'


def render(report: rd.Report, fmt: str, lang: str) -> str:
    return {"table": render_table, "csv": render_csv, "json": render_json, "html": render_html}[fmt](report, lang)
