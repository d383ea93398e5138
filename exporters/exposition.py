"""Renders the latest snapshot to the Prometheus text format, once per change.

Scrapes are served from these cached bytes (plain and gzipped), so a scrape
costs a dictionary look-up and a socket write whatever the collectors do.

Besides the collectors' results, parts of the agent that keep their own
self-metrics (remote write's buffer and sender) register a *source*: a function
returning catalogued samples, read at each render and at `refresh()`.
"""

from __future__ import annotations

import gzip
import logging
import platform
import sys
import threading
from collections.abc import Callable, Iterable, Mapping

from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric

from agent import __version__
from agent.collectors.base import Sample
from agent.runner import Result, validate
from exporters import catalogue

CONTENT_TYPE = CONTENT_TYPE_LATEST
log = logging.getLogger("wardwatch.exposition")
Source = Callable[[], list[Sample]]


def self_samples(results: Mapping[str, Result]) -> list[Sample]:
    out = [Sample("wardwatch_build_info", {"version": __version__, "python_version": platform.python_version(),
                                           "platform": sys.platform}, 1.0)]
    for name, r in sorted(results.items()):
        labels = {"collector": name}
        out.append(Sample("wardwatch_collector_success", labels, float(r.success)))
        out.append(Sample("wardwatch_collector_duration_seconds", labels, r.duration))
        out.append(Sample("wardwatch_collector_last_success_timestamp_seconds", labels, r.last_success))
    return out


def snapshot_samples(results: Mapping[str, Result], extra: Iterable[Sample] = ()) -> list[Sample]:
    """Every sample of the snapshot: self-metrics, sources' samples, then the collectors'."""
    return self_samples(results) + list(extra) + [s for r in results.values() for s in r.samples]


def families(results: Mapping[str, Result], extra: Iterable[Sample] = ()) -> list[Metric]:
    """Catalogued metric families holding every sample of the snapshot, in catalogue order."""
    index = catalogue.sample_index()
    by_metric: dict[str, Metric] = {}
    for s in snapshot_samples(results, extra):
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


def render(results: Mapping[str, Result], extra: Iterable[Sample] = ()) -> bytes:
    return generate_latest(_Families(families(results, extra)))  # type: ignore[arg-type]


class Exposition:
    """The latest rendered snapshot; `update` is the runner's on_change hook."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()  # renders one at a time, so an older one never lands last
        self._results: dict[str, Result] = {}
        self._sources: dict[str, Source] = {}
        self._plain = render({})
        self._gzip = gzip.compress(self._plain, 6)

    def update(self, results: Mapping[str, Result]) -> None:
        with self._render_lock:
            with self._lock:
                self._results = dict(results)
            self._render()

    def refresh(self) -> None:
        """Render again with the sources' current samples (the collectors' results unchanged)."""
        with self._render_lock:
            self._render()

    def add_source(self, name: str, source: Source) -> None:
        with self._lock:
            self._sources[name] = source
        self.refresh()  # its samples show from now on, not from the next collection

    def remove_source(self, name: str) -> None:
        with self._lock:
            self._sources.pop(name, None)
        self.refresh()

    def _extra(self) -> list[Sample]:
        with self._lock:
            sources = list(self._sources.items())
        out: list[Sample] = []
        for name, source in sources:
            try:
                out += validate(source())
            except Exception as e:  # noqa: BLE001 - a bad source (GarbageError or a bug) must not stop the scrape
                log.error("self-metrics source %s failed: %s", name, e)
        return out

    def snapshot(self) -> tuple[dict[str, Result], list[Sample]]:
        """The collectors' latest results and every sample of the snapshot, as it would render now."""
        with self._lock:
            results = dict(self._results)
        return results, snapshot_samples(results, self._extra())

    def _render(self) -> None:
        with self._lock:
            results = self._results
        plain = render(results, self._extra())
        packed = gzip.compress(plain, 6)
        with self._lock:
            self._plain, self._gzip = plain, packed

    def body(self, gzipped: bool = False) -> bytes:
        with self._lock:
            return self._gzip if gzipped else self._plain
