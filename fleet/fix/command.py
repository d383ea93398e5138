"""`wardwatch fix PC ACTION`: one allow-listed action on one PC (or, with --commune and --yes,
every PC of a commune), run through the rollout's ansible-runner machinery (fleet/rollout.py:
wardwatch's known_hosts, strict host keys, the exact limit file, scrubbed artifacts), with the
PC's own agent asked before and after (fleet/diagnose.py) and every action in the audit log."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from fleet import rollout, selection
from fleet.diagnose import Target, diagnose
from fleet.errors import EXIT_AUTH, EXIT_FAIL, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, FleetError
from fleet.fix import audit
from fleet.fix.actions import ACTIONS, Action, allowed
from fleet.fix.verdict import Verdict, judge, unavailable
from fleet.hostkeys.known_hosts import default_known_hosts
from fleet.inventory import Host, Inventory, declared_variables, default_playbooks_dir, load_inventory
from fleet.inventory_cmd import default_inventory

PLAYBOOK = "fix.yml"
CHANGES_TASK = "Report the changes"  # the fix role's last task: its message lists what changed
# A queue name as CUPS and the fix role (playbooks/roles/fix/tasks/main.yml) take it:
# no space, '/' or '#', and not an option.
PRINTER_NAME = re.compile(r"^[^-\s/#][^\s/#]*$")
YES = ("y", "yes", "c", "co", "có")

TEXT = {
    "unknown_action": {"vi": "hành động không được phép {action!r}; chỉ được: {allowed}",
                       "en": "action {action!r} is not allowed; allowed: {allowed}"},
    "words": {"vi": "cần: wardwatch fix MÁY HÀNH_ĐỘNG (hoặc --commune XÃ HÀNH_ĐỘNG --yes)",
              "en": "usage: wardwatch fix PC ACTION (or --commune NAME ACTION --yes)"},
    "commune_yes": {"vi": "--commune chạy trên mọi máy của xã: cần thêm --yes",
                    "en": "--commune acts on every PC of the commune: it needs --yes too"},
    "printer": {"vi": "--printer chỉ dùng với {actions}", "en": "--printer goes with {actions} only"},
    "printer_name": {"vi": "--printer {name!r}: không phải tên hàng đợi in (không dấu cách, '/', '#', "
                           "không bắt đầu bằng '-')",
                     "en": "--printer {name!r}: not a print queue name (no space, '/' or '#', not starting with '-')"},
    "no_tty": {"vi": "cần xác nhận nhưng không có bàn phím (stdin không phải terminal): thêm --yes nếu chắc chắn",
               "en": "confirmation needed but stdin is not a terminal: add --yes if you are sure"},
    "confirm": {"vi": "Chạy '{action}'{printer} trên {pcs}? [c/K] ", "en": "Run '{action}'{printer} on {pcs}? [y/N] "},
    "declined": {"vi": "Đã hủy, không thay đổi gì.", "en": "Cancelled, nothing changed."},
    "on_printer": {"vi": " (máy in {p})", "en": " (printer {p})"},
    "action": {"vi": "Hành động: {name} — {text}", "en": "Action: {name} — {text}"},
    "check_mode": {"vi": "Chạy thử (--check): không thay đổi gì trên máy.",
                   "en": "Dry run (--check): nothing changes on the PC."},
    "before": {"vi": "{host}: trước khi sửa: {verdict}", "en": "{host}: before: {verdict}"},
    "after": {"vi": "{host}: sau khi sửa: {verdict}", "en": "{host}: after: {verdict}"},
    "v_ok": {"vi": "không có lỗi", "en": "no problem"},
    "v_fail": {"vi": "{n} lỗi: {problems}", "en": "{n} problem(s): {problems}"},
    "v_unknown": {"vi": "không hỏi được tác tử ({why})", "en": "the agent could not be asked ({why})"},
    "result": {"vi": "{host}: kết quả chạy: {status}{reason}", "en": "{host}: run: {status}{reason}"},
    "changes": {"vi": "{host}: đã thay đổi: {changes}", "en": "{host}: changed: {changes}"},
    "would": {"vi": "{host}: sẽ thay đổi: {changes}", "en": "{host}: would change: {changes}"},
    "nothing": {"vi": "không có gì", "en": "nothing"},
    "gone": {"vi": "{host}: ĐÃ HẾT LỖI — tác tử trên máy không còn báo lỗi này.",
             "en": "{host}: FIXED — the PC's agent no longer reports the problem."},
    "still": {"vi": "{host}: CHƯA HẾT LỖI — tác tử vẫn báo: {problems}",
              "en": "{host}: NOT FIXED — the agent still reports: {problems}"},
    "no_after": {"vi": "{host}: không biết đã hết lỗi chưa: {why}",
                 "en": "{host}: cannot tell whether it is fixed: {why}"},
    "history_verdicts": {"vi": "trước {before} → sau {after}", "en": "before {before} → after {after}"},
    "history_none": {"vi": "Chưa có hành động nào trong nhật ký ({path}).", "en": "No action logged yet ({path})."},
}
SOLVED = {True: {"vi": "đã hết lỗi", "en": "fixed"}, False: {"vi": "CHƯA hết lỗi", "en": "NOT fixed"}}
STATUS = {
    "ok": {"vi": "xong, không cần thay đổi", "en": "done, nothing needed changing"},
    "changed": {"vi": "xong, đã thay đổi", "en": "done, changed"},
    "failed": {"vi": "LỖI", "en": "FAILED"},
    "unreachable": {"vi": "KHÔNG KẾT NỐI ĐƯỢC", "en": "UNREACHABLE"},
    "not_run": {"vi": "không chạy", "en": "not run"},
    "dry_run": {"vi": "chạy thử xong", "en": "dry run done"},
}

EPILOG = f"""\
actions (nothing else can be run): {allowed()}

