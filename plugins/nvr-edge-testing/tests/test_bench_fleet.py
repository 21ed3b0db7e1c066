"""`nvr-edge bench fleet` for a handful of boxes: every box comes online, answers a fleet
command, and is back online after the broker's restart; the broker's figures are there."""

from __future__ import annotations

from pathlib import Path

import pytest
from nvr_edge_testing.bench.fleet import measure_fleet


@pytest.mark.slow
def test_a_small_fleet_is_measured_end_to_end(tmp_path: Path) -> None:
    run = measure_fleet(5, 2, seconds=3, segment_s=2, folder=tmp_path)
    assert run["all_online_after_start_s"] is not None
    steady = run["steady"]
    assert steady["clients"] >= 6  # five boxes and the operator
    assert steady["messages_per_s"] > 0 and steady["broker_rss_mib"] > 0
    assert steady["retained"] >= 5 * 4  # availability, info, health, stats... per box
    for ping in (run["fleet_ping"], run["fleet_ping_after_restart"]):
        assert ping["answers"] == ping["expected"] == 5, ping
        assert ping["p50_s"] is not None and ping["all_s"] is not None
    assert run["broker_restart"]["all_online_s"] is not None
    assert run["broker_restart"]["online"] == 5
