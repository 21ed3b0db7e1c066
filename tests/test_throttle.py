"""One report per kind and interval, with the count of those left out."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_first_report_then_quiet_then_the_count() -> None:
    clock = Clock()
    throttle = Throttle(60.0, clock)
    assert throttle.allow("emfile") == 0
    assert [throttle.allow("emfile") for _ in range(5)] == [None] * 5
    assert throttle.allow("other") == 0  # kinds are throttled apart
    clock.now = 60.0
    assert throttle.allow("emfile") == 5
    clock.now = 200.0
    assert throttle.allow("emfile") == 0


@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 30)), max_size=200))
def test_every_event_is_reported_or_counted_exactly_once(events) -> None:
    clock = Clock()
    throttle = Throttle(10.0, clock)
    seen = {kind: 0 for kind in "abc"}
    accounted = {kind: 0 for kind in "abc"}
    reports: dict[str, list[float]] = {kind: [] for kind in "abc"}
    for kind, step in events:
        clock.now += step
        seen[kind] += 1
        answer = throttle.allow(kind)
        if answer is not None:
            accounted[kind] += 1 + answer
            reports[kind].append(clock.now)
    for kind in "abc":
        pending = throttle._skipped.get(kind, 0)
        assert accounted[kind] + pending == seen[kind]
        gaps = [b - a for a, b in zip(reports[kind], reports[kind][1:], strict=False)]
        assert all(gap >= 10.0 for gap in gaps)
