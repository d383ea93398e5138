"""wardwatch-agent: the command run on every ward/commune PC."""

from __future__ import annotations

import argparse
import logging
import socket
import sys

import yaml

from agent import __version__
from agent import config as cfg

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
PROG = "wardwatch-agent"

DESCRIPTION = """\
Reports this PC's readiness to serve online public services (hardware against
the minimum spec, printers, scanners, WAN link, virtualized client) as
Prometheus metrics.

Báo cáo mức sẵn sàng của máy tính một cửa (cấu hình tối thiểu, máy in, máy quét,
đường truyền, phần mềm ảo hóa) dưới dạng số liệu Prometheus."""

EPILOG = f"""\
examples:
  {PROG} run                              built-in default config, :{cfg.DEFAULT_PORT}/metrics
  {PROG} run --config /etc/wardwatch/agent.yml --listen 127.0.0.1:{cfg.DEFAULT_PORT}
  {PROG} check --lang en                  readable check of this PC, exit 1 if anything fails
  {PROG} check --format json
  {PROG} print-config --config agent.yml  the effective config, defaults filled in

exit codes: 0 ok, 1 check failed or runtime error, 2 bad config or usage."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--config", metavar="FILE",
                        help="YAML config file; without it the built-in default config is used")
        return sp

    run = add("run", "run the agent: collect in the background and serve /metrics")
    run.add_argument("--listen", metavar="HOST:PORT", help=f"override web.listen (default :{cfg.DEFAULT_PORT})")
    run.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    run.add_argument("--log-file", metavar="FILE", default=None,
                     help="log to FILE, rotated at 10 MiB with 5 kept (a Windows service has no journal); "
                          "default: stderr")

    check = add("check", "check this PC once and print what passes and what fails")
    check.add_argument("--lang", choices=("vi", "en"), help="language (default: the config's, vi)")
    check.add_argument("--format", choices=("text", "json"), default="text")

    pc = add("print-config", "print the effective config (defaults filled in) as YAML")
    pc.add_argument("--reference", action="store_true", help="print the config reference (Markdown) instead")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"run": _run, "check": _check, "print-config": _print_config}[args.command](args)
    except cfg.ConfigError as e:
        print(f"{PROG}: config error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_FAIL


LOG_FORMAT = "%(asctime)s level=%(levelname)s %(name)s: %(message)s"
LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILE_BACKUPS = 5


def setup_logging(level: str, log_file: str | None = None) -> None:
    """stderr (systemd's journal), or a rotating file (the Windows service: %ProgramData%\\wardwatch\\logs)."""
    handler: logging.Handler
    if log_file:
        from logging.handlers import RotatingFileHandler

        handler = RotatingFileHandler(log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS,
                                      encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def _run(args: argparse.Namespace) -> int:
    from agent.app import Agent

    try:
        setup_logging(args.log_level, args.log_file)
    except OSError as e:
        print(f"{PROG}: --log-file {args.log_file}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    if args.listen is not None:
        try:
            cfg.Option("listen", "listen", "", "").parse(args.listen)
        except ValueError as e:
            print(f"{PROG}: --listen: {e}", file=sys.stderr)
            return EXIT_USAGE
    agent = Agent(args.config, args.listen)
    try:
        agent.handle_signals()
        agent.start()
    except OSError as e:
        listen = args.listen or "web.listen"
        print(f"{PROG}: cannot listen on {listen}: {e.strerror or e}", file=sys.stderr)
        return EXIT_FAIL
    print(f"{PROG}: metrics at {agent.server.url}", file=sys.stderr, flush=True)
    agent.run_forever()
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from agent import report
    from agent.app import build_runner

    settings = cfg.load(args.config)
    lang = args.lang or settings.language
    results = build_runner(settings).run_all_once()
    rows = report.build(results, lang)
    host = socket.gethostname()
    if args.format == "json":
        sys.stdout.write(report.render_json(rows, results, host))
    else:
        sys.stdout.write(report.render_text(rows, lang, host))
    return EXIT_OK if report.ok(rows) else EXIT_FAIL


def _print_config(args: argparse.Namespace) -> int:
    if args.reference:
        sys.stdout.write(cfg.reference_markdown())
        return EXIT_OK
    settings = cfg.load(args.config)
    sys.stdout.write(yaml.safe_dump(cfg.redacted(settings), sort_keys=False, allow_unicode=True))
    return EXIT_OK
