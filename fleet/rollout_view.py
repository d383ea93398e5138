"""What an operator sees during `wardwatch rollout`: a live view grouped by commune
(redrawn in place on a terminal, one line per notable event otherwise) and the
final table, one row per PC. Vietnamese and English."""

from __future__ import annotations

import shlex
import sys
import time
from typing import TextIO

from fleet.inventory import Inventory
from fleet.rollout import (
    CHANGED,
    FAILED,
    NOT_RUN,
    OK,
    PENDING,
    PLAYBOOKS,
    RUNNING,
    UNREACHABLE,
    WAITING,
    HostState,
    Result,
)

STATUS = {
    "vi": {OK: "OK (không đổi)", CHANGED: "ĐÃ THAY ĐỔI", FAILED: "LỖI", UNREACHABLE: "KHÔNG KẾT NỐI",
           NOT_RUN: "CHƯA CHẠY", PENDING: "chờ", RUNNING: "đang chạy", WAITING: "đang chờ"},
    "en": {OK: "ok (unchanged)", CHANGED: "CHANGED", FAILED: "FAILED", UNREACHABLE: "UNREACHABLE",
           NOT_RUN: "NOT RUN", PENDING: "pending", RUNNING: "running", WAITING: "waiting"},
}
TEXT = {
    "play": {"vi": "== Bước: {play}", "en": "== Play: {play}"},
    "commune": {"vi": "{commune} ({district})", "en": "{commune} ({district})"},
    "head": {"vi": ("Quận/huyện", "Xã/phường", "Máy", "Kết quả", "ok", "đổi", "Lý do"),
             "en": ("District", "Commune", "PC", "Result", "ok", "changed", "Reason")},
    "summary": {"vi": "Tổng: {n} máy — {ok} OK, {changed} thay đổi, {failed} lỗi, {unreachable} không kết nối, "
                      "{not_run} chưa chạy{check}",
                "en": "Total: {n} PCs — {ok} ok, {changed} changed, {failed} failed, {unreachable} unreachable, "
                      "{not_run} not run{check}"},
    "check": {"vi": " (chạy thử --check: không thay đổi gì)", "en": " (dry run --check: nothing was changed)"},
    "artifacts": {"vi": "Nhật ký chạy: {path}", "en": "Run artifacts: {path}"},
    "retry": {"vi": "Chạy lại các máy lỗi: wardwatch rollout --retry-failed -i {inv}{playbook}",
              "en": "Re-run the failed PCs: wardwatch rollout --retry-failed -i {inv}{playbook}"},
}


class View:
    def __init__(self, inv: Inventory, lang: str = "vi", stream: TextIO | None = None, live: bool | None = None,
                 min_interval: float = 0.25):
        self.inv = inv
        self.lang = lang
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.hosts: dict[str, HostState] = {}
        self._lines = 0
        self._last = 0.0
        self.min_interval = min_interval

    def names(self, h: HostState) -> tuple[str, str]:
        g = self.inv.groups
        district = g[h.district].display_name if h.district in g else h.district
        commune = g[h.commune].display_name if h.commune in g else h.commune
        return district, commune

    def __call__(self, host: HostState | None, what: str) -> None:
        if host is None:
            if not self.live:
                self.stream.write(TEXT["play"][self.lang].format(play=what) + "\n")
                self.stream.flush()
            return
        self.hosts[host.name] = host
        if self.live:
            self.redraw()
        elif what in ("changed", "failed", "unreachable"):
            _, commune = self.names(host)
            line = f"  [{commune}] {host.name}: {STATUS[self.lang][CHANGED if what == 'changed' else what]}"
            detail = host.reason if what != "changed" else host.task
            self.stream.write(line + (f" — {detail}" if detail else "") + "\n")
            self.stream.flush()

    def redraw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        lines = []
        for (district, commune), hosts in self.grouped():
            lines.append(TEXT["commune"][self.lang].format(commune=commune, district=district))
            for h in hosts:
                status = STATUS[self.lang][h.status]
                detail = h.reason if h.status in (FAILED, UNREACHABLE) else h.task
                lines.append(f"  {h.name:<20} {status:<16} {detail[:70]}")
        out = ""
        if self._lines:
            out += f"\x1b[{self._lines}F\x1b[J"  # back to the top of the last drawing, clear below
        out += "\n".join(lines) + "\n"
        self._lines = len(lines)
        self.stream.write(out)
        self.stream.flush()

    def grouped(self) -> list[tuple[tuple[str, str], list[HostState]]]:
        groups: dict[tuple[str, str], list[HostState]] = {}
        for h in sorted(self.hosts.values(), key=lambda h: (h.district, h.commune, h.name)):
            groups.setdefault(self.names(h), []).append(h)
        return list(groups.items())

    def final(self, result: Result, inventory_arg: str, playbook: str = "site") -> str:
        if self.live:
            self.hosts.update(result.hosts)
            self.redraw(force=True)
        lang = self.lang
        rows = []
        for h in sorted(result.hosts.values(), key=lambda h: (h.district, h.commune, h.name)):
            district, commune = self.names(h)
            reason = h.reason
            if h.failed_task and h.status in (FAILED, UNREACHABLE):
                reason = f"{h.failed_task}: {reason}" if reason else h.failed_task
            rows.append((district, commune, h.name, STATUS[lang][h.status], str(h.ok), str(h.changed), reason))
        head = TEXT["head"][lang]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
        widths[-1] = min(widths[-1], 100)
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = ["", fmt.format(*head), fmt.format(*("-" * w for w in widths))]
        lines += [fmt.format(*r[:-1], r[-1][:100]) for r in rows]
        counts = {s: sum(h.status == s for h in result.hosts.values()) for s in (OK, CHANGED, FAILED, UNREACHABLE,
                                                                                   NOT_RUN)}
        lines += ["", TEXT["summary"][lang].format(n=len(result.hosts), check=TEXT["check"][lang] if result.check
                                                    else "", **counts),
                  TEXT["artifacts"][lang].format(path=result.artifacts)]
        if not result.check and (counts[FAILED] or counts[UNREACHABLE] or counts[NOT_RUN]):
            again = "" if PLAYBOOKS.get(playbook, playbook) == "site.yml" else f" --playbook {shlex.quote(playbook)}"
            lines.append(TEXT["retry"][lang].format(inv=shlex.quote(str(inventory_arg)), playbook=again))
        return "\n".join(lines) + "\n"
