"""The `update` command in the real appliance, over a real Mosquitto: the MQTT plugin
carries it like any plugin's command, the update state is retained on `<base>/update`,
and the `mqtt` status part (what the update gate waits for) says the link is up. On the
host the box is not booted from an A/B slot: the command refuses and says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from nvr_edge_testing.mqtt_client import Mosquitto, Watcher
from nvr_edge_testing.simcam import SimCameraServer

from nvr_edge.update.plugin import nvr_commands
from tests.helpers import Appliance, wait_for, write_config

BASE = "nvr/update-box"


def test_update_is_an_admin_command_on_every_transport() -> None:
    (command,) = nvr_commands(appliance=None)  # type: ignore[arg-type]
    assert (command.name, command.action) == ("update", "admin")
    assert set(command.params) == {"url", "version", "sha256", "allow_downgrade",
                                   "health_timeout_s"}
    assert [n for n, p in command.params.items() if p.required] == ["url", "version"]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "broker").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_update_over_mqtt_refused_off_ab_with_state_retained(
        tmp_path: Path, cameras: SimCameraServer, broker: Mosquitto) -> None:
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1, "main",
                                                                     with_credentials=True)},
                          segment_seconds=10,
                          extra=f'[device]\nid = "update-box"\n[mqtt]\nurl = "{broker.url}"\n'
                                'topic_prefix = "nvr"\n')
    with Watcher(broker) as watcher:
        app = Appliance(config, tmp_path / "app.log", plugins=True).start()
        try:
            watcher.wait_text(f"{BASE}/availability", "online", 60)
            wait_for(lambda: watcher.last(f"{BASE}/update"), 30, "the update state")
            with Watcher(broker) as late:  # retained: a late subscriber gets it at once
                state = wait_for(lambda: late.last(f"{BASE}/update"), 10, "retained state")
            assert state.retain
            assert state.json() == {"state": "idle", "running_version": "0.2.0",
                                    "booted_slot": None}
            watcher.publish(f"{BASE}/request/update", json.dumps(
                {"transaction": 7, "url": "http://127.0.0.1:9/b.raucb", "version": "9.0"}))
            answer = wait_for(lambda: watcher.last(f"{BASE}/response/update"), 30,
                              "the answer").json()
            assert answer["transaction"] == 7 and answer["status"] == "error", answer
            assert "not booted from an A/B slot" in answer["error"], answer
            watcher.publish(f"{BASE}/request/update", json.dumps(
                {"transaction": 8, "url": "file:///etc/passwd", "version": "9.0"}))
            bad = wait_for(lambda: [m.json() for m in watcher.on(f"{BASE}/response/update")
                                    if m.json()["transaction"] == 8], 30, "answer 8")[0]
            assert "argument 'url'" in bad["error"], bad
            status = json.loads((tmp_path / "state" / "status.json").read_text())
            assert status["plugins"]["mqtt"]["connected"] is True, status["plugins"]
        finally:
            assert app.stop() == 0
