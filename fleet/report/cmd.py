"""`wardwatch report weekly`: availability of every commune in office hours, minutes NOT READY
by reason, incidents and their time to restore, per district and city, with the change from
the previous period; as a table, CSV, JSON or one offline HTML file (docs/report.md)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from fleet.errors import EXIT_OK, FleetError
from fleet.inventory import load_inventory
from fleet.progress import Progress
from fleet.promapi import Prometheus
from fleet.readiness_cmd import DEFAULT_PROMETHEUS, write_out
from fleet.report import calendar as cal_mod
from fleet.report import render
from fleet.report import weekly as wk

STEP_TEXT = {
    "inventory": {"vi": "đọc kiểm kê", "en": "reading the inventory"},
    "ready": {"vi": "thời gian sẵn sàng", "en": "time READY"},
    "data": {"vi": "thời gian có số liệu", "en": "time with data"},
    "previous": {"vi": "kỳ trước", "en": "previous period"},
    "alerts": {"vi": "cảnh báo (ALERTS)", "en": "alerts (ALERTS)"},
    "done": {"vi": "xong", "en": "done"},
    "wrote": {"vi": "đã ghi {path}", "en": "wrote {path}"},
    **{r: {"vi": f"lý do {r}", "en": f"reason {r}"} for r in wk.REASONS},
}
PREFIX = {"vi": "báo cáo tuần", "en": "weekly report"}



def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="reports over a period: `report weekly` (availability, incidents, time to restore)",
        description="Báo cáo theo kỳ / Reports over a period.")
    sub = p.add_subparsers(dest="report", metavar="REPORT")
    w = sub.add_parser(
        "weekly", help="availability of every commune in office hours, incidents and time to restore",
        description="Báo cáo tuần: tỉ lệ thời gian sẵn sàng của từng xã/phường trong giờ làm việc, số phút chưa sẵn "
                    "sàng theo lý do, các sự cố và thời gian khắc phục.\n"
                    "Weekly report: availability of every commune in office hours, minutes NOT READY by reason, "
                    "incidents and time to restore; per district and city, with the change from the previous period.",
        epilog="exit codes: 0 report written, 2 bad input (arguments, config, inventory, --out), 3 Prometheus did "
               "not answer or refused a query.\ndocs/report.md describes the figures and the JSON schema.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    when = w.add_mutually_exclusive_group()
    when.add_argument("--week", metavar="YYYY-Www", help="ISO week, e.g. 2026-W48 (default: last week)")
    when.add_argument("--from", dest="date_from", metavar="DATE", help="first day (YYYY-MM-DD, with --to)")
    w.add_argument("--to", dest="date_to", metavar="DATE", help="last day, included (YYYY-MM-DD)")
    w.add_argument("--prometheus", default=os.environ.get("WARDWATCH_PROMETHEUS", DEFAULT_PROMETHEUS), metavar="URL",
                   help=f"Prometheus or VictoriaMetrics base URL (default: $WARDWATCH_PROMETHEUS or "
                        f"{DEFAULT_PROMETHEUS})")
    w.add_argument("--config", default=cal_mod.default_config(), metavar="PATH",
                   help="alerts/config.yml: office hours and holidays (default: $WARDWATCH_ALERTS_CONFIG or "
                        f"{cal_mod.DEFAULT_CONFIG})")
    w.add_argument("-i", "--inventory", metavar="PATH",
                   help="inventory: district and commune names, communes without any data (default: "
                        "$WARDWATCH_INVENTORY if set; otherwise names are the labels)")
    w.add_argument("--district", metavar="D", help="only this district (label, or name with --inventory)")
    w.add_argument("--format", choices=render.FORMATS, default="table")
    w.add_argument("--lang", choices=("vi", "en"), default="vi", help="language (default vi)")
    w.add_argument("--step", type=int, default=60, metavar="S",
                   help="resolution in seconds: the rules' evaluation interval or more (default 60)")
    w.add_argument("--out", metavar="FILE", help="write here (atomically) instead of standard output")
    w.add_argument("--timeout", type=float, default=120.0, metavar="S", help="per query (default 120)")
    w.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    w.set_defaults(func=run)
    p.set_defaults(func=lambda _args: (p.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    lang = args.lang
    progress = Progress(lang, PREFIX, STEP_TEXT, enabled=not args.quiet)
    if (args.date_from is None) != (args.date_to is None):
        raise FleetError("--from and --to go together / --from và --to phải đi cùng nhau")
    cal = cal_mod.load_calendar(args.config)
    now = time.time()
    if args.week:
        period = cal_mod.iso_week(args.week)
    elif args.date_from:
        period = cal_mod.date_range(args.date_from, args.date_to)
    else:
        period = cal_mod.last_week(cal, now)
    prom = Prometheus(args.prometheus, timeout=args.timeout)
    inventory_path = args.inventory or os.environ.get("WARDWATCH_INVENTORY")
    if inventory_path:
        progress("inventory", 0, 1)
        scope = wk.scope_from_inventory(load_inventory(inventory_path, lang=lang), args.district)
    else:
        scope = wk.Scope([], args.district)
    report = wk.build(prom, cal, period, step=args.step, scope=scope, now=now, progress=progress)
    text = render.render(report, args.format, lang)
    if args.out:
        write_out(Path(args.out), text.encode("utf-8"))
        progress.note("wrote", path=args.out)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return EXIT_OK
