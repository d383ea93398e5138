"""`wardwatch rollout`: run the playbooks on a commune, a district or chosen PCs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fleet import rollout, selection
from fleet.errors import EXIT_OK, EXIT_USAGE, FleetError
from fleet.inventory import declared_variables, default_playbooks_dir, load_inventory
from fleet.inventory_cmd import default_inventory
from fleet.rollout_view import View

EPILOG = """\
examples:
  wardwatch rollout --commune phuc_xa --check      dry run (--check --diff) on one commune
  wardwatch rollout --commune "Phúc Xá"            the agent and the client on one commune
  wardwatch rollout --district ba_dinh --forks 20
  wardwatch rollout --retry-failed                 only the PCs that failed, were unreachable or not reached
  wardwatch rollout --playbook preflight --district soc_son
  wardwatch rollout --commune phuc_xa --limit 'bd-phucxa-0*'   only those PCs of that commune
  wardwatch rollout --playbook uninstall --limit bd-phucxa-02 --uninstall-client

The PCs a command touches are computed once (--commune, --district, --retry-failed and
--limit intersect; --limit is read as Ansible reads it), shown ("N PCs: ..."), and
handed to Ansible as that exact list.

exit codes: 0 every PC ok, 1 a PC failed or was not reached, 2 bad input,
3 some PCs unreachable (the others ok)."""

TEXT = {
    "nothing": {"vi": "Không có máy nào cần chạy lại.", "en": "No PC to retry."},
    "uninstall_client": {"vi": "--uninstall-client chỉ dùng với --playbook uninstall",
                         "en": "--uninstall-client goes with --playbook uninstall only"},
}


def _serial(text: str) -> list:
    out: list = []
    for part in text.split(","):
        part = part.strip()
        if part.isdigit():
            out.append(int(part))
        elif part.endswith("%") and part[:-1].isdigit():
            out.append(part)
        else:
            raise argparse.ArgumentTypeError(f"expected numbers or percentages like 1,25%,100%; got {part!r}")
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "rollout", help="install the agent and the virtualized client through Ansible",
        description="Triển khai agent và phần mềm ảo hóa qua Ansible. "
                    "Roll out the agent and the virtualized client through Ansible (ansible-runner).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-i", "--inventory", default=default_inventory(), metavar="PATH",
                   help="inventory file or directory (default: $WARDWATCH_INVENTORY or ./inventory)")
    p.add_argument("--commune", action="append", default=[], metavar="NAME",
                   help="a commune: group name, short name or name with diacritics (repeatable)")
    p.add_argument("--district", action="append", default=[], metavar="NAME", help="a district (repeatable)")
    p.add_argument("--limit", metavar="PATTERN",
                   help="an Ansible host pattern (as ansible-playbook reads it), further narrowing the selection")
    p.add_argument("--check", action="store_true", help="dry run: --check --diff, nothing changes")
    p.add_argument("--retry-failed", action="store_true",
                   help="only the PCs that failed, were unreachable or not reached in the last runs")
    p.add_argument("--playbook", default="site", help="site (default), preflight, uninstall, or a file name")
    p.add_argument("--uninstall-client", action="store_true",
                   help="with --playbook uninstall: remove the virtualized client too (wardwatch_uninstall_client)")
    p.add_argument("--forks", type=int, default=10, help="PCs worked on at once (default 10)")
    p.add_argument("--serial", type=_serial, metavar="LIST",
                   help="waves, e.g. 1,25%%,100%% (default: the inventory's wardwatch_rollout_serial)")
    p.add_argument("--max-fail-percentage", type=int, metavar="N",
                   help="stop a wave when more than N%% of its PCs fail (default: the inventory's)")
    p.add_argument("--ssh-retries", type=int, default=3, help="SSH connection attempts over flaky links")
    p.add_argument("--state-dir", type=Path, default=None,
                   help="where runs and results are kept (default: $WARDWATCH_STATE_DIR or ~/.local/state/wardwatch)")
    p.add_argument("--playbooks", type=Path, default=None,
                   help="playbooks directory (default: $WARDWATCH_PLAYBOOKS, else those shipped with this wardwatch)")
    p.add_argument("--vault-password-file", type=Path, metavar="FILE",
                   help="decrypt the inventory's ansible-vault secrets (group_vars/*/vault.yml) with this file")
    p.add_argument("--known-hosts", type=Path, default=None, metavar="FILE",
                   help="the PCs' SSH host keys, recorded by 'wardwatch inventory hostkeys' "
                        "(default: $WARDWATCH_KNOWN_HOSTS or ~/.config/wardwatch/known_hosts)")
    p.add_argument("--lang", choices=("vi", "en"), default="vi")
    p.add_argument("--live", action=argparse.BooleanOptionalAction, default=None,
                   help="redraw the progress in place (default: when the output is a terminal)")
    p.set_defaults(func=rollout_cmd)


def rollout_cmd(args: argparse.Namespace) -> int:
    playbooks = args.playbooks or default_playbooks_dir()
    if args.uninstall_client and rollout.PLAYBOOKS.get(args.playbook, args.playbook) != "uninstall.yml":
        raise FleetError(TEXT["uninstall_client"][args.lang], EXIT_USAGE)
    if args.vault_password_file is not None and not args.vault_password_file.is_file():
        raise FleetError(f"--vault-password-file: {args.vault_password_file}: no such file / không có tệp này",
                         EXIT_USAGE)
    if args.forks < 1:
        raise FleetError("--forks must be at least 1 / --forks phải từ 1 trở lên", EXIT_USAGE)
    inv = load_inventory(args.inventory, declared_variables(playbooks), lang=args.lang)
    opts = rollout.Options(
        inventory=Path(args.inventory), playbook=args.playbook, check=args.check, forks=args.forks,
        serial=args.serial, max_fail_percentage=args.max_fail_percentage, ssh_retries=args.ssh_retries,
        playbooks_dir=Path(playbooks), state_dir=args.state_dir or rollout.default_state_dir(),
        vault_password_file=args.vault_password_file, lang=args.lang,
        extravars={"wardwatch_uninstall_client": True} if args.uninstall_client else {})
    if args.known_hosts is not None:
        opts.known_hosts = args.known_hosts
    retry = None
    if args.retry_failed:
        retry = tuple(rollout.Store(rollout.run_dir(opts.state_dir, opts.inventory)).to_retry())
    request = selection.Request(tuple(args.commune), tuple(args.district), args.limit, retry)
    opts.ansible_hosts = selection.AnsibleHosts(opts.inventory, args.lang)
    chosen = selection.select(inv, request, opts.ansible_hosts)
    if not chosen:
        if retry is not None:
            print(TEXT["nothing"][args.lang])
            return EXIT_OK
        raise FleetError(selection.TEXT["none"][args.lang].format(what=request.describe()), EXIT_USAGE)
    print(selection.show(chosen, args.lang), flush=True)
    opts.limit_hosts = chosen
    view = View(inv, args.lang, sys.stdout, args.live)
    result = rollout.run(opts, inv, view)
    sys.stdout.write(view.final(result, args.inventory, args.playbook))
    return result.exit_code
