"""The object-storage bench on a short run: its figures must agree with what the box
recorded and the store holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from nvr_edge_testing.bench.s3 import measure

pytestmark = pytest.mark.slow


def test_a_short_run_measures_cost_freshness_and_a_drain(tmp_path: Path) -> None:
    result = measure(cameras=2, seconds=30, segment_seconds=10, outage_s=15, root=tmp_path)
    steady, outage = result["steady"], result["outage"]
    # 2 cameras x 30 s of 10 s segments: 5 to 7 verified in the window
    assert 5 <= steady["segments_verified"] <= 7, result
    # the clip is 800 kbit/s (360 MB an hour) plus audio and MP4 overhead
    assert 250 <= steady["mb_per_camera_hour"] <= 700, result
    assert 0 < steady["upload_cpu_s_per_camera_hour"] < 600, result
    assert 0 < steady["close_to_verified_p50_s"] <= steady["close_to_verified_max_s"] < 30
    # 15 s away: two or three segments per camera waited, then all of them drained
    assert outage["backlog_segments"] >= 2 and outage["drained_segments"] >= \
        outage["backlog_segments"], result
    assert outage["drain_segments_per_s"] > 0, result
