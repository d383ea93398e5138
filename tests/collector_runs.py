"""Building and running the printers/scanners collectors in tests, through the real
runner (so every sample is checked against the catalogue)."""

from __future__ import annotations

from pathlib import Path

from agent import config
from agent.collectors.base import Collector, Context, Sample
from agent.collectors.printers import PrintersCollector
from agent.collectors.scanners import ScannersCollector
from agent.platform import Platform
from agent.platform.linux import LinuxPlatform
from agent.runner import Result, Runner


def no_local_cups() -> LinuxPlatform:
    """A Linux platform that finds no local CUPS (none of the system's is ever touched)."""
    return LinuxPlatform(cups_sockets=(), cups_ports=())


def make(cls: type[Collector], yaml_text: str, tmp: Path, platform: Platform | None = None) -> Collector:
    cfg = config.loads(yaml_text, source="test.yml")
    return cls(cfg.collectors[cls.name], Context(cfg, (platform or no_local_cups()).configured(cfg), str(tmp)))


def printers(yaml_text: str, tmp: Path, platform: Platform | None = None) -> PrintersCollector:
    c = make(PrintersCollector, yaml_text, tmp, platform)
    assert isinstance(c, PrintersCollector)
    return c


def scanners(yaml_text: str, tmp: Path, platform: Platform | None = None) -> ScannersCollector:
    c = make(ScannersCollector, yaml_text, tmp, platform)
    assert isinstance(c, ScannersCollector)
    return c


class Run:
    """One run of a collector through the runner, with look-ups on its samples."""

    def __init__(self, collector: Collector, timeout: float = 60.0):
        runner = Runner([(collector, 3600.0, timeout)])
        self.result: Result = runner.run_one(collector.name)
        self.samples: list[Sample] = list(self.result.samples)

    @property
    def ok(self) -> bool:
        return self.result.success

    def value(self, name: str, **labels: str) -> float | None:
        found = [s.value for s in self.samples
                 if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
        assert len(found) <= 1, f"{name} {labels} matches {len(found)} samples"
        return found[0] if found else None

    def labels(self, name: str, label: str, **labels: str) -> set[str]:
        return {s.labels[label] for s in self.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())}

    def problems(self, printer: str) -> set[str]:
        return self.labels("wardwatch_printer_problem", "problem", printer=printer)

    def printers(self) -> set[str]:
        return self.labels("wardwatch_printer_up", "printer")
