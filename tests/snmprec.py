"""An snmpsim recording (.snmprec) read straight from its file, as the columns wardwatch walks:
for the pure decoding and judging tests, which need no network."""

from __future__ import annotations

from pathlib import Path

from agent.devices import snmp_printer as sp


def read_snmprec(path: Path) -> dict[tuple[int, ...], list]:
    """The columns wardwatch walks, from an snmpsim recording (OID|type|value)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        oid, kind, value = line.split("|", 2)
        oid_t = tuple(int(x) for x in oid.split("."))
        if kind == "4x":
            v = bytes.fromhex(value)
        elif kind == "4":
            v = value.encode()
        elif kind == "6":
            v = tuple(int(x) for x in value.split("."))
        elif kind in ("2", "65", "66", "67", "70"):
            if not value.lstrip("-").isdigit():
                continue  # okilan_9450g's "6git3159": snmpsim does not serve it either
            v = int(value)
        else:
            continue
        rows.append((oid_t, v))
    rows.sort()
    tables: dict[tuple[int, ...], list] = {c: [] for c in sp.COLUMNS}
    for oid_t, v in rows:
        for column in sp.COLUMNS:
            if oid_t[:len(column)] == column:
                tables[column].append((oid_t[len(column):], v))
    return tables
