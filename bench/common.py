"""What every benchmark returns: rows of figures beside their reference, from one run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    bench: str          # e.g. "scrape"
    figure: str         # e.g. "p99 latency"
    ours: float         # wardwatch's figure
    unit: str           # e.g. "ms"
    reference: str      # what it is compared with, e.g. "node_exporter", "serial", "target"
    ref: float | None   # the reference's figure from the same run (or the target)
    better: str = "lower"  # "lower" or "higher" is better

    @property
    def ratio(self) -> float | None:
        if self.ref in (None, 0):
            return None
        return self.ours / self.ref
