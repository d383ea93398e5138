"""`wardwatch cache build|check`: the district installer cache the roles install from."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fleet.cache import build as cache_build
from fleet.cache import manifest
from fleet.errors import EXIT_FAIL, EXIT_OK
from fleet.inventory import declared_variables, default_playbooks_dir, load_inventory
from fleet.inventory_cmd import default_inventory

TEXT = {
    "built": {"vi": "Đã tạo bộ đệm {out}: {wheels} wheel cho {targets}. Còn lại: đặt các tệp trong "
                    "{out}/files, điền sha256 vào {manifest}, rồi chạy: wardwatch cache check {out}",
              "en": "Built the cache {out}: {wheels} wheels for {targets}. Next: put the files in "
                    "{out}/files, fill their sha256 in {manifest}, then run: wardwatch cache check {out}"},
    "ok": {"vi": "Bộ đệm {out} hợp lệ: {n} tệp đúng SHA-256", "en": "Cache {out} OK: {n} files with the right SHA-256"},
    "bad": {"vi": "{n} lỗi trong bộ đệm {out}", "en": "{n} problem(s) in the cache {out}"},
}


def _versions(text: str) -> list[str]:
    out = [v.strip() for v in text.split(",") if v.strip()]
    for v in out:
        parts = v.split(".")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise argparse.ArgumentTypeError(f"not a Python version like 3.11: {v!r}")
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("cache", help="build and check the district installer cache the roles install from",
                              description="Bộ đệm cài đặt của quận/huyện (wheel, Python nhúng, NSSM, bộ cài). "
                                          "The district installer cache: wheels, embeddable Python, NSSM, installers.")
    sub = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="the agent's wheel and its dependencies for every platform of the inventory")
    b.add_argument("--out", required=True, metavar="DIR", type=Path, help="the cache directory (made if missing)")
    b.add_argument("-i", "--inventory", default=default_inventory(), metavar="PATH",
                   help="inventory file or directory (default: $WARDWATCH_INVENTORY or ./inventory)")
    b.add_argument("--playbooks", default=None, metavar="DIR", help=argparse.SUPPRESS)
    b.add_argument("--wheel", type=Path, default=None, metavar="FILE",
                   help="the agent's wheel (default: build it from this wardwatch's source tree)")
    b.add_argument("--windows-python", type=_versions, default=list(cache_build.WINDOWS_PYTHONS), metavar="V,V",
                   help="Python versions of the Windows PCs (default %(default)s)")
    b.add_argument("--linux-python", type=_versions, default=list(cache_build.LINUX_PYTHONS), metavar="V,V",
                   help="Python versions of the Linux PCs (default %(default)s)")
    b.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of messages (default vi)")
    b.set_defaults(func=build_cmd)
    c = sub.add_parser("check", help="verify every file of the cache against its SHA-256 in manifest.yml")
    c.add_argument("dir", type=Path, metavar="DIR")
    c.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of messages (default vi)")
    c.set_defaults(func=check_cmd)


def build_cmd(args: argparse.Namespace) -> int:
    declared = declared_variables(args.playbooks or default_playbooks_dir())
    inv = load_inventory(args.inventory, declared, lang=args.lang)
    targets = cache_build.build(args.out, inv.hosts, inv.source, wheel=args.wheel, lang=args.lang,
                                windows_pythons=args.windows_python, linux_pythons=args.linux_python)
    wheels = len(list((args.out / "wheels").glob("*.whl")))
    names = ", ".join(f"{t.platform} {t.version}" for t in targets)
    print(TEXT["built"][args.lang].format(out=args.out, wheels=wheels, targets=names,
                                          manifest=args.out / manifest.MANIFEST))
    return EXIT_OK


def check_cmd(args: argparse.Namespace) -> int:
    problems = manifest.check(args.dir, args.lang)
    if problems:
        for p in problems:
            print(p)
        print(TEXT["bad"][args.lang].format(n=len(problems), out=args.dir), file=sys.stderr)
        return EXIT_FAIL
    files, wheels = manifest.load(args.dir, args.lang)
    print(TEXT["ok"][args.lang].format(out=args.dir, n=len(files) + len(wheels)))
    return EXIT_OK
