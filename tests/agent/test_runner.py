"""A collector that hangs, raises or returns garbage never blocks /metrics, never
stops the agent, and its last good values are not passed off as fresh."""

import threading
import time

from support import http_get, parse_metrics, wait_until

from agent.collectors.base import Collector, sample
from agent.runner import Runner, validate
from exporters.exposition import Exposition
from exporters.http import MetricsServer
from exporters.webconfig import WebConfig


class Fixed(Collector):
    name = "fixed"
    help = "test"

    def __init__(self, name="fixed", value=42.0):
        self.name, self.value, self.calls = name, value, 0

    def collect(self):
        self.calls += 1
        return [sample("wardwatch_memory_total_bytes", self.value)]


class Hangs(Collector):
    name = "hangs"
    help = "test"

    def __init__(self):
        self.release = threading.Event()
        self.started = 0

    def collect(self):
        self.started += 1
        self.release.wait(60)
        return [sample("wardwatch_uptime_seconds", 1)]


class Raises(Collector):
    name = "raises"
    help = "test"

    def __init__(self):
        self.fail = False

    def collect(self):
        if self.fail:
            raise RuntimeError("backend exploded")
        return [sample("wardwatch_boot_time_seconds", 1234)]


class Garbage(Collector):
    name = "garbage"
    help = "test"

    def __init__(self, payload):
        self.payload = payload

    def collect(self):
        return self.payload


def _serve(runner_entries):
    exposition = Exposition()
    runner = Runner(runner_entries, exposition.update)
    server = MetricsServer("127.0.0.1:0", exposition, WebConfig(None, {}, {}))
    server.serve_in_background()
    return runner, server, f"http://127.0.0.1:{server.server_address[1]}/metrics"


def test_hanging_and_raising_collectors_do_not_block_metrics():
    fixed, hangs, raises = Fixed(), Hangs(), Raises()
    runner, server, url = _serve([(fixed, 1.0, 1.0), (hangs, 1.0, 0.3), (raises, 1.0, 1.0)])
    try:
        runner.start()
        # the hanging collector is cut off at its 0.3 s timeout; the others finish at once
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not runner.snapshot()["hangs"].error:
            time.sleep(0.02)
        t0 = time.monotonic()
        code, body = http_get(url, timeout=2)
        elapsed = time.monotonic() - t0
        assert code == 200
        assert elapsed < 1.0  # answered from the snapshot, not by waiting for the hung collector
        m = parse_metrics(body.decode())
        assert m[("wardwatch_collector_success", (("collector", "hangs"),))] == 0
        assert m[("wardwatch_collector_duration_seconds", (("collector", "hangs"),))] == 0.3
        assert m[("wardwatch_collector_last_success_timestamp_seconds", (("collector", "hangs"),))] == 0
        assert ("wardwatch_uptime_seconds", ()) not in m
        assert m[("wardwatch_collector_success", (("collector", "fixed"),))] == 1
        assert m[("wardwatch_memory_total_bytes", ())] == 42
        assert m[("wardwatch_boot_time_seconds", ())] == 1234

        # the raising one fails on its next run: its old value disappears, its last success stays
        first_success = runner.snapshot()["raises"].last_success
        raises.fail = True
        key = ("wardwatch_collector_success", (("collector", "raises"),))
        wait_until(lambda: parse_metrics(http_get(url)[1].decode())[key] == 0)
        m = parse_metrics(http_get(url)[1].decode())
        assert ("wardwatch_boot_time_seconds", ()) not in m
        assert m[("wardwatch_collector_last_success_timestamp_seconds", (("collector", "raises"),))] == first_success
        assert "backend exploded" in runner.snapshot()["raises"].error

        # the fixed one keeps running on schedule (fresh), the hung one is not started again
        calls = fixed.calls
        wait_until(lambda: fixed.calls >= calls + 2, timeout=5)
        assert hangs.started == 1
        assert "still hung" in runner.snapshot()["hangs"].error

        # once the hung call returns, the collector runs and recovers
        hangs.release.set()
        wait_until(lambda: runner.snapshot()["hangs"].success, timeout=5)
    finally:
        hangs.release.set()
        runner.stop()
        server.shutdown()
        server.server_close()


def test_garbage_is_a_failed_collection():
    cases = {
        "not a list": 5,
        "not samples": [("wardwatch_spec_ok", {}, 1)],
        "uncatalogued": [sample("wardwatch_made_up", 1)],
        "wrong labels": [sample("wardwatch_disk_free_bytes", 1, device="sda")],
        "not a number": [sample("wardwatch_spec_ok", 1)._replace(value="yes")],
        "duplicate series": [sample("wardwatch_spec_ok", 1), sample("wardwatch_spec_ok", 0)],
    }
    for label, payload in cases.items():
        runner = Runner([(Garbage(payload), 60, 1)])
        result = runner.run_one("garbage")
        assert not result.success, label
        assert result.samples == (), label
        assert result.error, label


def test_validate_accepts_catalogued_samples():
    samples = validate([sample("wardwatch_disk_free_bytes", 10, mountpoint="/"), sample("wardwatch_spec_ok", 1)])
    assert [s.value for s in samples] == [10.0, 1.0]


def test_a_stopped_runner_never_publishes_again():
    """A run that finishes after its runner was replaced (reload) must not overwrite the new snapshot."""
    published = []
    slow = Hangs()
    runner = Runner([(slow, 60, 5)], lambda results: published.append(results))
    runner.start()
    wait_until(lambda: slow.started == 1)
    runner.stop(wait=0.1)  # the slow run is still going
    count = len(published)
    slow.release.set()  # ... and finishes now, after stop()
    wait_until(lambda: runner.snapshot()["hangs"].success)
    assert len(published) == count


class BrokenStrError(Exception):
    def __str__(self):
        raise ValueError("str() raises")


class RaisesInTurn(Collector):
    name = "in_turn"
    help = "test"

    def __init__(self, errors):
        self.errors, self.calls = list(errors), 0

    def collect(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return [sample("wardwatch_spec_ok", 1)]


def test_exceptions_that_break_reporting_do_not_stop_the_schedule():
    # found by the fault-injection agent (tests/chaos_agent.py): an exception whose str() raises killed
    # the worker before it stored a result, run_one raised KeyError, and the collector's loop thread died
    errors = [BrokenStrError(), SystemExit(3), KeyboardInterrupt(), RuntimeError("a\nb\r\n" + "x" * (1 << 20))]
    collector = RaisesInTurn(errors)
    runner = Runner([(collector, 0.05, 1.0)])
    try:
        runner.start()
        wait_until(lambda: runner.snapshot()["in_turn"].success, timeout=10)
    finally:
        runner.stop()
    assert collector.calls >= 5


def test_error_text_is_one_bounded_line():
    runner = Runner([(RaisesInTurn([BrokenStrError(), RuntimeError("a\nb\r\n" + "x" * (1 << 20))]), 60, 1.0)])
    assert runner.run_one("in_turn").error == "BrokenStrError: <message unreadable>"
    error = runner.run_one("in_turn").error
    assert error.startswith("RuntimeError: a b xxx") and "\n" not in error and len(error) == 300
