"""The latency benchmark's percentiles."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_testing.bench.live.stats import percentile, summary

VALUES = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=500)


@given(values=VALUES, fraction=st.floats(0.01, 1.0))
def test_a_percentile_is_a_measured_value_with_enough_below_it(values: list[float],
                                                              fraction: float) -> None:
    ordered = sorted(values)
    p = percentile(ordered, fraction)
    assert p in ordered
    assert sum(v <= p for v in ordered) >= math.ceil(fraction * len(ordered))
    assert sum(v < p for v in ordered) < math.ceil(fraction * len(ordered))


def test_summary_of_known_values() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert summary(values) == {"count": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0,
                               "min": 1.0, "max": 100.0, "mean": 50.5}
    assert summary([]) == {"count": 0}
    with pytest.raises(ValueError):
        percentile([], 0.5)
