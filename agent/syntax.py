"""Two small parsers shared by the agent's config, the operators' commands (`wardwatch readiness
--at`) and the alerts generator, so that they accept the same things.

- Durations as Prometheus writes them, one or more parts from the largest unit down (`30s`, `500ms`,
  `15m`, `1h30m`, `7d`, `2w`); a part may have decimals (`1.5s`) where the reader allows them, and a
  plain number is seconds where the reader allows it (YAML `timeout: 5`).
- The known name closest to a mistyped one, for "unknown key (did you mean ...?)".

Standard library only: the agent imports it, and `python3 alerts/generate.py` too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"({_NUMBER})(ms|w|d|h|m|s)")
_PLAIN = re.compile(rf"{_NUMBER}")


def parse_duration(text: str, *, plain_seconds: bool = True, fractions: bool = True, smallest: str = "ms") -> float:
    """Seconds. Raises ValueError for anything else, negative durations included.

    plain_seconds: a number without unit is seconds ("90"). fractions: parts may have decimals
    ("1.5h"); Prometheus's own durations (alert rules' `for:`) have none. smallest: the smallest
    unit accepted."""
    s = text.strip()
    if plain_seconds and _PLAIN.fullmatch(s) and (fractions or "." not in s):
        return float(s)
    total, pos, last_unit = 0.0, 0, -1
    order = list(UNITS)
    while pos < len(s):
        m = _PART.match(s, pos)
        if (not m or (not fractions and "." in m[1]) or order.index(m[2]) <= last_unit
                or order.index(m[2]) > order.index(smallest)):
            raise ValueError(s)
        total += float(m[1]) * UNITS[m[2]]
        last_unit, pos = order.index(m[2]), m.end()
    if pos == 0:
        raise ValueError(s)
    return total


def closest(word: str, options: Iterable[str], cutoff: float = 0.7) -> str | None:
    """The option `word` was most likely meant to be: the same letters in another order ("prot" for
    "port"), else the most similar one above `cutoff` (difflib's ratio), else None."""
    options = list(options)
    swapped = [o for o in options if len(o) == len(word) and sorted(o) == sorted(word)]
    if swapped:
        return swapped[0]
    match = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    return match[0] if match else None
