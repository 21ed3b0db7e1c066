"""`nvr-edge bench record --ramp`: the steps' parser, the rule that names the first step the
box cannot keep up with, and a short ramp end to end (shape and correctness only; its
figures belong to the benchmark's output)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_testing.appliance import plugins_env
from nvr_edge_testing.bench.record_ramp import first_limit, parse_steps, step_report


@given(st.lists(st.integers(1, 256), min_size=1, max_size=8, unique=True))
def test_increasing_counts_parse_as_written(counts: list[int]) -> None:
    counts.sort()
    assert parse_steps(",".join(map(str, counts))) == counts


@pytest.mark.parametrize("text", ["", "16,8", "16,16", "0,4", "4,x", "300"])
def test_other_ramps_are_refused_naming_the_flag(text: str) -> None:
    with pytest.raises(ValueError, match="--ramp"):
        parse_steps(text)


def side(lost: int = 0, restarts: int = 0, frames_error: float = 0.0,
         cpu_s: float = 10.0) -> dict[str, Any]:
    """What bench_nvr_edge returns, the fields a step report reads."""
    return {"packets": {"cam1": {"received": 100, "written": 100 - lost}},
            "packets_lost": lost, "worker_restarts": restarts,
            "frames": {"error_pct": frames_error}, "cpu_s": cpu_s, "simcam_cpu_s": 1.0,
            "cpu_pct_per_camera": 1.0, "wakeups_per_camera_s": 90.0, "segments": 1,
            "memory_per_worker": {"pss_mib": {"mean": 12.0, "max": 13.0}}}


def test_the_first_step_behind_is_named_with_every_reason() -> None:
    steps = [step_report(16, side(), 60, 2),
             step_report(32, side(lost=3, frames_error=-2.5), 60, 2),
             step_report(48, side(cpu_s=118), 60, 2)]
    assert steps[0]["behind"] == [] and steps[0]["machine_cpu_pct"] == 9.2
    assert steps[1]["packets"] == {"received": 100, "written": 97, "lost": 3}
    assert first_limit(steps) == {
        "cameras": 32, "why": "3 packets lost; files hold -2.5 % of the frames recorded"}
    assert steps[2]["behind"] == ["the machine at 99 % of its 2 cores"]
    assert first_limit(steps[:1]) is None


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_short_ramp_reports_each_step(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nvr_edge", "bench", "record", "--ramp", "1,2", "--seconds",
         "5", "--engine", "pyav", "--work-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=360, check=False, env=plugins_env())
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout)
    assert [s["cameras"] for s in result["steps"]] == [1, 2]
    for step in result["steps"]:
        assert step["packets"]["received"] > 0 and step["packets"]["lost"] == 0
        assert step["worker_restarts"] == 0 and step["pss_mib_per_worker"]["max"] > 0
        assert step["cpu_pct_per_camera"] > 0 and step["wakeups_per_camera_s"] > 0
    assert "first_limit" in result
    assert not list(tmp_path.glob("ramp-*"))  # each step's recordings removed after it
