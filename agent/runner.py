"""Runs every enabled collector on its own schedule, off the scrape path.

Each collector gets a scheduler thread; each run happens in a worker thread
that is given `timeout` seconds. A run that raises, overruns or returns samples
the catalogue does not know is a failure: its samples are dropped (stale values
are never passed off as fresh) and `success` goes to 0. A worker that hangs is
not started again until it returns, so a hung backend costs one thread, not one
per interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from agent.collectors.base import Collector, Sample
from exporters import catalogue

log = logging.getLogger("wardwatch.runner")


@dataclass(frozen=True)
class Result:
    samples: tuple[Sample, ...] = ()
    success: bool = False
    duration: float = 0.0
    last_success: float = 0.0  # unix time; 0 = never
    error: str = ""
    finished_at: float = 0.0  # unix time of this result


@dataclass
class _Slot:
    collector: Collector
    interval: float
    timeout: float
    result: Result = field(default_factory=Result)
    worker: threading.Thread | None = None
    started: float = 0.0  # monotonic start of the running worker


MAX_ERROR = 300  # characters of a collector's error kept (one line): a megabyte of exception text is not news


def describe(e: BaseException) -> str:
    """`Type: message` on one bounded line, even for an exception whose str() itself raises."""
    try:
        text = str(e)
    except Exception:  # noqa: BLE001 - a broken __str__ must not turn one failed run into a dead loop
        text = "<message unreadable>"
    return " ".join(f"{type(e).__name__}: {text}".split())[:MAX_ERROR]


class GarbageError(ValueError):
    """A collector returned something that is not a list of catalogued samples."""


def validate(samples: object) -> tuple[Sample, ...]:
    if not isinstance(samples, (list, tuple)):
        raise GarbageError(f"collect() returned {type(samples).__name__}, not a list of samples")
    index = catalogue.sample_index()
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    out = []
    for s in samples:
        if not isinstance(s, Sample):
            raise GarbageError(f"not a Sample: {s!r:.80}")
        entry = index.get(s.name)
        if entry is None:
            raise GarbageError(f"metric {s.name!r} is not in the catalogue")
        if not isinstance(s.labels, dict) or tuple(sorted(s.labels)) != entry[1]:
            raise GarbageError(f"metric {s.name!r} has labels {sorted(s.labels)!r}, catalogue says {list(entry[1])!r}")
        if not all(isinstance(v, str) for v in s.labels.values()):
            raise GarbageError(f"metric {s.name!r} has a label value that is not text")
        if isinstance(s.value, bool) or not isinstance(s.value, (int, float)):
            raise GarbageError(f"metric {s.name!r} has a value that is not a number: {s.value!r:.40}")
        key = (s.name, tuple(sorted(s.labels.items())))
        if key in seen:
            raise GarbageError(f"metric {s.name!r} {dict(key[1])} emitted twice")
        seen.add(key)
        out.append(s if isinstance(s.value, float) else s._replace(value=float(s.value)))
    return tuple(out)


class Runner:
    def __init__(self, collectors: Iterable[tuple[Collector, float, float]],
                 on_change: Callable[[dict[str, Result]], None] | None = None):
        """`collectors`: (collector, interval, timeout) for each enabled collector."""
        self._slots = {c.name: _Slot(c, interval, timeout) for c, interval, timeout in collectors}
        self._on_change = on_change
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # Held while publishing; stop() takes it too, so once stop() returns this runner never
        # publishes again (a late run of a replaced runner must not overwrite its successor's snapshot).
        self._publish = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.first_round = threading.Event()  # set once every collector has finished (or timed out) once
        if not self._slots:
            self.first_round.set()

    # --- public ---------------------------------------------------------------

    def snapshot(self) -> dict[str, Result]:
        with self._lock:
            return {name: slot.result for name, slot in self._slots.items()}

    def run_all_once(self) -> dict[str, Result]:
        """One run of every collector, side by side, each bounded by its timeout (for `check`)."""
        threads = [threading.Thread(target=self.run_one, args=(n,), daemon=True) for n in self._slots]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return self.snapshot()

    def start(self) -> None:
        self._notify()
        for slot in self._slots.values():
            try:
                slot.collector.start()
            except Exception:  # noqa: BLE001 - one collector's background work must not stop the others
                log.exception("collector %s failed to start its background work", slot.collector.name)
        for name in self._slots:
            t = threading.Thread(target=self._loop, args=(name,), name=f"collector-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, wait: float = 2.0) -> None:
        with self._publish:
            self._stop.set()
        deadline = time.monotonic() + wait
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for slot in self._slots.values():
            try:
                slot.collector.close()
            except Exception:  # noqa: BLE001 - a collector's cleanup must not stop the others'
                log.exception("collector %s failed to close", slot.collector.name)

    # --- internals ------------------------------------------------------------

    def _loop(self, name: str) -> None:
        interval = self._slots[name].interval
        next_run = time.monotonic()
        while not self._stop.wait(max(0.0, next_run - time.monotonic())):
            try:
                self.run_one(name)
            except Exception:  # noqa: BLE001 - this collector's schedule must outlive any bug in a run
                log.exception("collector %s: run failed unexpectedly; trying again at the next interval", name)
            next_run += interval
            now = time.monotonic()
            if next_run < now:  # overran (or the machine slept): do not fire a burst to catch up
                next_run = now + interval

    def run_one(self, name: str) -> Result:
        slot = self._slots[name]
        with self._lock:
            busy = slot.worker is not None and slot.worker.is_alive()
        if busy:
            return self._record(slot, None, time.monotonic() - slot.started,
                                "previous run still hung, not started again")
        box: dict[str, object] = {}

        def work() -> None:
            try:
                box["samples"] = validate(slot.collector.collect())
            except BaseException as e:  # noqa: BLE001 - any failure of a collector is reported, never raised
                box["error"] = describe(e)

        worker = threading.Thread(target=work, name=f"collect-{name}", daemon=True)
        with self._lock:
            slot.worker, slot.started = worker, time.monotonic()
        worker.start()
        worker.join(slot.timeout)
        duration = time.monotonic() - slot.started
        if worker.is_alive():
            return self._record(slot, None, slot.timeout, f"timed out after {slot.timeout:g}s")
        if "samples" not in box:
            return self._record(slot, None, duration, str(box.get("error", "ended without a result")))
        return self._record(slot, box["samples"], duration, "")  # type: ignore[arg-type]

    def _record(self, slot: _Slot, samples: tuple[Sample, ...] | None, duration: float, error: str) -> Result:
        now = time.time()
        prev = slot.result
        if samples is not None:
            result = Result(samples, True, duration, now, "", now)
        else:
            result = Result((), False, duration, prev.last_success, error, now)
            if prev.success or prev.finished_at == 0 or prev.error != error:
                log.warning("collector %s failed: %s", slot.collector.name, error)
        if prev.finished_at and not prev.success and result.success:
            log.info("collector %s recovered", slot.collector.name)
        with self._lock:
            slot.result = result
            done = all(s.result.finished_at for s in self._slots.values())
        self._notify()
        if done:
            self.first_round.set()
        return result

    def _notify(self) -> None:
        if self._on_change is None:
            return
        with self._publish:
            if self._stop.is_set():
                return
            try:
                self._on_change(self.snapshot())
            except Exception:  # noqa: BLE001 - rendering must never kill a scheduler thread
                log.exception("could not render the snapshot")


