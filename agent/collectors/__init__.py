"""The explicit registry of collectors. Adding one: write agent/collectors/<name>.py
with a `Collector` subclass, add it to REGISTRY, and catalogue its metrics in
exporters/metrics.csv."""

from __future__ import annotations

from agent.collectors.base import Collector
from agent.collectors.hardware import HardwareCollector
from agent.collectors.printers import PrintersCollector
from agent.collectors.scanners import ScannersCollector
from agent.collectors.vclient import VclientCollector
from agent.collectors.wan import WanCollector

REGISTRY: tuple[type[Collector], ...] = (
    HardwareCollector,
    PrintersCollector,
    ScannersCollector,
    WanCollector,
    VclientCollector,
)


def by_name(name: str) -> type[Collector]:
    for c in REGISTRY:
        if c.name == name:
            return c
    raise KeyError(name)
