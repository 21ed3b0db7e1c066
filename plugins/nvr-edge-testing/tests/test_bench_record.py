"""`nvr-edge bench record` end to end: two simulated cameras, nvr-edge and the ffmpeg CLI.

Only the shape of the result and correctness are asserted (no packet lost, every frame in
the files); CPU targets belong to the benchmark's own output, not to a unit test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from nvr_edge_testing.appliance import plugins_env

CAMERAS, SECONDS = 2, 20


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_bench_record_reports_both_recorders(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nvr_edge", "bench", "record", "--cameras", str(CAMERAS),
         "--seconds", str(SECONDS), "--work-dir", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=540, check=False,
        env=plugins_env())  # `bench` comes from the nvr-edge-testing plugin
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout)  # stdout holds the JSON and nothing else

    assert result["cameras"] == CAMERAS and result["seconds"] == SECONDS
    assert {"cores", "cpu_model"} <= result["machine"].keys()
    assert isinstance(result["window"], str)
    for name in ("nvr_edge", "ffmpeg"):
        side = result[name]
        assert side["cpu_s"] > 0 and side["cpu_pct_per_camera"] > 0
        assert side["wakeups_per_camera_s"] > 0  # a 30 fps camera wakes its reader
        assert side["window_s"] >= SECONDS
        assert side["simcam_cpu_s"] >= 0
        frames = side["frames"]
        assert frames["in_files"] > 0
        assert abs(frames["in_files"] - frames["expected"]) <= 0.01 * frames["expected"]
    memory = [result["nvr_edge"]["memory_per_worker"], result["ffmpeg"]["memory_per_process"]]
    for stats in memory:
        assert len(stats["per_process"]) == CAMERAS
        assert stats["pss_mib"]["max"] > 0 and stats["rss_mib"]["max"] > 0

    nvr = result["nvr_edge"]
    assert {"supervisor", "workers", "forkserver"} <= nvr["cpu_s_by_process"].keys()
    assert set(nvr["packets"]) == {f"cam{i}" for i in range(1, CAMERAS + 1)}
    for counters in nvr["packets"].values():
        assert counters["received"] > 0 and counters["written"] > 0
        assert counters["lost"] == 0
    assert nvr["packets_lost"] == 0

    assert isinstance(result["ratio"], float) and result["ratio"] > 0