examples:
  wardwatch fix bd-phucxa-01 printer-resume --printer Phong_MotCua --check
  wardwatch fix bd-phucxa-01 printer-clear-jobs
  wardwatch fix --commune phuc_xa spooler-restart --yes
  wardwatch fix --history --limit 20

The PC's host key must be enrolled (wardwatch inventory hostkeys); a changed key is refused.
Before and after the action the PC's own agent is asked (wardwatch-agent check) whether the
problem is there. Every action is logged in <state dir>/fix.jsonl (docs/fix.md).

exit codes: 0 done and the agent reports no such problem, 1 the action failed or the problem
is still there (or the confirmation was declined), 2 bad input (unknown action, PC or option;
no confirmation possible), 3 the PC did not answer, 4 SSH refused (host key unknown or changed)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fix", help="run one allow-listed fix (runbook action) on a PC, audited",
        description="Sửa lỗi theo hướng dẫn xử lý: một hành động trong danh sách cho phép, trên một máy, có ghi "
                    "nhật ký.\nThe runbook's fix as one allow-listed, audited action on one PC.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("words", nargs="*", metavar="PC ACTION", help="the PC (inventory name) and the action")
    p.add_argument("-i", "--inventory", default=default_inventory(), metavar="PATH",
                   help="inventory file or directory (default: $WARDWATCH_INVENTORY or ./inventory)")
    p.add_argument("--printer", default="", metavar="NAME", help="printer-resume / printer-clear-jobs: this queue only")
    p.add_argument("--check", action="store_true", help="dry run: show what would change, change nothing")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--commune", metavar="NAME", help="every PC of this commune (needs --yes)")
    p.add_argument("--history", action="store_true", help="print the audit log of the actions run")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="with --history: the last N (default 50)")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="audit log and runs (default: $WARDWATCH_STATE_DIR or ~/.local/state/wardwatch)")
    p.add_argument("--playbooks", type=Path, default=None,
                   help="playbooks directory (default: $WARDWATCH_PLAYBOOKS, else those shipped with wardwatch)")
    p.add_argument("--vault-password-file", type=Path, metavar="FILE",
                   help="decrypt the inventory's ansible-vault secrets with this file")
    p.add_argument("--known-hosts", type=Path, default=None, metavar="FILE",
                   help="the PCs' SSH host keys, recorded by 'wardwatch inventory hostkeys' "
                        "(default: $WARDWATCH_KNOWN_HOSTS or ~/.config/wardwatch/known_hosts)")
    p.add_argument("--identity", metavar="KEY",
                   help="private key for asking the agent (default: the inventory's ansible_ssh_private_key_file)")
    p.add_argument("--agent-config", metavar="PATH",
                   help="the agent's config on the PC (default: the inventory's wardwatch_agent_config_dir/agent.yml)")
    p.add_argument("--timeout", type=float, default=15.0, metavar="S", help="seconds for SSH (default 15)")
    p.add_argument("--check-timeout", type=float, default=90.0, metavar="S",
                   help="seconds for the agent's check (default 90)")
    p.add_argument("--lang", choices=("vi", "en"), default="vi")
    p.set_defaults(func=fix_cmd)


def _t(key: str, lang: str, **kw: Any) -> str:
    return TEXT[key][lang].format(**kw)


