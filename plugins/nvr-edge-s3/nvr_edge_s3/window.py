"""The time-of-day upload window (`window = "22:00-06:00"`): on a thin uplink, copies go
at night and the day's viewers keep the bandwidth.

Local time of the box (its TZ), minute precision; a window may wrap past midnight."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = re.compile(r"\A([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)\Z")
DAY_MIN = 24 * 60


@dataclass(frozen=True)
class Window:
    start_min: int  # minutes after local midnight
    end_min: int

    @classmethod
    def parse(cls, text: str) -> Window:
        """`HH:MM-HH:MM`; ValueError naming the expected shape otherwise."""
        found = WINDOW.match(text.strip())
        if found is None:
            raise ValueError(f"{text!r} is not HH:MM-HH:MM (e.g. \"22:00-06:00\")")
        h1, m1, h2, m2 = (int(g) for g in found.groups())
        window = cls(h1 * 60 + m1, h2 * 60 + m2)
        if window.start_min == window.end_min:
            raise ValueError(f"{text!r} is empty: start and end are the same minute "
                             "(leave window out to upload at any time)")
        return window

    def is_open(self, now: datetime) -> bool:
        minute = now.hour * 60 + now.minute
        if self.start_min < self.end_min:
            return self.start_min <= minute < self.end_min
        return minute >= self.start_min or minute < self.end_min  # wraps past midnight

    def seconds_until_open(self, now: datetime) -> float:
        """0 while open; else the seconds until the next opening (at most a day)."""
        if self.is_open(now):
            return 0.0
        minute = now.hour * 60 + now.minute
        wait_min = (self.start_min - minute) % DAY_MIN
        opening = (now.replace(second=0, microsecond=0) + timedelta(minutes=wait_min))
        return max(0.0, (opening - now).total_seconds())

    def __str__(self) -> str:
        return (f"{self.start_min // 60:02d}:{self.start_min % 60:02d}-"
                f"{self.end_min // 60:02d}:{self.end_min % 60:02d}")
