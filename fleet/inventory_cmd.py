"""`wardwatch inventory check|targets`: validate the inventory; write Prometheus file_sd targets."""

from __future__ import annotations

import argparse
import os
import sys

from fleet.errors import EXIT_OK, EXIT_USAGE
from fleet.inventory import declared_variables, default_playbooks_dir, load_inventory, scan_inventory
from fleet.targets import write_targets

TEXT = {
    "ok": {"vi": "Kiểm kê hợp lệ: {hosts} máy, {communes} xã/phường, {districts} quận/huyện ({source})",
           "en": "Inventory OK: {hosts} PCs in {communes} communes of {districts} districts ({source})"},
    "bad": {"vi": "{n} lỗi trong kiểm kê {source}", "en": "{n} problem(s) in the inventory {source}"},
    "wrote": {"vi": "Đã ghi {targets} đích trong {files} tệp vào {out} (thay đổi: {changed}, xóa: {removed})",
              "en": "Wrote {targets} targets in {files} files to {out} (changed: {changed}, removed: {removed})"},
}


def default_inventory() -> str:
    return os.environ.get("WARDWATCH_INVENTORY", "inventory")


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--inventory", default=default_inventory(), metavar="PATH",
                   help="inventory file or directory (default: $WARDWATCH_INVENTORY or ./inventory)")
    p.add_argument("--playbooks", default=None, metavar="DIR",
                   help="playbooks directory whose roles' argument_specs declare the variables "
                        "(default: the playbooks/ of this wardwatch)")
    p.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of messages (default vi)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("inventory", help="check the inventory; write Prometheus targets from it",
                              description="Kiểm tra kiểm kê; tạo danh sách đích Prometheus. "
                                          "Check the inventory; write Prometheus file_sd targets.")
    sub = p.add_subparsers(dest="inventory_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="report every problem, one line each (exit 2 if any)")
    add_common(check)
    check.set_defaults(func=check_cmd)
    targets = sub.add_parser("targets", help="write file_sd JSON, one file per district (atomically)")
    add_common(targets)
    targets.add_argument("--out", required=True, metavar="DIR", help="directory Prometheus' file_sd_configs reads")
    targets.set_defaults(func=targets_cmd)
    from fleet.hostkeys import command as hostkeys_command

    hostkeys_command.register(sub)


def check_cmd(args: argparse.Namespace) -> int:
    declared = declared_variables(args.playbooks or default_playbooks_dir())
    inv = scan_inventory(args.inventory, declared)
    if inv.problems:
        for p in inv.problems:
            print(p.text(args.lang))
        print(TEXT["bad"][args.lang].format(n=len(inv.problems), source=inv.source), file=sys.stderr)
        return EXIT_USAGE
    print(TEXT["ok"][args.lang].format(hosts=len(inv.hosts), communes=len(inv.communes),
                                       districts=len(inv.districts), source=inv.source))
    return EXIT_OK


def targets_cmd(args: argparse.Namespace) -> int:
    declared = declared_variables(args.playbooks or default_playbooks_dir())
    inv = load_inventory(args.inventory, declared, lang=args.lang)
    r = write_targets(inv, args.out)
    print(TEXT["wrote"][args.lang].format(targets=r.targets, files=r.files, out=args.out,
                                          changed=len(r.changed), removed=len(r.removed)))
    return EXIT_OK
