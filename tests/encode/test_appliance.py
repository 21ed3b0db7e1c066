"""The running appliance probes its encoders at start, in the background, and shows the
verdicts in its status (`status --json`, the status file, MQTT health)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from nvr_edge_testing.waiting import wait_for

from nvr_edge.appliance.run import run_appliance
from nvr_edge.encode.plugin import nvr_commands
from nvr_edge.plugins import load_config, make_plugin_manager
from tests.encode import fakes


def test_start_up_probes_and_the_status_shows_why(tmp_path: Path) -> None:
    pm = make_plugin_manager(load_entry_points=False,
                             blocked=("v4l2m2m_encoder", "vaapi_encoder", "rkmpp_encoder"))
    pm.register(fakes.FakeEncoders(), name="fakes")
    config_file = tmp_path / "nvr-edge.toml"
    config_file.write_text(f"""
[device]
id = "box"
[storage]
cache_dir = "{tmp_path}/cache"
archive_dir = "{tmp_path}/archive"
state_dir = "{tmp_path}/state"
[encoders]
hw_file = "{tmp_path}/none.toml"
probe_width = 320
probe_height = 240
""")
    config = load_config(config_file, pm)
    stop, seen = threading.Event(), {}
    deadline = time.monotonic() + 60

    def on_tick(supervisor: Any) -> None:
        part = supervisor.status()["plugins"].get("encoders", {})
        reasons = {p["name"]: p["reason"] for p in part.get("probes", ())}
        if len(reasons) == 4 or time.monotonic() > deadline:
            seen.update(reasons)
            stop.set()

    run_appliance(config, pm=pm, on_tick=on_tick, stop=stop)
    # nvr_shutdown ended the thread that watches for device nodes
    wait_for(lambda: not any(t.name == "encoder-probe" for t in threading.enumerate()), 10,
             "the encoder thread to end")
    assert seen == {"libx264": "ok", "fake_abort": "crashed: SIGABRT",
                    "fake_fail": "device busy", "fake_stall": "ok"}
    # on demand, as MQTT and HTTP run it
    command = next(c for c in nvr_commands(appliance=None) if c.name == "probe_encoders")
    answer = command.run({})
    assert {p["name"]: p["ok"] for p in answer["probes"]} == {
        "libx264": True, "fake_abort": False, "fake_fail": False, "fake_stall": True}
