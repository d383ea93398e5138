"""The one duration syntax and the one closest-name helper (agent/syntax.py). Expected values:
Prometheus's duration format (docs: "Time durations", `[0-9]+(ms|[smhdwy])`, parts combined
from the largest unit down: 1h30m, 12h34m56s, 54s362ms; 1d = 24h, 1w = 7d)."""

import pytest

from agent.syntax import closest, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("500ms", 0.5), ("5m", 300), ("1h", 3600), ("7d", 604800), ("2w", 1209600),
    ("1h30m", 5400), ("12h34m56s", 45296), ("54s362ms", 54.362), (" 15m ", 900),
    ("90", 90), ("1.5", 1.5), ("1.5s", 1.5), ("0.2s", 0.2),
])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "15 minutes", "-5m", "5x", "30m1h", "1h1h", "1m5", "1e3s", "5 m"])
def test_not_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_what_each_reader_allows():
    # readiness --at: a unit on every part
    with pytest.raises(ValueError):
        parse_duration("90", plain_seconds=False)
    assert parse_duration("-2h"[1:], plain_seconds=False) == 7200
    # alert rules' `for:` goes into Prometheus as written: whole numbers, down to seconds
    for text in ("1.5m", "500ms", "90"):
        with pytest.raises(ValueError):
            parse_duration(text, plain_seconds=False, fractions=False, smallest="s")
    assert parse_duration("1h30m", plain_seconds=False, fractions=False, smallest="s") == 5400


def test_closest():
    assert closest("langauge", ["language", "state_dir"]) == "language"
    assert closest("wardwatch_agent_prot", ["wardwatch_agent_port", "wardwatch_agent_path"]) == "wardwatch_agent_port"
    assert closest("childern", ["children", "hosts", "vars"]) == "children"
    assert closest("zzz", ["language"]) is None
