"""The one scheduler: every target on its own interval, concurrently, never two
rounds of one target at once. Probes here are real TCP connects to loopback
listeners, wrapped to record when each round runs."""

import threading
import time

from support import wait_for
from wan_servers import tcp_listener

from agent.wan import tcp
from agent.wan.scheduler import Scheduler
from agent.wan.targets import Target


class Recorder:
    def __init__(self, hold: float = 0.0):
        self.hold = hold
        self.lock = threading.Lock()
        self.rounds: dict[str, int] = {}
        self.in_flight: dict[str, int] = {}
        self.max_same_target = 0
        self.max_total = 0
        self.results = []

    def probe(self, target):
        with self.lock:
            self.in_flight[target.name] = self.in_flight.get(target.name, 0) + 1
            self.max_same_target = max(self.max_same_target, self.in_flight[target.name])
            self.max_total = max(self.max_total, sum(self.in_flight.values()))
        try:
            r = tcp.probe(target)
            time.sleep(self.hold)  # a slow round: keeps the worker (and the target) busy
            return r
        finally:
            with self.lock:
                self.in_flight[target.name] -= 1

    def on_result(self, target, result):
        with self.lock:
            self.rounds[target.name] = self.rounds.get(target.name, 0) + 1
            self.results.append((target.name, result.ok))


def targets(port: int, intervals: dict[str, float]) -> list[Target]:
    return [Target(n, "other", "tcp", "127.0.0.1", "127.0.0.1", port, i, 0.5) for n, i in intervals.items()]


def test_each_target_on_its_own_interval():
    rec = Recorder()
    with tcp_listener() as port:
        s = Scheduler(targets(port, {"slow": 1.0, "fast": 0.1}), rec.probe, rec.on_result, workers=4)
        s.start()
        try:
            wait_for(lambda: rec.rounds.get("fast", 0) >= 15, timeout=10, what="15 rounds of the fast target")
        finally:
            s.stop()
    # 15 fast rounds (the first at 0.05s: first rounds are spread) end after 1.45s: the slow target had
    # its rounds at 0 and 1s, and a third only if the machine stalled for half a second.
    assert 2 <= rec.rounds["slow"] <= 3, rec.rounds
    assert all(ok for _, ok in rec.results)


def test_targets_are_probed_concurrently_but_a_busy_target_is_not_started_again():
    rec = Recorder(hold=0.3)
    with tcp_listener() as port:
        names = {f"t{i}": 0.1 for i in range(4)}
        s = Scheduler(targets(port, names), rec.probe, rec.on_result, workers=4)
        s.start()
        try:
            wait_for(lambda: sum(rec.rounds.values()) >= 8, timeout=10, what="8 rounds")
        finally:
            s.stop()
    assert rec.max_total == 4          # four targets in flight at once on four workers
    assert rec.max_same_target == 1    # never two rounds of one target
    assert s.rounds_skipped > 0        # rounds due while the previous one ran were skipped, not queued


def test_tick_runs_periodically_and_once_more_on_stop():
    ticks = []
    with tcp_listener() as port:
        s = Scheduler(targets(port, {"a": 5.0}), tcp.probe, lambda t, r: None, tick=lambda: ticks.append(1),
                      tick_interval=0.1)
        s.start()
        wait_for(lambda: len(ticks) >= 3, timeout=5, what="3 ticks")
        s.stop()
    n = len(ticks)
    time.sleep(0.3)
    assert len(ticks) == n  # stopped for good


def test_timer_sleeps_between_rounds_with_or_without_a_tick():
    """The timer thread wakes for due rounds and ticks only (a past bug spun once the first tick
    time had passed with no tick to run)."""
    with tcp_listener() as port:
        for tick in (None, lambda: None):
            s = Scheduler(targets(port, {"a": 0.2, "b": 0.2}), tcp.probe, lambda t, r: None, tick=tick,
                          tick_interval=0.1)
            s.start()
            time.sleep(1.0)
            s.stop()
            # about 10 rounds and 10 ticks in that second; a spinning loop wakes millions of times
            assert s.wakeups < 100, (tick, s.wakeups)
            assert s.rounds_started >= 4