def parse_words(args: argparse.Namespace) -> tuple[str | None, Action]:
    """(PC or None with --commune, action); an action outside the allow-list is exit 2."""
    words = list(args.words)
    if len(words) != (1 if args.commune else 2):
        raise FleetError(_t("words", args.lang), EXIT_USAGE)
    name = words[-1]
    if name not in ACTIONS:
        raise FleetError(_t("unknown_action", args.lang, action=name, allowed=allowed()), EXIT_USAGE)
    action = ACTIONS[name]
    if args.printer and not action.takes_printer:
        raise FleetError(_t("printer", args.lang, actions=", ".join(a for a in ACTIONS if ACTIONS[a].takes_printer)),
                         EXIT_USAGE)
    if args.printer and not PRINTER_NAME.match(args.printer):
        raise FleetError(_t("printer_name", args.lang, name=args.printer), EXIT_USAGE)
    if args.commune and not args.yes:
        raise FleetError(_t("commune_yes", args.lang), EXIT_USAGE)
    return (None if args.commune else words[0]), action


def target_of(h: Host) -> Target:
    return Target(h.name, h.address, h.ssh_port, str(h.vars.get("ansible_user") or getpass.getuser()))


def agent_config_of(h: Host, given: str | None) -> str | None:
    if given:
        return given
    if h.vars.get("wardwatch_agent_config_dir"):
        return f"{h.vars['wardwatch_agent_config_dir']}/agent.yml"
    if h.vars.get("wardwatch_agent_root"):
        return f"{h.vars['wardwatch_agent_root']}/etc/wardwatch/agent.yml"
    return None  # diagnose's default (/etc/wardwatch/agent.yml, or the Windows one)


def ask_agent(h: Host, action: Action, args: argparse.Namespace, known_hosts: Path) -> Verdict:
    """The agent's verdict on the action's problem. A host key unknown or changed, or SSH refusing
    us, stops the command (FleetError); an agent that cannot answer is a verdict of its own."""
    identity = args.identity or h.vars.get("ansible_ssh_private_key_file")
    try:
        d = diagnose(target_of(h), known_hosts=known_hosts, accept_new=False,
                     identity=os.path.expanduser(str(identity)) if identity else None, timeout=args.timeout,
                     command_timeout=args.check_timeout, lang=args.lang, log_lines=0,
                     agent_config=agent_config_of(h, args.agent_config))
    except FleetError as e:
        if e.exit_code in (EXIT_AUTH, EXIT_UNREACHABLE, EXIT_USAGE):
            message = str(e)
            for tail in (" (or check the fingerprint", " (hoặc đối chiếu dấu vân tay"):  # fix never records a key
                message = message.split(tail)[0]
            raise FleetError(message, e.exit_code) from None
        return unavailable(str(e))
    return judge(d, action, args.printer)


def show_verdict(v: Verdict, lang: str) -> str:
    if v.ok is None:
        return _t("v_unknown", lang, why=v.error)
    if v.ok:
        return _t("v_ok", lang)
    return _t("v_fail", lang, n=len(v.problems), problems="; ".join(v.problems))


def confirm(action: Action, names: list[str], args: argparse.Namespace) -> bool:
    if args.yes or args.check:
        return True
    if not sys.stdin or not sys.stdin.isatty():
        raise FleetError(_t("no_tty", args.lang), EXIT_USAGE)
    printer = _t("on_printer", args.lang, p=args.printer) if args.printer else ""
    answer = input(_t("confirm", args.lang, action=action.name, printer=printer, pcs=", ".join(names)))
    return answer.strip().lower() in YES


def changes_by_host(artifacts: Path) -> dict[str, list[str]]:
    """What the fix role's last task reported for each PC, from the run's job events."""
    out: dict[str, list[str]] = {}
    for f in sorted((artifacts / "job_events").glob("*.json")):
        try:
            ev = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        data = ev.get("event_data") or {}
        if ev.get("event") == "runner_on_ok" and str(data.get("task") or "") == CHANGES_TASK:
            msg = (data.get("res") or {}).get("msg")
            if isinstance(msg, list):
                out[str(data.get("host"))] = [str(m) for m in msg]
    return out


def run_action(inv: Inventory, names: list[str], action: Action, args: argparse.Namespace, state_dir: Path,
               known_hosts: Path, playbooks: Path) -> rollout.Result:
    opts = rollout.Options(
        inventory=Path(args.inventory), playbook=PLAYBOOK, limit_hosts=names, check=args.check,
        ssh_retries=1, timeout=int(args.timeout), playbooks_dir=playbooks,
        state_dir=state_dir / "fix",  # its own runs and hosts.json: never the rollout's --retry-failed list
        vault_password_file=args.vault_password_file, lang=args.lang, known_hosts=known_hosts,
        extravars={"fix_action": action.name, "fix_printer": args.printer})
    opts.ansible_hosts = selection.AnsibleHosts(opts.inventory, args.lang)
    return rollout.run(opts, inv)


