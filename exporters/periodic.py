"""A background loop that calls a function every `interval` seconds until stopped."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("wardwatch.exporters")


class Periodic:
    def __init__(self, name: str, interval: float, fn: Callable[[], None], after: threading.Event | None = None):
        """`after`: wait (at most one interval) for this event before the first call, e.g. the
        runner's first round, so that the first push or file already holds collected values."""
        self.name, self.interval, self.fn, self.after = name, interval, fn, after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 2.0) -> None:
        self._stop.set()
        self._thread.join(wait)

    def _loop(self) -> None:
        deadline = time.monotonic() + self.interval
        while self.after is not None and not self.after.is_set() and time.monotonic() < deadline:
            if self._stop.wait(0.1):
                return
        next_run = time.monotonic()
        failing = ""
        while not self._stop.wait(max(0.0, next_run - time.monotonic())):
            try:
                self.fn()
            except Exception as e:  # noqa: BLE001 - a failed push/write is logged; the loop goes on
                text = " ".join(str(e).split())[:300] or type(e).__name__
                if text != failing:  # once per kind of failure (a full disk, a gateway down), not every interval
                    log.warning("%s failed: %s (logged again only when this changes)", self.name, text)
                    failing = text
            else:
                if failing:
                    log.info("%s works again", self.name)
                    failing = ""
            next_run = max(next_run + self.interval, time.monotonic())
