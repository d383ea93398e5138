"""The real agent (`wardwatch-agent run`, agent.app.Agent) with extra collectors that
misbehave, for the fault-injection test and the soak benchmark:

    python3 tests/chaos_agent.py run --config agent.yml --listen 127.0.0.1:PORT

- chaos_stuck: its first run never returns (a backend that hangs for good);
- chaos_hang: each run sleeps between half and three times its timeout, so runs time
  out and their workers come back later;
- chaos_raise: raises, in turn, ordinary errors, BaseExceptions (SystemExit,
  KeyboardInterrupt), a RecursionError, an exception whose str() itself raises, and one
  with a megabyte of text and line breaks;
- chaos_garbage: returns, in turn, what is not a list of catalogued samples (None, text,
  a dict, a generator, unknown metrics, wrong labels, values that are not numbers, a
  sample twice), an empty list, and a valid snapshot of 2,000 series.

They exist only in this process: this script adds them to the registry before the
config is read, so `collectors.chaos_*` is a valid key here and nowhere else. The
production agent has no way to load code from its config.

Under libfaketime (FAKETIME_TIMESTAMP_FILE set), time.sleep is replaced by a timed wait:
libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC=1 makes glibc's absolute
clock_nanosleep fail with EINVAL (subprocess's wait loop sleeps so).
"""

from __future__ import annotations

import itertools
import os
import random
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import agent.app  # noqa: E402
import agent.collectors  # noqa: E402
import agent.config  # noqa: E402
from agent.collectors.base import Collector, Sample, sample  # noqa: E402


class ChaosStuck(Collector):
    name = "chaos_stuck"
    help = "Hangs for good at its first run (fault injection; tests only)."
    default_enabled = False

    def collect(self) -> list[Sample]:
        threading.Event().wait()
        return []


class ChaosHang(Collector):
    name = "chaos_hang"
    help = "Sleeps between half and three times its timeout (fault injection; tests only)."
    default_enabled = False

    def collect(self) -> list[Sample]:
        threading.Event().wait(self.settings.timeout * random.uniform(0.5, 3.0))  # noqa: S311
        return []


class _BrokenStrError(Exception):
    def __str__(self) -> str:
        raise ValueError("str() of this exception raises")


def _recurse(n: int) -> int:
    return _recurse(n + 1) + 1


class ChaosRaise(Collector):
    name = "chaos_raise"
    help = "Raises a different kind of exception at each run (fault injection; tests only)."
    default_enabled = False

    def __init__(self, settings, context):
        super().__init__(settings, context)
        self._kinds = itertools.cycle([
            lambda: RuntimeError("backend failed"),
            lambda: OSError(5, "Input/output error"),
            lambda: KeyError("missing"),
            lambda: MemoryError(),
            lambda: SystemExit(3),
            lambda: KeyboardInterrupt(),
            lambda: _BrokenStrError(),
            lambda: RuntimeError("line one\nline two\r\n" + "x" * (1 << 20)),
            None,  # a real RecursionError
        ])

    def collect(self) -> list[Sample]:
        kind = next(self._kinds)
        if kind is None:
            _recurse(0)
        raise kind()


class _LyingList(list):
    def __iter__(self):
        raise RuntimeError("iterating this list fails")


class ChaosGarbage(Collector):
    name = "chaos_garbage"
    help = "Returns garbage, nothing, or a large valid snapshot in turn (fault injection; tests only)."
    default_enabled = False

    def __init__(self, settings, context):
        super().__init__(settings, context)
        self._outputs = itertools.cycle([
            lambda: None,
            lambda: "wardwatch_printer_up 1",
            lambda: {"wardwatch_printer_up": 1},
            lambda: (s for s in [sample("wardwatch_printer_up", 1, printer="x")]),
            lambda: [sample("wardwatch_chaos_not_in_the_catalogue", 1)],
            lambda: [sample("wardwatch_printer_up", 1)],
            lambda: [Sample("wardwatch_printer_up", {"printer": 5}, 1.0)],  # type: ignore[dict-item]
            lambda: [Sample("wardwatch_printer_up", {"printer": "x"}, "1")],  # type: ignore[arg-type]
            lambda: [sample("wardwatch_printer_up", 1, printer="x")] * 2,
            lambda: _LyingList([sample("wardwatch_printer_up", 1, printer="x")]),
            lambda: [],
            lambda: [sample("wardwatch_printer_up", i % 2, printer=f"chaos-{i}") for i in range(2000)],
        ])

    def collect(self) -> list[Sample]:
        return next(self._outputs)()


CHAOS = (ChaosStuck, ChaosHang, ChaosRaise, ChaosGarbage)


def install() -> None:
    """Add the chaos collectors to the registry of this process (the config schema reads it)."""
    agent.collectors.REGISTRY = agent.collectors.REGISTRY + CHAOS
    agent.app.REGISTRY = agent.config.REGISTRY = agent.collectors.REGISTRY


def _sleep_without_clock_nanosleep(seconds: float) -> None:
    threading.Event().wait(seconds)


def main() -> int:
    if os.environ.get("FAKETIME_TIMESTAMP_FILE"):
        import time

        time.sleep = _sleep_without_clock_nanosleep
    install()
    from agent.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