def history(args: argparse.Namespace, state_dir: Path) -> int:
    entries = audit.read(state_dir, args.limit if args.limit > 0 else None)
    if not entries:
        print(_t("history_none", args.lang, path=audit.log_path(state_dir)))
        return EXIT_OK
    for e in entries:
        opts = e.get("options") or {}
        what = e.get("action", "?") + (f" --printer {opts['printer']}" if opts.get("printer") else "") + \
            (" --check" if opts.get("check") else "")

        def brief(v: Any) -> str:
            if not isinstance(v, dict) or v.get("ok") is None:
                return "?"
            return "OK" if v["ok"] else f"FAIL({len(v.get('problems') or [])})"

        solved = SOLVED.get(e.get("solved"), {}).get(args.lang, "-")
        print(f"{e.get('at', '?')}  {e.get('who', '?')}  {e.get('host', '?')}  {what}  {e.get('result', '?')}  "
              f"{_t('history_verdicts', args.lang, before=brief(e.get('before')), after=brief(e.get('after')))}  "
              f"{solved}")
    return EXIT_OK


def fix_cmd(args: argparse.Namespace) -> int:
    lang = args.lang
    state_dir = args.state_dir or rollout.default_state_dir()
    if args.history:
        return history(args, state_dir)
    pc, action = parse_words(args)
    if args.vault_password_file is not None and not args.vault_password_file.is_file():
        raise FleetError(f"--vault-password-file: {args.vault_password_file}: no such file / không có tệp này",
                         EXIT_USAGE)
    playbooks = Path(args.playbooks or default_playbooks_dir())
    known_hosts = args.known_hosts or default_known_hosts()
    inv = load_inventory(args.inventory, declared_variables(playbooks), lang=lang)
    if pc is not None:
        names = [inv.host(pc).name]  # exactly this PC: a name of the inventory, never a pattern
    else:
        names = selection.select(inv, selection.Request(communes=(args.commune,)))
        if not names:
            raise FleetError(selection.TEXT["none"][lang].format(what=f"--commune {args.commune}"), EXIT_USAGE)
    print(selection.show(names, lang))
    print(_t("action", lang, name=action.name, text=action.text[0 if lang == "vi" else 1]))
    if args.check:
        print(_t("check_mode", lang))
    sys.stdout.flush()

    before = {n: ask_agent(inv.host(n), action, args, known_hosts) for n in names}
    for n in names:
        print(_t("before", lang, host=n, verdict=show_verdict(before[n], lang)), flush=True)
    if not confirm(action, names, args):
        print(_t("declined", lang))
        return EXIT_FAIL

    try:
        result = run_action(inv, names, action, args, state_dir, known_hosts, playbooks)
    except FleetError as e:  # Ansible stopped before any PC ran (a playbook or inventory error): logged too
        for n in names:
            audit.append(state_dir, entry(inv.host(n), action, args, "error", str(e), [], "", before[n], None, None))
        raise
    changes = changes_by_host(result.artifacts)
    code = result.exit_code
    for n in names:
        h = result.hosts.get(n) or rollout.HostState(n)
        reason = f" — {h.reason}" if h.reason else ""
        status = "dry_run" if args.check and h.status in rollout.DONE_WELL else h.status
        print(_t("result", lang, host=n, status=STATUS.get(status, {}).get(lang, status), reason=reason))
        if n in changes:
            print(_t("would" if args.check else "changes", lang, host=n,
                     changes="; ".join(changes[n]) or _t("nothing", lang)))
        after: Verdict | None = None
        solved: bool | None = None
        if not args.check and h.status in rollout.DONE_WELL:
            after = ask_agent(inv.host(n), action, args, known_hosts)
            print(_t("after", lang, host=n, verdict=show_verdict(after, lang)))
            if after.ok is None:
                print(_t("no_after", lang, host=n, why=after.error))
                code = max(code, EXIT_FAIL)
            elif after.ok:
                solved = True
                print(_t("gone", lang, host=n))
            else:
                solved = False
                print(_t("still", lang, host=n, problems="; ".join(after.problems)))
                code = max(code, EXIT_FAIL)
        audit.append(state_dir, entry(inv.host(n), action, args, h.status, h.reason, changes.get(n, []),
                                      result.ident, before[n], after, solved))
    return code


def entry(host: Host, action: Action, args: argparse.Namespace, result: str, reason: str, changes: list[str],
          run: str, before: Verdict, after: Verdict | None, solved: bool | None) -> dict[str, Any]:
    """One audit line: only these fields, never an inventory variable."""
    return {
        "at": audit.now(), "who": audit.who(), "host": host.name, "district": host.district,
        "commune": host.commune, "action": action.name,
        "options": {"printer": args.printer, "check": args.check, "commune": args.commune or "", "yes": args.yes},
        "result": result, "reason": reason, "changes": changes, "run": run,
        "before": before.to_json(), "after": after.to_json() if after else None, "solved": solved,
    }
