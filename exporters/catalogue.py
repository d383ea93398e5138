"""Every metric the agent may emit, kept as data in metrics.csv.

The runner refuses samples whose name or label names are not catalogued (the
collector is then reported failed), and a test checks a real scrape against it
both ways: nothing emitted that is not listed, nothing listed as default that a
default scrape never shows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CATALOGUE_FILE = Path(__file__).with_name("metrics.csv")
TYPES = ("gauge", "counter", "histogram")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    type: str
    unit: str
    labels: tuple[str, ...]
    default: bool  # emitted by the agent on its built-in default config
    help: str

    def sample_names(self) -> dict[str, tuple[str, ...]]:
        """The sample names this metric produces, each with the label names it carries."""
        if self.type == "histogram":
            return {
                self.name + "_bucket": tuple(sorted(self.labels + ("le",))),
                self.name + "_sum": tuple(sorted(self.labels)),
                self.name + "_count": tuple(sorted(self.labels)),
            }
        return {self.name: tuple(sorted(self.labels))}


@cache
def load(path: Path = CATALOGUE_FILE) -> dict[str, MetricSpec]:
    out: dict[str, MetricSpec] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.DictReader(f), start=2):
            name = row["name"]
            if row["type"] not in TYPES:
                raise ValueError(f"{path}:{lineno}: {name}: unknown type {row['type']!r}")
            if name in out:
                raise ValueError(f"{path}:{lineno}: {name}: listed twice")
            if row["type"] == "counter" and not name.endswith("_total"):
                raise ValueError(f"{path}:{lineno}: {name}: a counter's name ends in _total")
            out[name] = MetricSpec(name, row["type"], row["unit"], tuple(row["labels"].split()),
                                   row["default"] == "yes", row["help"])
    return out


@cache
def sample_index() -> dict[str, tuple[MetricSpec, tuple[str, ...]]]:
    """sample name -> (its metric, the sorted label names it must carry)."""
    return {s: (m, labels) for m in load().values() for s, labels in m.sample_names().items()}


def reference_markdown() -> str:
    """The metric reference table in the README is this text, checked by a test."""
    rows = ["| metric | type | labels | on by default | meaning |", "| --- | --- | --- | --- | --- |"]
    for m in load().values():
        labels = ", ".join(f"`{x}`" for x in m.labels)
        rows.append(f"| `{m.name}` | {m.type} | {labels} | {'yes' if m.default else ''} | {m.help} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
