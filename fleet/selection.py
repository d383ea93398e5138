"""The PCs a command touches, computed once from `--commune`, `--district`,
`--retry-failed` and `--limit`, shown before acting, and handed to Ansible as an
explicit list of names (a limit file), so that exactly these PCs run.

`--limit` is resolved with Ansible's own pattern semantics (its InventoryManager on
the same inventory: groups, wildcards, `~regex`, `!`, `&`, `@file`), then
intersected with the rest. The list handed to Ansible is checked the same way: a
name that Ansible would read as something else (a group of the same name, a
wildcard) is refused rather than run on other PCs.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import EXIT_USAGE, FleetError
from fleet.inventory import Inventory

TEXT = {
    "selected": {"vi": "{n} máy: {names}", "en": "{n} PCs: {names}"},
    "selected_one": {"vi": "1 máy: {names}", "en": "1 PC: {names}"},
    "more": {"vi": "… và {n} máy nữa", "en": "… and {n} more"},
    "none": {"vi": "không có máy nào khớp lựa chọn ({what})", "en": "no PC matches the selection ({what})"},
    "limit": {"vi": "--limit {pattern!r}: {why}", "en": "--limit {pattern!r}: {why}"},
    "clash": {"vi": "Ansible không đọc được danh sách máy đúng như đã chọn "
                    "(trùng tên nhóm hoặc ký tự đại diện?): {names}",
              "en": "Ansible would not read the selected PC names as exactly those PCs (a group of the same name, "
                    "or a wildcard?): {names}"},
    "no_ansible": {"vi": "chưa cài ansible-core: pip install 'wardwatch[fleet]'",
                   "en": "ansible-core is not installed: pip install 'wardwatch[fleet]'"},
}


@dataclass(frozen=True)
class Request:
    """What the operator asked for; empty fields do not narrow."""
    communes: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    limit: str | None = None              # an Ansible host pattern
    retry: tuple[str, ...] | None = None  # --retry-failed: the PCs to retry (None: not asked)

    def describe(self) -> str:
        parts = [f"--commune {c}" for c in self.communes] + [f"--district {d}" for d in self.districts]
        if self.retry is not None:
            parts.append("--retry-failed")
        if self.limit:
            parts.append(f"--limit {self.limit}")
        return " ".join(parts) or "all"


_plugins_ready = False


def _init_plugin_loader() -> None:
    """Once per process, as Ansible's own commands do (ansible-core 2.15+; earlier ones need none)."""
    global _plugins_ready
    if _plugins_ready:
        return
    try:
        from ansible.plugins.loader import init_plugin_loader
    except ImportError:
        pass
    else:
        init_plugin_loader()
    _plugins_ready = True


class AnsibleHosts:
    """Ansible's view of an inventory: which hosts a pattern selects."""

    def __init__(self, inventory: Path, lang: str = "en"):
        self.lang = lang
        try:
            from ansible.inventory.manager import InventoryManager
            from ansible.parsing.dataloader import DataLoader
        except ImportError:
            raise FleetError(TEXT["no_ansible"][lang], EXIT_USAGE) from None
        _init_plugin_loader()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            self.manager = InventoryManager(loader=DataLoader(), sources=[str(inventory.resolve())])

    def match(self, pattern: str) -> set[str]:
        """The hosts `--limit PATTERN` leaves, as ansible-playbook computes them."""
        m = self.manager
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                m.subset(pattern)
                return {h.name for h in m.get_hosts("all")}
        except Exception as e:  # noqa: BLE001 - AnsibleError and its kin: the pattern cannot be used
            raise FleetError(TEXT["limit"][self.lang].format(pattern=pattern, why=str(e).splitlines()[0]),
                             EXIT_USAGE) from None
        finally:
            m.subset(None)
            m.clear_pattern_cache()


def select(inv: Inventory, request: Request, ansible: AnsibleHosts | None = None) -> list[str]:
    """The PCs the request touches: the intersection of everything given (all PCs when nothing is),
    ordered by district, commune, name. `ansible` is needed only with a limit."""
    chosen = {h.name for h in inv.hosts}
    if request.communes:
        chosen &= {h.name for c in request.communes for h in inv.hosts_of(inv.commune(c))}
    if request.districts:
        chosen &= {h.name for d in request.districts for h in inv.hosts_of(inv.district(d))}
    if request.retry is not None:
        chosen &= set(request.retry)
    if request.limit:
        if ansible is None:
            raise ValueError("a limit needs Ansible's view of the inventory")
        chosen &= ansible.match(request.limit)
    return sorted(chosen, key=lambda n: (inv.host(n).district, inv.host(n).commune, n))


def write_limit_file(path: Path, names: Iterable[str]) -> Path:
    """The names, one a line: what `ansible-playbook --limit @FILE` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    return path


def check_limit_file(ansible: AnsibleHosts, path: Path, names: Iterable[str], lang: str = "en") -> None:
    """Ansible reads the file as exactly these PCs, or a one-line error names the others."""
    expected = set(names)
    got = ansible.match(f"@{path}")
    if got != expected:
        odd = sorted(got ^ expected)
        raise FleetError(TEXT["clash"][lang].format(names=", ".join(odd[:10])), EXIT_USAGE)


def show(names: list[str], lang: str = "en", most: int = 30) -> str:
    """'3 PCs: pc1, pc2, pc3' (the first `most` names, then how many more)."""
    shown = ", ".join(names[:most])
    if len(names) > most:
        shown += " " + TEXT["more"][lang].format(n=len(names) - most)
    return TEXT["selected_one" if len(names) == 1 else "selected"][lang].format(n=len(names), names=shown)
