"""`wardwatch readiness`: each commune READY or NOT READY with every reason, counts per
district, as a table, CSV, JSON or an offline HTML file (docs/readiness.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

from agent import files, syntax
from fleet import readiness as rd
from fleet import report_render
from fleet.errors import EXIT_FAIL, EXIT_OK, EXIT_USAGE, FleetError
from fleet.inventory import load_inventory
from fleet.inventory_cmd import default_inventory
from fleet.progress import Progress
from fleet.promapi import Prometheus

DEFAULT_PROMETHEUS = "http://localhost:9090"
DEFAULT_HISTORY = "7d"

STEP_TEXT = {
    "inventory": {"vi": "đọc kiểm kê", "en": "reading the inventory"},
    "reporting": {"vi": "máy đang gửi số liệu", "en": "PCs reporting"},
    "spec": {"vi": "cấu hình tối thiểu", "en": "minimum spec"},
    "client": {"vi": "phần mềm ảo hóa", "en": "virtualized client"},
    "printers": {"vi": "máy in", "en": "printers"},
    "printer_problems": {"vi": "lỗi máy in", "en": "printer problems"},
    "scanners": {"vi": "máy quét", "en": "scanners"},
    "wan": {"vi": "kết nối WAN", "en": "WAN reachability"},
    "wan_degraded": {"vi": "chất lượng WAN", "en": "WAN quality"},
    "wan_rtt": {"vi": "độ trễ WAN", "en": "WAN latency"},
    "wan_loss": {"vi": "mất gói WAN", "en": "WAN loss"},
    "history_rtt": {"vi": "lịch sử độ trễ WAN", "en": "WAN latency history"},
    "history_loss": {"vi": "lịch sử mất gói WAN", "en": "WAN loss history"},
    "done": {"vi": "xong", "en": "done"},
    "wrote": {"vi": "đã ghi {path}", "en": "wrote {path}"},
}
PREFIX = {"vi": "báo cáo sẵn sàng", "en": "readiness"}



def parse_duration(text: str, option: str) -> float:
    try:
        return syntax.parse_duration(text, plain_seconds=False)
    except ValueError:
        raise FleetError(f"{option} {text!r}: expected a duration like 30m, 6h, 7d / cần một khoảng thời gian "
                         f"như 30m, 6h, 7d", EXIT_USAGE) from None


def parse_time(text: str, now: float | None = None) -> float:
    """--at: ISO 8601 (2024-05-20T09:00, 2024-05-20 09:00+07:00; no offset = this machine's
    local time), Unix seconds, or how long ago (-2h, -7d)."""
    now = time.time() if now is None else now
    s = text.strip()
    if s.startswith("-"):
        at = now - parse_duration(s[1:], "--at")
    elif re.fullmatch(r"\d{9,11}(\.\d+)?", s):
        at = float(s)
    else:
        try:
            d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise FleetError(f"--at {text!r}: expected a time like 2024-05-20T09:00, 2024-05-20 09:00+07:00, "
                             f"a Unix time or -2h / cần thời điểm dạng 2024-05-20T09:00 hoặc -2h", EXIT_USAGE) from None
        if d.tzinfo is None:
            d = d.astimezone()  # local time of this machine
        at = d.timestamp()
    if at > now + 60:
        raise FleetError(f"--at {text!r} is in the future / thời điểm nằm trong tương lai", EXIT_USAGE)
    return at


def write_out(path: Path, data: bytes) -> None:
    """All or nothing: a temp file in the same directory, fsync, rename."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FleetError(f"--out {path}: directory {directory} does not exist / thư mục không tồn tại", EXIT_USAGE)
    try:
        files.write_atomic(path, data)
    except OSError as e:
        raise FleetError(f"--out {path}: cannot write / không ghi được: {e.strerror or e}", EXIT_USAGE) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "readiness", help="each commune READY or NOT READY, and why (table, CSV, JSON, HTML)",
        description="Mức sẵn sàng của từng xã/phường và lý do, từ Prometheus và kiểm kê.\n"
                    "Each commune READY or NOT READY with every reason, from Prometheus and the inventory.",
        epilog="exit codes: 0 every commune READY, 1 some commune NOT READY, 2 bad input (arguments, inventory, "
               "unknown district/commune, --out), 3 Prometheus did not answer or refused a query.\n"
               "docs/readiness.md describes the criteria and the JSON schema.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--inventory", default=default_inventory(), metavar="PATH",
                   help="inventory file or directory (default: $WARDWATCH_INVENTORY or ./inventory)")
    p.add_argument("--prometheus", default=os.environ.get("WARDWATCH_PROMETHEUS", DEFAULT_PROMETHEUS), metavar="URL",
                   help=f"Prometheus base URL (default: $WARDWATCH_PROMETHEUS or {DEFAULT_PROMETHEUS})")
    p.add_argument("--district", metavar="D", help="only this district (group name, short name or name)")
    p.add_argument("--commune", metavar="C", help="only this commune (group name, short name or name)")
    p.add_argument("--format", choices=report_render.FORMATS, default="table")
    p.add_argument("--lang", choices=("vi", "en"), default="vi", help="language (default vi)")
    p.add_argument("--at", metavar="TIME",
                   help="evaluate at a past time: 2024-05-20T09:00 (local time), 2024-05-20T09:00+07:00, "
                        "Unix seconds, or -2h / -7d (default: now)")
    p.add_argument("--history", metavar="DURATION",
                   help=f"window of the WAN charts and history, e.g. 7d, 24h, or 0 for none "
                        f"(default: {DEFAULT_HISTORY} for html, none otherwise)")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of standard output")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="per query (default 60)")
    p.add_argument("--source", choices=rd.SOURCES, default="raw",
                   help="raw: the agents' series (default); recorded: the district rules' per-commune series, "
                        "e.g. on the city VictoriaMetrics (docs/city-tier.md)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    lang = args.lang
    progress = Progress(lang, PREFIX, STEP_TEXT, enabled=not args.quiet)
    at = parse_time(args.at) if args.at else None
    history_text = args.history if args.history is not None else (DEFAULT_HISTORY if args.format == "html" else "0")
    history = None if history_text.strip() in ("0", "") else parse_duration(history_text, "--history")
    prom = Prometheus(args.prometheus, timeout=args.timeout)
    progress("inventory", 0, 1)
    if args.district or args.commune:
        # the labels to query come from the inventory (a name may be given for a group)
        scope = rd.scope_from_inventory(load_inventory(args.inventory, lang=lang), args.district, args.commune)
        report = rd.build(scope, prom, at=at, history_seconds=history, inventory_source=str(args.inventory),
                          progress=progress, source=args.source)
    else:
        # the whole fleet: the queries run while the inventory is read (seconds each at 100,000 PCs)
        with rd.Asking(prom, at=at, history_seconds=history, source=args.source) as asking:
            scope = rd.scope_from_inventory(load_inventory(args.inventory, lang=lang))
            report = asking.report(scope, str(args.inventory), progress)
    text = report_render.render(report, args.format, lang)
    if args.out:
        write_out(Path(args.out), text.encode("utf-8"))
        progress.note("wrote", path=args.out)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return EXIT_OK if all(c.ready for c in report.communes) else EXIT_FAIL
