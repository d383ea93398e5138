"""Renders the latest snapshot to the Prometheus text format, once per change.

Scrapes are served from these cached bytes (plain and gzipped), so a scrape
costs a dictionary look-up and a socket write whatever the collectors do.
"""

from __future__ import annotations

import gzip
import platform
import sys
import threading
from collections.abc import Mapping

from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric

from agent import __version__
from agent.collectors.base import Sample
from agent.runner import Result
from exporters import catalogue

CONTENT_TYPE = CONTENT_TYPE_LATEST


def self_samples(results: Mapping[str, Result]) -> list[Sample]:
    out = [Sample("wardwatch_build_info", {"version": __version__, "python_version": platform.python_version(),
                                           "platform": sys.platform}, 1.0)]
    for name, r in sorted(results.items()):
        labels = {"collector": name}
        out.append(Sample("wardwatch_collector_success", labels, float(r.success)))
        out.append(Sample("wardwatch_collector_duration_seconds", labels, r.duration))
        out.append(Sample("wardwatch_collector_last_success_timestamp_seconds", labels, r.last_success))
    return out


def families(results: Mapping[str, Result]) -> list[Metric]:
    """Catalogued metric families holding every sample of the snapshot, in catalogue order."""
    index = catalogue.sample_index()
    by_metric: dict[str, Metric] = {}
    for s in self_samples(results) + [s for r in results.values() for s in r.samples]:
        spec = index[s.name][0]
        fam = by_metric.get(spec.name)
        if fam is None:
            fam_name = spec.name.removesuffix("_total") if spec.type == "counter" else spec.name
            fam = by_metric[spec.name] = Metric(fam_name, spec.help, spec.type)
        fam.add_sample(s.name, s.labels, s.value)
    order = list(catalogue.load())
    return [by_metric[n] for n in order if n in by_metric]


class _Families:
    def __init__(self, fams: list[Metric]):
        self._fams = fams

    def collect(self) -> list[Metric]:
        return self._fams


def render(results: Mapping[str, Result]) -> bytes:
    return generate_latest(_Families(families(results)))  # type: ignore[arg-type]


class Exposition:
    """The latest rendered snapshot; `update` is the runner's on_change hook."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plain = render({})
        self._gzip = gzip.compress(self._plain, 6)

    def update(self, results: Mapping[str, Result]) -> None:
        plain = render(results)
        packed = gzip.compress(plain, 6)
        with self._lock:
            self._plain, self._gzip = plain, packed

    def body(self, gzipped: bool = False) -> bytes:
        with self._lock:
            return self._gzip if gzipped else self._plain
