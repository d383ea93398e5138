"""Progress of a long command on stderr: one updating line on a terminal, one line per step
otherwise; each step named in the operator's language."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TextIO


class Progress:
    """Called as progress(step, done, total); `steps` maps a step key to its text per language."""

    def __init__(self, lang: str, prefix: Mapping[str, str], steps: Mapping[str, Mapping[str, str]],
                 enabled: bool = True, stream: TextIO | None = None):
        self.lang, self.prefix, self.steps, self.enabled = lang, prefix[lang], steps, enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()

    def __call__(self, key: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        text = self.steps.get(key, {}).get(self.lang, key)
        line = f"{self.prefix}: [{done}/{total}] {text} ({time.monotonic() - self.t0:.1f}s)"
        self.stream.write(("\r\033[K" + line + ("\n" if key == "done" else "")) if self.tty else line + "\n")
        self.stream.flush()

    def note(self, key: str, **kw: str) -> None:
        """A line of its own, e.g. where the output was written."""
        if self.enabled:
            self.stream.write(f"{self.prefix}: {self.steps[key][self.lang].format(**kw)}\n")
            self.stream.flush()
