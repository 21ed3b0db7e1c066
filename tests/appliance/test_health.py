from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.appliance.health import ProcessSampler, RestartGuard, too_few_segments


@given(st.lists(st.floats(0, 10_000), max_size=40), st.integers(1, 10),
       st.floats(1, 3600))
def test_storm_means_more_than_limit_restarts_inside_the_window(gaps: list[float], limit: int,
                                                                window: float) -> None:
    guard = RestartGuard(limit, window)
    times: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        times.append(now)
        in_window = [t for t in times if now - t <= window]
        assert guard.record(now) == (len(in_window) > limit)


def test_the_spec_numbers_restart_a_camera_with_one_segment_in_ten_minutes() -> None:
    # 180 s segments: ~3.3 expected in 600 s; under 2 is stuck (the spec's RestartRecording)
    assert too_few_segments([500.0], online_since=0.0, now=650.0, window_s=600,
                            segment_seconds=180)
    assert not too_few_segments([300.0, 480.0], online_since=0.0, now=650.0, window_s=600,
                                segment_seconds=180)


@given(st.lists(st.floats(0, 2000), max_size=80), st.floats(0, 2000), st.integers(10, 600))
def test_never_restart_a_camera_that_was_not_online_the_whole_window(
        closed: list[float], online_since: float, seconds: int) -> None:
    now = online_since + 599
    assert not too_few_segments(closed, online_since, now, 600, seconds)
    assert not too_few_segments(closed, None, now + 10_000, 600, seconds)


def test_sampler_reads_this_process() -> None:
    sampler = ProcessSampler(os.getpid())
    assert sampler.sample(1.0) is None  # the first sample only sets the baseline
    sum(i * i for i in range(300_000))
    sample = sampler.sample(2.0)
    assert sample is not None and sample.cpu_percent >= 0 and sample.rss_mb > 10
    assert ProcessSampler(2**22 + 12345).sample(1.0) is None  # a process that is gone
