"""The plugin in the running appliance (the pytest kit's, with a simulated RTSP camera):
`[v4l2]` read from the file, the watcher started, shown in the status, changed at run
time, stopped with the appliance."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from nvr_edge_testing.appliance import RunningAppliance
from nvr_edge_testing.waiting import wait_for


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any]) -> dict[str, Any]:
    nvr_config["v4l2"] = {"source": "kernel"}
    return nvr_config


def v4l2_status(appliance: RunningAppliance) -> Any:
    return appliance.status().get("plugins", {}).get("v4l2")


def monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "v4l2-monitor"]


def test_the_watcher_runs_with_the_appliance(nvr_appliance: RunningAppliance) -> None:
    status = wait_for(lambda: v4l2_status(nvr_appliance), 10, "the v4l2 status part")
    assert status["source"] == "kernel"
    assert isinstance(status["devices"], list)  # this machine's own cameras, if any
    assert len(monitor_threads()) == 1

    nvr_appliance.handle.patch_config({"v4l2": {"watch": False}})
    wait_for(lambda: v4l2_status(nvr_appliance) is None, 10, "the watcher stopped")
    assert monitor_threads() == []

    nvr_appliance.handle.patch_config({"v4l2": {"watch": True, "source": "udev"}})
    status = wait_for(lambda: v4l2_status(nvr_appliance), 10, "the watcher back")
    assert status["source"] == "udev"
    assert len(monitor_threads()) == 1
