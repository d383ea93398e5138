"""Prometheus file_sd targets from the inventory: one JSON file per district.

Each PC is one entry: its agent's address and port (`wardwatch_agent_port`, default
10713), labels `district` and `commune` (the ASCII group names without their
prefix, e.g. `ba_dinh`, `phuc_xa`), `role="pc"` and `instance` set to the
inventory host name, so alerts name the PC the way the inventory does.

Files are written atomically (temp file, fsync, rename) and only when their
content changed; entries and keys are sorted, so the same inventory always gives
the same bytes. Files of districts no longer in the inventory are removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from agent.files import write_atomic
from fleet.errors import FleetError
from fleet.inventory import COMMUNE_PREFIX, DISTRICT_PREFIX, Host, Inventory, no_gc

ROLE = "pc"
FILE_GLOB = DISTRICT_PREFIX + "*.json"


def target_of(host: Host) -> str:
    address = host.address
    if ":" in address:  # IPv6
        address = f"[{address}]"
    return f"{address}:{host.agent_port}"


def entry(host: Host) -> dict:
    return {
        "targets": [target_of(host)],
        "labels": {
            "district": host.district.removeprefix(DISTRICT_PREFIX),
            "commune": host.commune.removeprefix(COMMUNE_PREFIX),
            "role": ROLE,
            "instance": host.name,
        },
    }


def file_sd(inventory: Inventory) -> dict[str, list[dict]]:
    """district group name -> its file_sd entries, in host order (district, commune, name)."""
    out: dict[str, list[dict]] = {}
    for h in inventory.hosts:
        out.setdefault(h.district, []).append(entry(h))
    return out


_quote = json.encoder.encode_basestring  # JSON string escaping, in C


def render(entries: list[dict]) -> str:
    """One entry per line (readable, diffable), keys sorted: the same bytes as
    json.dumps(entry, sort_keys=True, ensure_ascii=False), built without a dumps per entry."""
    lines = []
    for e in entries:
        labels = ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in sorted(e["labels"].items()))
        targets = ", ".join(_quote(t) for t in e["targets"])
        lines.append(f'  {{"labels": {{{labels}}}, "targets": [{targets}]}}')
    return "[\n" + ",\n".join(lines) + "\n]\n"


def render_hosts(hosts: list[Host]) -> str:
    """render([entry(h) for h in hosts]), byte for byte, without a dict per host (labels in
    sorted order: commune, district, instance, role)."""
    lines = []
    role = _quote(ROLE)
    for h in hosts:
        address = h.address
        if ":" in address:
            address = f"[{address}]"
        lines.append(f'  {{"labels": {{"commune": {_quote(h.commune.removeprefix(COMMUNE_PREFIX))}, '
                     f'"district": {_quote(h.district.removeprefix(DISTRICT_PREFIX))}, '
                     f'"instance": {_quote(h.name)}, "role": {role}}}, '
                     f'"targets": [{_quote(f"{address}:{h.agent_port}")}]}}')
    return "[\n" + ",\n".join(lines) + "\n]\n"


@dataclass(frozen=True)
class WriteResult:
    files: int
    targets: int
    changed: list[str]
    removed: list[str]


def write_targets(inventory: Inventory, out_dir: str | Path) -> WriteResult:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FleetError(f"{out}: cannot create the output directory: {e.strerror or e}") from None
    with no_gc():  # 50,000 small strings: no use walking the inventory for cycles
        groups: dict[str, list[Host]] = {}
        for h in inventory.hosts:
            groups.setdefault(h.district, []).append(h)
        texts = {district: render_hosts(hosts) for district, hosts in groups.items()}
    changed, removed = [], []
    try:
        for district, text in texts.items():
            path = out / f"{district}.json"
            try:
                same = path.read_text(encoding="utf-8") == text
            except OSError:
                same = False
            if not same:
                write_atomic(path, text.encode("utf-8"))
                changed.append(path.name)
        for stale in sorted(out.glob(FILE_GLOB)):
            if stale.stem not in groups:
                stale.unlink()
                removed.append(stale.name)
    except OSError as e:
        raise FleetError(f"{out}: cannot write targets: {e.strerror or e}") from None
    return WriteResult(len(groups), sum(len(v) for v in groups.values()), changed, removed)
