"""wardwatch: the operators' command (ICT department, support team, district staff)."""

from __future__ import annotations

import argparse

from agent import __version__

PROG = "wardwatch"
DESCRIPTION = """\
Operator commands for a fleet of ward/commune PCs running wardwatch-agent.
Lệnh dành cho cán bộ vận hành: kiểm kê, triển khai, báo cáo sẵn sàng, chẩn đoán."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_subparsers(dest="command", metavar="COMMAND")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    return 0
