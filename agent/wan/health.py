"""Per-target health from probe results: rolling windows (loss, jitter, median
round-trip time), consecutive failures, up/down, outages, the RTT histogram.

Times are time.monotonic() so a clock step never bends a duration. An outage
starts at the first failed round of the run of failures that made the target
down (`failures_down` of them in a row) and ends when the first answered packet
of a successful round was sent; its seconds are added round by round while it
lasts, so the counter grows whether or not anybody reads it.

A round that could not be made for a reason that says nothing about the link
(ICMP not permitted on this PC) leaves up/down and the counters alone.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

from agent.wan.result import ProbeResult
from agent.wan.targets import Target

# Round-trip time buckets (seconds), from a LAN gateway (under a millisecond) to a very slow WAN.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
NOT_ABOUT_THE_LINK = frozenset({"icmp_not_permitted"})


@dataclass(frozen=True)
class Thresholds:
    rtt_degraded: float
    loss_degraded: float
    jitter_degraded: float
    failures_down: int
    cert_expiry_warning: float

    @classmethod
    def from_settings(cls, t) -> Thresholds:  # noqa: ANN001 - agent.options.Settings of `thresholds`
        return cls(t.wan_rtt_degraded, t.wan_loss_degraded, t.wan_jitter_degraded, t.wan_failures_down,
                   t.wan_cert_expiry_warning)


@dataclass
class Counters:
    """What survives a restart (agent.wan.state)."""

    outage_seconds: float = 0.0
    outages: int = 0
    down: bool = False
    consecutive_failures: int = 0


@dataclass(frozen=True)
class Stats:
    sent: int
    received: int
    loss: float          # NaN when nothing was sent in the window
    jitter: float        # NaN with fewer than two round-trip times
    median_rtt: float    # NaN with no round-trip time


@dataclass
class TargetHealth:
    target: Target
    window: float
    thresholds: Thresholds
    counters: Counters = field(default_factory=Counters)
    last: ProbeResult | None = None        # the latest round, whatever it said
    last_link: ProbeResult | None = None   # the latest round that said something about the link
    rounds: int = 0
    bucket_counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    rtt_sum: float = 0.0
    rtt_count: int = 0
    _window: deque[tuple[float, int, int, tuple[float, ...]]] = field(default_factory=deque)
    _failing_since: float | None = None    # start of the current run of failed rounds
    _accounted_to: float | None = None     # the outage is counted up to this time

    # --- recording -----------------------------------------------------------

    def record(self, r: ProbeResult) -> bool:
        """Take one round; True when the target went down or came back (a transition)."""
        self.last = r
        self.rounds += 1
        if r.error in NOT_ABOUT_THE_LINK:
            return False
        self.last_link = r
        self._window.append((r.finished, r.sent, r.received, r.rtts))
        self._prune(r.finished)
        for rtt in r.rtts:
            self._observe(rtt)
        c = self.counters
        if r.ok:
            c.consecutive_failures = 0
            self._failing_since = None
            if c.down:
                end = r.answered_at if r.answered_at is not None else r.started
                if self._accounted_to is not None:
                    c.outage_seconds += max(0.0, end - self._accounted_to)
                c.down = False
                self._accounted_to = None
                return True
            return False
        c.consecutive_failures += 1
        if self._failing_since is None:
            self._failing_since = r.started
        if c.down:  # still down (or down before a restart: counted again from this round on)
            since = self._accounted_to if self._accounted_to is not None else r.started
            c.outage_seconds += max(0.0, r.finished - since)
            self._accounted_to = r.finished
            return False
        if c.consecutive_failures >= self.thresholds.failures_down:
            c.down = True
            c.outages += 1
            c.outage_seconds += max(0.0, r.finished - self._failing_since)
            self._accounted_to = r.finished
            return True
        return False

    def _observe(self, rtt: float) -> None:
        self.rtt_sum += rtt
        self.rtt_count += 1
        for i, bound in enumerate(BUCKETS):
            if rtt <= bound:
                self.bucket_counts[i] += 1

    def _prune(self, now: float) -> None:
        while self._window and self._window[0][0] < now - self.window:
            self._window.popleft()

    # --- reading -------------------------------------------------------------

    @property
    def probed(self) -> bool:
        return self.last_link is not None

    @property
    def up(self) -> bool:
        return not self.counters.down

    def stats(self, now: float) -> Stats:
        self._prune(now)
        sent = sum(w[1] for w in self._window)
        received = sum(w[2] for w in self._window)
        rtts = [x for w in self._window for x in w[3]]
        loss = (1.0 - received / sent) if sent else math.nan
        jitter = (statistics.fmean(abs(b - a) for a, b in zip(rtts, rtts[1:], strict=False))
                  if len(rtts) >= 2 else math.nan)
        median = statistics.median(rtts) if rtts else math.nan
        return Stats(sent, received, loss, jitter, median)

    def degraded(self, s: Stats) -> bool:
        """Up, but slow, lossy or jittery beyond the thresholds (a down target is not 'degraded')."""
        if not self.up or not self.probed:
            return False
        t = self.thresholds
        return ((not math.isnan(s.median_rtt) and s.median_rtt > t.rtt_degraded)
                or (not math.isnan(s.loss) and s.loss > t.loss_degraded)
                or (not math.isnan(s.jitter) and s.jitter > t.jitter_degraded))
