"""`wardwatch diagnose HOST`: what is wrong on one PC, over SSH (docs/diagnose.md)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from agent.report import INFO, PASS, STATUS
from fleet.diagnose import LINUX_LOG_FILE, Diagnosis, diagnose, resolve_target
from fleet.errors import EXIT_FAIL, EXIT_OK
from fleet.hostkeys.known_hosts import default_known_hosts

TEXT = {
    "title": {"vi": "wardwatch — chẩn đoán máy {host} ({address}:{port}, người dùng {user})",
              "en": "wardwatch — diagnosis of PC {host} ({address}:{port}, user {user})"},
    "key_known": {"vi": "Khóa máy chủ: {key} (khớp known_hosts)", "en": "Host key: {key} (matches known_hosts)"},
    "key_new": {"vi": "Khóa máy chủ: {key} (MỚI, vừa ghi vào {path})",
                "en": "Host key: {key} (NEW, just recorded in {path})"},
    "service": {"vi": "Dịch vụ wardwatch-agent: {state}", "en": "Service wardwatch-agent: {state}"},
    "check": {"vi": "Kiểm tra của tác tử (wardwatch-agent check, máy {host}):",
              "en": "The agent's check (wardwatch-agent check, PC {host}):"},
    "wan": {"vi": "Đường truyền WAN, theo chính máy này:", "en": "WAN targets, as this PC sees them:"},
    "no_wan": {"vi": "  (kết quả kiểm tra không có đích WAN nào: bộ thu thập wan chưa bật hoặc chưa cấu hình)",
               "en": "  (no WAN target in the check: the wan collector is off or has no targets)"},
    "collectors": {"vi": "Bộ thu thập:", "en": "Collectors:"},
    "collector_ok": {"vi": "tốt", "en": "ok"},
    "collector_fail": {"vi": "LỖI", "en": "FAILED"},
    "logs": {"vi": "Nhật ký gần đây ({source}, {n} dòng):", "en": "Recent log lines ({source}, {n} lines):"},
    "no_logs": {"vi": "Nhật ký: không đọc được (journalctl và {file})",
                "en": "Log: none could be read (journalctl and {file})"},
    "needed": {"vi": "cần", "en": "needs"},
    "ok": {"vi": "Kết quả: ĐẠT — máy sẵn sàng phục vụ", "en": "Result: PASS — this PC is ready"},
    "fail": {"vi": "Kết quả: KHÔNG ĐẠT — {n} mục cần xử lý", "en": "Result: FAIL — {n} item(s) need attention"},
    "progress": {"vi": "chẩn đoán {host}: {step}", "en": "diagnose {host}: {step}"},
}
SERVICE_STATE = {
    "active": {"vi": "đang chạy (active)", "en": "running (active)"},
    "running": {"vi": "đang chạy (RUNNING)", "en": "running (RUNNING)"},
    "inactive": {"vi": "ĐÃ DỪNG (inactive)", "en": "STOPPED (inactive)"},
    "stopped": {"vi": "ĐÃ DỪNG (STOPPED)", "en": "STOPPED"},
    "failed": {"vi": "LỖI (failed)", "en": "FAILED"},
    "missing": {"vi": "CHƯA CÀI ĐẶT", "en": "NOT INSTALLED"},
    "unknown": {"vi": "không rõ", "en": "unknown"},
}
STEPS = {
    "connect": {"vi": "kết nối SSH", "en": "connecting over SSH"},
    "check": {"vi": "chạy wardwatch-agent check", "en": "running wardwatch-agent check"},
    "service": {"vi": "trạng thái dịch vụ", "en": "service state"},
    "logs": {"vi": "nhật ký", "en": "log lines"},
}


def _seconds(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _item_line(item: dict[str, Any], lang: str, width: int) -> str:
    status = f"[{STATUS[lang].get(item.get('status', 'unknown'), item.get('status', '?'))}]".ljust(width)
    text = str(item.get("subject", item.get("key", "")))
    found, needed, detail = item.get("found") or "", item.get("needed") or "", item.get("detail") or ""
    if found:
        text += f": {found}"
    if needed:
        text += f" ({TEXT['needed'][lang]} {needed})"
    if detail:
        text += f" — {detail}" if found or needed else f": {detail}"
    return f"  {status} {text}"


def render(d: Diagnosis, lang: str, known_hosts: Path) -> str:
    t = d.target
    width = max(len(s) for s in STATUS[lang].values()) + 2
    out = [TEXT["title"][lang].format(host=t.host, address=t.address, port=t.port, user=t.user),
           (TEXT["key_new"][lang].format(key=d.host_key, path=known_hosts) if d.host_key_recorded
            else TEXT["key_known"][lang].format(key=d.host_key))]
    state = SERVICE_STATE.get(d.service, {}).get(lang, d.service)
    if d.service == "unknown" and d.service_detail:
        state += f" — {d.service_detail}"
    out.append(TEXT["service"][lang].format(state=state))
    check = d.check or {}
    out += ["", TEXT["check"][lang].format(host=check.get("host", t.host))]
    out += [_item_line(i, lang, width) for i in d.other_items]
    out += ["", TEXT["wan"][lang]]
    out += [_item_line(i, lang, width) for i in d.wan_items] or [TEXT["no_wan"][lang]]
    collectors = check.get("collectors") or {}
    if collectors:
        out += ["", TEXT["collectors"][lang]]
        for name, c in sorted(collectors.items()):
            if c.get("success"):
                out.append(f"  {name}: {TEXT['collector_ok'][lang]} ({_seconds(c.get('duration_seconds')):.2f} s)")
            else:
                out.append(f"  {name}: {TEXT['collector_fail'][lang]} — {c.get('error') or ''}")
    out.append("")
    if d.log_source:
        out.append(TEXT["logs"][lang].format(source=d.log_source, n=len(d.log_lines)))
        out += [f"  {line}" for line in d.log_lines]
    else:
        out.append(TEXT["no_logs"][lang].format(file=LINUX_LOG_FILE))
    failed = sum(i.get("status") not in (PASS, INFO) for i in check.get("items", [])) + (d.service_ok is False)
    out += ["", TEXT["ok"][lang] if d.ok else TEXT["fail"][lang].format(n=max(failed, 1))]
    return "\n".join(out) + "\n"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "diagnose", help="diagnose one PC over SSH: agent check, service, log, WAN view",
        description="Chẩn đoán một máy qua SSH: kết quả kiểm tra của tác tử, dịch vụ, nhật ký, đường truyền.\n"
                    "Diagnose one PC over SSH: the agent's check, its service, its log, its view of the WAN.",
        epilog="exit codes: 0 the PC passes, 1 it fails a check (or the agent is missing), 2 bad input "
               "(unknown host in the inventory, missing key file or password variable), 3 the PC did not answer, "
               "4 SSH refused (authentication failed, host key unknown or changed).\n"
               "Passwords are read from the environment variable named by --password-env, never from the "
               "command line. docs/diagnose.md has the details.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("host", metavar="HOST", help="inventory host name (with --inventory) or address")
    p.add_argument("-i", "--inventory", default=os.environ.get("WARDWATCH_INVENTORY"), metavar="PATH",
                   help="inventory to look HOST up in (ansible_host, ansible_port, ansible_user); "
                        "default $WARDWATCH_INVENTORY, else HOST is an address")
    p.add_argument("--user", metavar="U", help="SSH user (default: the inventory's ansible_user, else yours)")
    p.add_argument("--port", type=int, metavar="P", help="SSH port (default: ansible_port, else 22)")
    p.add_argument("--identity", metavar="KEY", help="private key file")
    p.add_argument("--password-env", metavar="VAR",
                   help="name of an environment variable holding the password (or the key's passphrase)")
    p.add_argument("--known-hosts", metavar="FILE", default=None,
                   help="the PCs' SSH host keys, recorded by 'wardwatch inventory hostkeys' "
                        "(default: $WARDWATCH_KNOWN_HOSTS or ~/.config/wardwatch/known_hosts)")
    p.add_argument("--accept-new", action="store_true",
                   help="accept and record the key of a host not yet in known_hosts (a changed key is always "
                        "refused)")
    p.add_argument("--lang", choices=("vi", "en"), default="vi", help="language (default vi)")
    p.add_argument("--timeout", type=float, default=15.0, metavar="S",
                   help="seconds for connecting and for each short command (default 15)")
    p.add_argument("--check-timeout", type=float, default=90.0, metavar="S",
                   help="seconds for the agent's check, which probes devices and WAN (default 90)")
    p.add_argument("--log-lines", type=int, default=20, metavar="N", help="recent log lines to show (default 20)")
    p.add_argument("--log-file", default=LINUX_LOG_FILE, metavar="PATH",
                   help=f"log file read when the journal has nothing (default {LINUX_LOG_FILE})")
    p.add_argument("--agent-config", metavar="PATH",
                   help="the agent's config on the PC (default /etc/wardwatch/agent.yml, or "
                        "%%ProgramData%%\\wardwatch\\agent.yml on Windows)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    lang = args.lang
    target = resolve_target(args.host, args.inventory, args.user, args.port, lang)
    known_hosts = Path(args.known_hosts) if args.known_hosts else default_known_hosts()

    def progress(step: str) -> None:
        if not args.quiet:
            print(TEXT["progress"][lang].format(host=target.host, step=STEPS[step][lang]), file=sys.stderr,
                  flush=True)

    d = diagnose(target, known_hosts=known_hosts, accept_new=args.accept_new, identity=args.identity,
                 password_env=args.password_env, timeout=args.timeout, command_timeout=args.check_timeout,
                 lang=lang, log_lines=args.log_lines, agent_config=args.agent_config, log_file=args.log_file,
                 progress=progress)
    sys.stdout.write(render(d, lang, known_hosts))
    return EXIT_OK if d.ok else EXIT_FAIL
