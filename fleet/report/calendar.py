"""The office-hours calendar of alerts/config.yml (`office_hours:`): which minutes count.

The same section drives the alert rules (alerts/generate.py renders it into PromQL); here it
says which days of a report are working days, their hours in the office's time zone, and
the public holidays (dates) that never count. Periods are whole local days.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from fleet.errors import EXIT_USAGE, FleetError

DEFAULT_CONFIG = "alerts/config.yml"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$")


def default_config() -> str:
    return os.environ.get("WARDWATCH_ALERTS_CONFIG", DEFAULT_CONFIG)


@dataclass(frozen=True)
class Calendar:
    utc_offset_hours: float = 7
    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})  # 0 = Sunday ... 6 = Saturday (PromQL day_of_week)
    start_minute: int = 8 * 60                          # local, inclusive
    end_minute: int = 17 * 60                           # local, exclusive
    holidays: frozenset[dt.date] = frozenset()

    @property
    def tz(self) -> dt.timezone:
        return dt.timezone(dt.timedelta(hours=self.utc_offset_hours))

    @property
    def office_seconds_per_day(self) -> int:
        return (self.end_minute - self.start_minute) * 60

    def is_office_day(self, day: dt.date) -> bool:
        return (day.isoweekday() % 7) in self.days and day not in self.holidays

    def day_start(self, day: dt.date) -> float:
        """Unix time of the local midnight starting `day`."""
        return dt.datetime.combine(day, dt.time(), self.tz).timestamp()

    def office_end(self, day: dt.date) -> float:
        return self.day_start(day) + self.end_minute * 60

    def office_start(self, day: dt.date) -> float:
        return self.day_start(day) + self.start_minute * 60

    def is_office_time(self, ts: float) -> bool:
        local = dt.datetime.fromtimestamp(ts, self.tz)
        minute = local.hour * 60 + local.minute
        return self.is_office_day(local.date()) and self.start_minute <= minute < self.end_minute

    def local(self, ts: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(ts, self.tz)

    def as_dict(self) -> dict:
        return {"utc_offset_hours": self.utc_offset_hours, "days": sorted(self.days),
                "start": f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}",
                "end": f"{self.end_minute // 60:02d}:{self.end_minute % 60:02d}"}


def load_calendar(path: str | Path) -> Calendar:
    """`office_hours:` of alerts/config.yml; a problem is one line naming the file and key."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise FleetError(f"--config {path}: {e.strerror or e} (the alerts' config, alerts/config.yml, holds the "
                         f"office hours / cần tệp alerts/config.yml có giờ làm việc)", EXIT_USAGE) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise FleetError(f"{path}{where}: not valid YAML / YAML không hợp lệ", EXIT_USAGE) from None
    except ValueError as e:  # a date-like value that is no date (2026-13-01)
        raise FleetError(f"{path}: office_hours.holidays: {e} / ngày không hợp lệ", EXIT_USAGE) from None
    oh = doc.get("office_hours") if isinstance(doc, dict) else None
    if not isinstance(oh, dict):
        raise FleetError(f"{path}: office_hours is missing / thiếu office_hours", EXIT_USAGE)

    def bad(key: str, why: str) -> FleetError:
        return FleetError(f"{path}: office_hours.{key}: {why}", EXIT_USAGE)

    offset = oh.get("utc_offset_hours")
    if isinstance(offset, bool) or not isinstance(offset, int | float) or not -14 <= offset <= 14:
        raise bad("utc_offset_hours", "expected hours from -14 to 14")
    days = oh.get("days")
    if not isinstance(days, list) or not days or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
        raise bad("days", "expected a list of 0 (Sunday) .. 6 (Saturday)")
    bounds = []
    for key in ("start", "end"):
        m = _HHMM.match(str(oh.get(key, "")))
        if not m:
            raise bad(key, f"expected HH:MM, got {oh.get(key)!r}")
        bounds.append(int(m[1]) * 60 + int(m[2]))
    if bounds[0] >= bounds[1]:
        raise bad("end", "must be after office_hours.start")
    holidays = set()
    raw = oh.get("holidays") or []
    if not isinstance(raw, list):
        raise bad("holidays", "expected a list of dates (YYYY-MM-DD)")
    for item in raw:
        try:
            holidays.add(item if isinstance(item, dt.date) else dt.date.fromisoformat(str(item)))
        except ValueError:
            raise bad("holidays", f"{item!r} is not a date YYYY-MM-DD") from None
    return Calendar(offset, frozenset(days), bounds[0], bounds[1], frozenset(holidays))


@dataclass(frozen=True)
class Period:
    first: dt.date   # first local day, included
    last: dt.date    # last local day, included
    label: str       # "2026-W48" or "2026-11-23..2026-11-29"

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def previous(self) -> Period:
        n = (self.last - self.first).days + 1
        first, last = self.first - dt.timedelta(days=n), self.first - dt.timedelta(days=1)
        if n == 7 and self.first.isoweekday() == 1:
            y, w, _ = first.isocalendar()
            return Period(first, last, f"{y}-W{w:02d}")
        return Period(first, last, f"{first.isoformat()}..{last.isoformat()}")


def iso_week(text: str) -> Period:
    m = _WEEK.match(text.strip())
    try:
        if not m:
            raise ValueError
        first = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
    except ValueError:
        raise FleetError(f"--week {text!r}: expected an ISO week like 2026-W48 / cần tuần dạng 2026-W48",
                         EXIT_USAGE) from None
    return Period(first, first + dt.timedelta(days=6), f"{int(m[1])}-W{int(m[2]):02d}")


def last_week(cal: Calendar, now: float) -> Period:
    today = dt.datetime.fromtimestamp(now, cal.tz).date()
    monday = today - dt.timedelta(days=today.isoweekday() - 1 + 7)
    y, w, _ = monday.isocalendar()
    return Period(monday, monday + dt.timedelta(days=6), f"{y}-W{w:02d}")


def date_range(first: str, last: str) -> Period:
    try:
        a, b = dt.date.fromisoformat(first.strip()), dt.date.fromisoformat(last.strip())
    except ValueError:
        raise FleetError(f"--from {first!r} --to {last!r}: expected dates YYYY-MM-DD / cần ngày dạng YYYY-MM-DD",
                         EXIT_USAGE) from None
    if b < a:
        raise FleetError(f"--to {last} is before --from {first} / ngày kết thúc trước ngày bắt đầu", EXIT_USAGE)
    if (b - a).days > 92:
        raise FleetError(f"--from {first} --to {last}: at most 93 days / tối đa 93 ngày", EXIT_USAGE)
    return Period(a, b, f"{a.isoformat()}..{b.isoformat()}")
