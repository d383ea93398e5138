"""wardwatch: the operators' command (ICT department, support team, district staff).

Each subcommand lives in its own module with `register(subparsers)`, which adds
its parser and sets `func(args) -> int`; the list below is explicit.
"""

from __future__ import annotations

import argparse
import sys

from agent import __version__
from fleet.errors import EXIT_USAGE, FleetError

PROG = "wardwatch"
DESCRIPTION = """\
Operator commands for a fleet of ward/commune PCs running wardwatch-agent.
Lệnh dành cho cán bộ vận hành: kiểm kê, triển khai, báo cáo sẵn sàng, chẩn đoán."""
EPILOG = """\
exit codes: 0 ok, 1 the command found failures, 2 bad input (arguments, inventory,
unknown district/commune), 3 a service or host did not answer, 4 SSH refused
(authentication failed, host key unknown or changed)."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for module in _commands():
        module.register(sub)
    return p


def _commands() -> list:
    """The explicit list of subcommand modules (each has register(subparsers))."""
    from fleet import diagnose_cmd, inventory_cmd, readiness_cmd, rollout_cmd
    from fleet.cache import cmd as cache_cmd
    from fleet.fix import command as fix_cmd
    from fleet.report import cmd as report_cmd

    return [inventory_cmd, rollout_cmd, readiness_cmd, diagnose_cmd, fix_cmd, report_cmd, cache_cmd]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except FleetError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
