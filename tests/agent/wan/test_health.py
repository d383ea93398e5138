"""Outage accounting, windows and verdicts, fed with probe rounds at known times."""

import math

import pytest

from agent.wan.health import BUCKETS, Counters, TargetHealth, Thresholds
from agent.wan.result import ProbeResult
from agent.wan.targets import Target

T = Target("gw", "gateway", "icmp", "192.0.2.1", "192.0.2.1", 0, 1.0, 0.5, packets=4, packet_interval=0.01)


def th(failures_down: int = 2) -> Thresholds:
    return Thresholds(rtt_degraded=0.1, loss_degraded=0.2, jitter_degraded=0.03, failures_down=failures_down,
                      cert_expiry_warning=0)


def ok(t: float, rtts=(0.01, 0.01, 0.01, 0.01), sent: int = 4) -> ProbeResult:
    return ProbeResult(True, t, t + 0.1, sent, len(rtts), tuple(rtts), answered_at=t + 0.02)


def bad(t: float, error: str = "timeout", sent: int = 4) -> ProbeResult:
    return ProbeResult(False, t, t + 0.5, sent, 0, error=error)


def test_outage_runs_from_the_first_failed_round_to_the_first_answer():
    h = TargetHealth(T, window=60, thresholds=th(failures_down=2))
    assert h.record(ok(0)) is False
    assert h.record(bad(1)) is False and h.up          # one failure: not down yet
    assert h.record(bad(2)) is True and not h.up       # second: down, counted from the first
    assert h.counters.outages == 1
    assert h.counters.outage_seconds == pytest.approx(2.5 - 1)
    h.record(bad(3))
    assert h.counters.outage_seconds == pytest.approx(3.5 - 1)  # keeps counting round by round
    assert h.record(ok(4)) is True and h.up
    assert h.counters.outage_seconds == pytest.approx(4.02 - 1)  # up to the first answered packet
    assert (h.counters.outages, h.counters.consecutive_failures) == (1, 0)
    h.record(bad(5))
    h.record(ok(6))  # a single failed round never made it down
    assert (h.counters.outages, h.counters.outage_seconds) == (1, pytest.approx(3.02))


def test_down_before_a_restart_is_the_same_outage_counted_from_the_first_round_after():
    h = TargetHealth(T, 60, th(), counters=Counters(outage_seconds=100.0, outages=3, down=True,
                                                    consecutive_failures=5))
    assert not h.up
    assert h.record(bad(50)) is False  # still down: no new outage
    assert (h.counters.outages, h.counters.consecutive_failures) == (3, 6)
    assert h.counters.outage_seconds == pytest.approx(100.5)  # the time the agent was not running is not known
    h.record(ok(51))
    assert h.counters.outage_seconds == pytest.approx(100.5 + 51.02 - 50.5)
    assert h.up and h.counters.outages == 3


def test_icmp_not_permitted_says_nothing_about_the_link():
    h = TargetHealth(T, 60, th(failures_down=1))
    for t in range(3):
        assert h.record(bad(t, "icmp_not_permitted", sent=0)) is False
    assert not h.probed and h.up and h.counters == Counters()
    assert h.last is not None and h.last.error == "icmp_not_permitted"
    assert math.isnan(h.stats(3).loss)


def test_window_loss_jitter_median_and_pruning():
    h = TargetHealth(T, window=10, thresholds=th())
    h.record(ok(0, rtts=(0.010, 0.030, 0.020)))             # 3 of 4 answered
    h.record(ok(1, rtts=(0.040, 0.040), sent=4))           # 2 of 4
    s = h.stats(1.2)
    assert (s.sent, s.received) == (8, 5)
    assert s.loss == pytest.approx(3 / 8)
    assert s.median_rtt == pytest.approx(0.030)
    assert s.jitter == pytest.approx((0.02 + 0.01 + 0.02 + 0.0) / 4)
    h.record(ok(10.5))  # the round at t=0 (finished 0.1) is now older than the window
    s = h.stats(10.6)
    assert (s.sent, s.received) == (8, 6)


def test_degraded_by_each_threshold_and_never_when_down():
    def health(rtts):
        h = TargetHealth(T, 60, th(failures_down=1))
        h.record(ok(0, rtts=rtts))
        return h, h.stats(0.2)

    h, s = health((0.01, 0.011, 0.012, 0.01))
    assert not h.degraded(s)
    h, s = health((0.2, 0.2, 0.2, 0.2))                # median RTT 200 ms > 100 ms
    assert h.degraded(s)
    h, s = health((0.01, 0.01))                        # loss 50% > 20%
    assert h.degraded(s)
    h, s = health((0.01, 0.09, 0.01, 0.09))            # jitter 80 ms > 30 ms
    assert h.degraded(s)
    h.record(bad(1))
    assert not h.up and not h.degraded(h.stats(2))


def test_histogram_is_cumulative():
    h = TargetHealth(T, 60, th())
    h.record(ok(0, rtts=(0.0004, 0.003, 0.003, 7.0)))
    assert h.rtt_count == 4 and h.rtt_sum == pytest.approx(7.0064)
    counts = dict(zip(BUCKETS, h.bucket_counts, strict=True))
    assert (counts[0.0005], counts[0.0025], counts[0.005], counts[5.0]) == (1, 1, 3, 3)
