"""The plugin in the real appliance: its section is read, its command runs, its hook sees
every closed segment (one simulated camera, 10 s segments)."""

from __future__ import annotations

from nvr_edge_testing.appliance import RunningAppliance
from nvr_edge_testing.hooks import HookRecorder
from nvr_edge_testing.waiting import wait_for
from nvr_hello.plugin import HelloPlugin


def test_the_hook_counts_closed_segments(nvr_appliance: RunningAppliance,
                                         nvr_hooks: HookRecorder, hello: HelloPlugin) -> None:
    calls = nvr_hooks.wait_for("nvr_segment_closed", count=2, timeout=60)
    assert {call.segment.camera for call in calls} == {"cam1"}
    indexed = wait_for(lambda: len(nvr_appliance.segments()) >= 2 and nvr_appliance.segments(),
                       30, "two indexed segments")
    assert {s.path for s in indexed} >= {c.segment.path for c in calls[:2]}
    assert hello.segments_closed >= 2


def test_the_command_greets_with_the_configured_greeting(
        nvr_appliance: RunningAppliance, hello: HelloPlugin) -> None:
    answer = nvr_appliance.handle.run_command("hello.greet", {"name": "Ada"})
    assert answer == {"greeting": "Hi, Ada!", "segments_closed": hello.segments_closed}
    assert "hello.greet" in [c.name for c in nvr_appliance.handle.commands()]
