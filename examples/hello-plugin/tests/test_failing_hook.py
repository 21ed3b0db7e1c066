"""A plugin hook that raises (`fail_on_camera_state = true`) never stops recording: segments
keep being indexed and listed by `nvr-edge segments`, and the status counts the failure."""

from __future__ import annotations

import json
from typing import Any

import pytest
from nvr_edge_testing.appliance import RunningAppliance
from nvr_edge_testing.hooks import HookRecorder
from nvr_edge_testing.waiting import wait_for
from nvr_hello.plugin import HelloPlugin


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any]) -> dict[str, Any]:
    nvr_config["hello"]["fail_on_camera_state"] = True
    return nvr_config


def listed_segments(appliance: RunningAppliance) -> list[dict[str, Any]]:
    done = appliance.cli("segments", "--json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_a_raising_hook_never_stops_recording(nvr_appliance: RunningAppliance,
                                             nvr_hooks: HookRecorder,
                                             hello: HelloPlugin) -> None:
    nvr_hooks.wait_for("nvr_camera_state")  # raised: the camera went online
    rows = wait_for(lambda: len(listed_segments(nvr_appliance)) >= 2
                    and listed_segments(nvr_appliance), 70, "two segments listed")
    assert {row["camera"] for row in rows} == {"cam1"}
    assert hello.segments_closed >= 2  # the plugin's other hooks are still called
    failures = wait_for(lambda: nvr_appliance.handle.status()["plugins"]["failures"], 10,
                        "the failure in the status")
    assert failures["hello"]["nvr_camera_state"] >= 1
