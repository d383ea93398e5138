"""`wardwatch inventory hostkeys`: first contact with the PCs' SSH host keys.

Asks each selected PC for its host key (a handshake, no login), shows its SHA256
fingerprint, and records it, once the operator confirms (or with --yes), in the
known_hosts file that `rollout` and `diagnose` read. A key that differs from the one
already recorded is never replaced: it is refused with both fingerprints.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import EXIT_AUTH, EXIT_FAIL, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, FleetError
from fleet.hostkeys import collect
from fleet.hostkeys.known_hosts import Entry, default_known_hosts, host_name, lookup, record
from fleet.inventory import Host, declared_variables, default_playbooks_dir, load_inventory

NOT_SSH = ("winrm", "psrp", "local")
VERIFY_ON_PC = "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"
KNOWN, NEW, CHANGED, ERROR, SKIPPED = "known", "new", "changed", "error", "skipped"

TEXT = {
    "state": {
        "vi": {KNOWN: "đã ghi nhận", NEW: "MỚI", CHANGED: "ĐÃ THAY ĐỔI", ERROR: "KHÔNG KẾT NỐI",
               SKIPPED: "bỏ qua (WinRM)"},
        "en": {KNOWN: "recorded", NEW: "NEW", CHANGED: "CHANGED", ERROR: "UNREACHABLE", SKIPPED: "skipped (WinRM)"},
    },
    "head": {"vi": "Khóa SSH của {n} máy (so với {path}):", "en": "SSH host keys of {n} PCs (against {path}):"},
    "changed": {
        "vi": "{host}: KHÓA MÁY ĐÃ THAY ĐỔI, có thể bị giả mạo (man-in-the-middle): {path} ghi {old}, máy trả về "
              "{new}. Không ghi đè. Nếu máy vừa cài lại: đối chiếu trên máy ({verify}), xóa khóa cũ "
              "(ssh-keygen -R '{name}' -f {path}) rồi chạy lại lệnh này.",
        "en": "{host}: HOST KEY CHANGED, possibly a man-in-the-middle: {path} has {old}, the PC sent {new}. "
              "Not replaced. If the PC was reinstalled: verify on the PC ({verify}), remove the old key "
              "(ssh-keygen -R '{name}' -f {path}) and run this again."},
    "verify": {"vi": "Đối chiếu từng dấu vân tay với máy thật (trên máy: {verify}) trước khi xác nhận.",
               "en": "Compare each fingerprint with the PC itself (on the PC: {verify}) before confirming."},
    "ask": {"vi": "Ghi nhận khóa của {host} ({fp})? [y/N] ", "en": "Record the key of {host} ({fp})? [y/N] "},
    "summary": {"vi": "Đã ghi {recorded} khóa vào {path}; {known} đã có; {declined} chưa xác nhận; "
                      "{changed} đã thay đổi (từ chối); {error} không kết nối; {skipped} bỏ qua.",
                "en": "Recorded {recorded} key(s) in {path}; {known} already there; {declined} not confirmed; "
                      "{changed} changed (refused); {error} unreachable; {skipped} skipped."},
    "declined": {"vi": "Khóa chưa xác nhận không được ghi: rollout và diagnose sẽ từ chối các máy đó. "
                       "Chạy lại khi đã đối chiếu (hoặc với --yes).",
                 "en": "Keys not confirmed were not recorded: rollout and diagnose will refuse those PCs. "
                       "Run this again once checked (or with --yes)."},
    "none": {"vi": "Không chọn được máy nào.", "en": "No PC selected."},
}


@dataclass
class Row:
    host: Host
    address: str
    port: int
    name: str                      # as known_hosts names it
    recorded: list[Entry]
    state: str = ""
    key: collect.HostKey | None = None
    why: dict[str, str] | None = None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "hostkeys", help="first contact: collect the PCs' SSH host keys, confirm and record them",
        description="Lấy khóa SSH của các máy, hiển thị dấu vân tay SHA256 để xác nhận, ghi vào known_hosts mà "
                    "rollout và diagnose dùng.\nCollect the PCs' SSH host keys, show their SHA256 fingerprints "
                    "for you to confirm, and record them in the known_hosts that rollout and diagnose read.",
        epilog="exit codes: 0 every selected PC's key is recorded, 1 some keys were not confirmed, 2 bad input, "
               "3 some PCs did not answer, 4 a PC's key differs from the recorded one (refused).\n"
               f"Verify a fingerprint on the PC itself: {VERIFY_ON_PC}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    from fleet.inventory_cmd import add_common

    add_common(p)
    p.add_argument("--commune", action="append", default=[], metavar="NAME", help="a commune (repeatable)")
    p.add_argument("--district", action="append", default=[], metavar="NAME", help="a district (repeatable)")
    p.add_argument("--limit", metavar="PATTERN",
                   help="an Ansible host pattern further narrowing the selection (as for rollout)")
    p.add_argument("--known-hosts", type=Path, default=None, metavar="FILE",
                   help="the known_hosts file (default: $WARDWATCH_KNOWN_HOSTS or ~/.config/wardwatch/known_hosts)")
    p.add_argument("--yes", action="store_true",
                   help="record every new key without asking (after checking the fingerprints another way)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds per PC (default 10)")
    p.add_argument("--forks", type=int, default=10, help="PCs asked at once (default 10)")
    p.set_defaults(func=run)


def _rows(args: argparse.Namespace, known_hosts: Path) -> list[Row]:
    from fleet import selection  # the same selection as rollout's (exact, Ansible's reading of --limit)

    inv = load_inventory(args.inventory, declared_variables(args.playbooks or default_playbooks_dir()),
                         lang=args.lang)
    request = selection.Request(tuple(args.commune), tuple(args.district), args.limit)
    ansible = selection.AnsibleHosts(Path(args.inventory), args.lang) if args.limit else None
    names = selection.select(inv, request, ansible)
    if not names:
        raise FleetError(selection.TEXT["none"][args.lang].format(what=request.describe()), EXIT_USAGE)
    hosts = [inv.host(n) for n in names]
    rows = []
    for h in hosts:
        port = h.ssh_port
        name = host_name(h.address, port)
        try:
            recorded = lookup(known_hosts, name)
        except OSError as e:
            raise FleetError(f"{known_hosts}: cannot read / không đọc được: {e.strerror or e}", EXIT_USAGE) from None
        row = Row(h, h.address, port, name, recorded)
        if str(h.vars.get("ansible_connection") or "ssh") in NOT_SSH:
            row.state = SKIPPED
        rows.append(row)
    return rows


def _ask(row: Row, timeout: float) -> None:
    try:
        row.key = collect.fetch(row.address, row.port, timeout=timeout,
                                prefer=tuple(dict.fromkeys(e.key_type for e in row.recorded)))
    except collect.CollectError as e:
        row.state, row.why = ERROR, e.text
        return
    if not row.recorded:
        row.state = NEW
    elif any(e.key_type == row.key.key_type and e.key_b64 == row.key.key_b64 for e in row.recorded):
        row.state = KNOWN
    else:
        row.state = CHANGED


def run(args: argparse.Namespace) -> int:
    lang = args.lang
    if args.forks < 1:
        raise FleetError("--forks must be at least 1 / --forks phải từ 1 trở lên", EXIT_USAGE)
    known_hosts = args.known_hosts or default_known_hosts()
    rows = _rows(args, known_hosts)
    if not rows:
        print(TEXT["none"][lang])
        return EXIT_USAGE
    todo = [r for r in rows if r.state != SKIPPED]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(args.forks, max(len(todo), 1))) as pool:
        list(pool.map(lambda r: _ask(r, args.timeout), todo))

    states = TEXT["state"][lang]
    width = max(len(r.host.name) for r in rows)
    where_w = max(len(f"{r.address}:{r.port}") for r in rows)
    print(TEXT["head"][lang].format(n=len(rows), path=known_hosts))
    for r in rows:
        what = r.key.describe() if r.key else (r.why or {}).get(lang, "")
        print(f"  {r.host.name.ljust(width)}  {f'{r.address}:{r.port}'.ljust(where_w)}  "
              f"{states[r.state].ljust(14)} {what}")
    for r in rows:
        if r.state == CHANGED and r.key:
            old = ", ".join(f"{e.describe()} ({known_hosts}:{e.line})" for e in r.recorded)
            print(TEXT["changed"][lang].format(host=r.host.name, path=known_hosts, old=old, new=r.key.describe(),
                                               verify=VERIFY_ON_PC, name=r.name), file=sys.stderr)

    new = [r for r in rows if r.state == NEW]
    confirmed = []
    if new and args.yes:
        confirmed = new
    elif new:
        print(TEXT["verify"][lang].format(verify=VERIFY_ON_PC))
        for r in new:
            sys.stdout.write(TEXT["ask"][lang].format(host=r.host.name, fp=r.key.describe() if r.key else ""))
            sys.stdout.flush()
            answer = sys.stdin.readline()
            if not answer:
                sys.stdout.write("\n")
                break
            if answer.strip().lower() in ("y", "yes", "c", "có", "co"):
                confirmed.append(r)
    today = dt.date.today().isoformat()
    try:
        record(known_hosts, [(r.name, r.key.key_type, r.key.key_b64, f"{r.host.name} wardwatch-hostkeys {today}")
                             for r in confirmed if r.key])
    except OSError as e:
        raise FleetError(f"{known_hosts}: cannot write / không ghi được: {e.strerror or e}", EXIT_USAGE) from None

    count = {s: sum(r.state == s for r in rows) for s in (KNOWN, CHANGED, ERROR, SKIPPED)}
    declined = len(new) - len(confirmed)
    print(TEXT["summary"][lang].format(recorded=len(confirmed), path=known_hosts, known=count[KNOWN],
                                       declined=declined, changed=count[CHANGED], error=count[ERROR],
                                       skipped=count[SKIPPED]))
    if declined:
        print(TEXT["declined"][lang])
    if count[CHANGED]:
        return EXIT_AUTH
    if count[ERROR]:
        return EXIT_UNREACHABLE
    return EXIT_FAIL if declined else EXIT_OK
