"""The upload window: any window, any moment: when it is closed, the wait ends exactly at
an opening and no earlier moment is open; when it is open, no wait."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_s3.window import Window

MINUTES = st.integers(0, 24 * 60 - 1)
MOMENTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1))


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@given(MINUTES, MINUTES, MOMENTS)
def test_the_wait_ends_at_the_first_open_minute(start: int, end: int, now: datetime) -> None:
    if start == end:
        return
    window = Window.parse(f"{hhmm(start)}-{hhmm(end)}")
    assert str(window) == f"{hhmm(start)}-{hhmm(end)}"
    wait = window.seconds_until_open(now)
    assert 0 <= wait <= 24 * 3600
    if window.is_open(now):
        assert wait == 0
        return
    opening = now + timedelta(seconds=wait)
    assert window.is_open(opening)
    assert opening.hour * 60 + opening.minute == start
    # every whole minute before the opening is closed
    probe = opening - timedelta(minutes=1)
    while probe > now:
        assert not window.is_open(probe), probe
        probe -= timedelta(minutes=37)  # a sample, not every minute: hypothesis runs many


def test_a_window_past_midnight() -> None:
    night = Window.parse("22:00-06:00")
    assert night.is_open(datetime(2026, 5, 1, 23, 59)) and night.is_open(datetime(2026, 5, 2, 5))
    assert not night.is_open(datetime(2026, 5, 2, 6, 0))
    assert night.seconds_until_open(datetime(2026, 5, 2, 21, 30)) == 1800


@pytest.mark.parametrize(("text", "words"), [("22-06", "HH:MM-HH:MM"),
                                              ("24:00-06:00", "HH:MM-HH:MM"),
                                              ("10:00-10:00", "empty")])
def test_bad_windows_are_named(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Window.parse(text)
