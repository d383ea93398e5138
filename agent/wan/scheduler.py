"""One scheduler for every target: a timer thread keeps a heap of when each
target is due and hands due rounds to a small pool of worker threads, so
targets are probed concurrently, each on its own interval (their first rounds
spread over a second, so they do not keep firing in one burst). A target whose
previous round is still running is not started again (its round is bounded by
its timeout, so this only happens when the interval is too short for it).
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from agent.wan.result import ProbeResult, failed
from agent.wan.targets import Target

log = logging.getLogger("wardwatch.wan")

Probe = Callable[[Target], ProbeResult]
SPREAD = 1.0


class Scheduler:
    def __init__(self, targets: Sequence[Target], probe: Probe, on_result: Callable[[Target, ProbeResult], None],
                 workers: int = 16, tick: Callable[[], None] | None = None, tick_interval: float = 10.0):
        """`tick` (e.g. saving state) runs in the timer thread every `tick_interval` seconds and on stop."""
        self.targets = list(targets)
        self.probe = probe
        self.on_result = on_result
        self.workers = max(1, min(workers, len(self.targets)))
        self.tick, self.tick_interval = tick, tick_interval
        self._queue: queue.Queue[Target | None] = queue.Queue()
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.rounds_started = 0
        self.rounds_skipped = 0
        self.wakeups = 0  # of the timer thread: it sleeps until the next due round or tick

    def offset(self, i: int) -> float:
        """When target i has its first round: the first rounds are spread over up to SPREAD seconds, so
        that fifty targets with the same interval do not all fire (and compete for the CPU) at once."""
        return i / len(self.targets) * min(self.targets[i].interval, SPREAD)

    def start(self) -> None:
        for i in range(self.workers if self.targets else 0):
            t = threading.Thread(target=self._work, name=f"wan-probe-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._timer, name="wan-scheduler", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, wait: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        for _ in range(self.workers):
            self._queue.put(None)
        deadline = time.monotonic() + wait
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    # --- threads -------------------------------------------------------------

    def _timer(self) -> None:
        now = time.monotonic()
        heap = [(now + self.offset(i), i) for i in range(len(self.targets))]
        heapq.heapify(heap)
        next_tick = now + self.tick_interval
        while not self._stop.is_set():
            self.wakeups += 1
            now = time.monotonic()
            while heap and heap[0][0] <= now:
                due, i = heapq.heappop(heap)
                target = self.targets[i]
                with self._lock:
                    busy = target.name in self._busy
                    if not busy:
                        self._busy.add(target.name)
                if busy:
                    self.rounds_skipped += 1
                else:
                    self.rounds_started += 1
                    self._queue.put(target)
                nxt = due + target.interval
                if nxt <= now:  # fell behind (machine asleep, overloaded): no burst to catch up
                    nxt = now + target.interval
                heapq.heappush(heap, (nxt, i))
            if now >= next_tick:
                if self.tick is not None:
                    self._run_tick()
                next_tick = now + self.tick_interval
            until = min(heap[0][0] if heap else next_tick, next_tick)
            self._wake.wait(max(0.0, until - time.monotonic()))
        if self.tick is not None:
            self._run_tick()

    def _run_tick(self) -> None:
        try:
            self.tick()  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - a failing save must not stop the probes
            log.exception("wan: periodic task failed")

    def _work(self) -> None:
        while True:
            target = self._queue.get()
            if target is None or self._stop.is_set():
                return
            try:
                try:
                    result = self.probe(target)
                except Exception as e:  # noqa: BLE001 - a probe bug is a failed round, not a dead worker
                    log.exception("wan: probe of %s raised", target.name)
                    now = time.monotonic()
                    result = failed(now, now, "other", f"probe error: {type(e).__name__}: {e}")
                if not self._stop.is_set():
                    self.on_result(target, result)
            finally:
                with self._lock:
                    self._busy.discard(target.name)
