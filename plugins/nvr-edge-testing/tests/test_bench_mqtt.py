"""The broker-load tool on a short run: its counts must match what the box really sends."""

from __future__ import annotations

from pathlib import Path

import pytest
from nvr_edge_testing.bench.mqtt import measure, topic_class

pytestmark = pytest.mark.slow


def test_topic_classes_fold_cameras_together() -> None:
    assert topic_class("nvr/box/camera/cam7/state", "box") == "camera/+/state"
    assert topic_class("nvr/box/event", "box") == "event"


def test_a_short_measurement_counts_segments_and_stats(tmp_path: Path) -> None:
    result = measure(cameras=2, seconds=25, segment_seconds=10, stats_interval_s=2,
                     root=tmp_path)
    topics = result["by_topic"]
    # 2 cameras x 25 s / 10 s segments: 4 to 6 closed segments; stats every 2 s: 11 to 13
    assert 4 <= topics["event"]["messages"] <= 6, topics
    assert 11 <= topics["stats"]["messages"] <= 13, topics
    per_hour = result["per_box_per_hour"]["messages"]
    assert per_hour == pytest.approx(
        sum(t["messages"] for t in topics.values()) * 3600 / result["seconds"], rel=0.01)
    assert result["fleet"]["messages_per_s"] == pytest.approx(per_hour * 10_000 / 3600,
                                                              rel=0.01)
