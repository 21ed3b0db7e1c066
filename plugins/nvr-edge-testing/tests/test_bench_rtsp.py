"""The RTSP restream bench on a short run: every phase reads the clock at the frame rate,
the copies beside the measured client stay connected, and the figures are plausible."""

from __future__ import annotations

from pathlib import Path

import pytest
from nvr_edge_testing.bench.rtsp import run
from nvr_edge_testing.simcam.clip import Clip

pytestmark = pytest.mark.slow


def test_a_short_run_measures_latency_and_cpu_per_client(tmp_path: Path,
                                                        nvr_clip: Clip) -> None:
    result = run(2.0, (1, 3), (640, 360), tmp_path, main=nvr_clip)
    for phase in ("anchor", "clients_1", "clients_3"):
        found = result[phase]
        assert found["unreadable"] == 0 and found["fps"] >= 20, result
        assert 0 < found["latency_ms"]["p50"] < 1000, result
    assert result["clients_3"]["copies_alive"] == 2, result
    assert result["clients_1"]["cpu_percent_per_client"] >= 0, result
