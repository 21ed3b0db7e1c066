"""Summaries of latency samples: the figures the benchmark reports."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (no interpolation: every figure
    reported is a latency that was actually measured)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(values: Sequence[float]) -> dict[str, Any]:
    """count, p50, p95, p99, min, max and mean, in the values' unit rounded to 0.1."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {"count": len(ordered),
            "p50": round(percentile(ordered, 0.50), 1),
            "p95": round(percentile(ordered, 0.95), 1),
            "p99": round(percentile(ordered, 0.99), 1),
            "min": round(ordered[0], 1), "max": round(ordered[-1], 1),
            "mean": round(sum(ordered) / len(ordered), 1)}
