"""`nvr-edge fleet status` against a real Mosquitto holding what three simulated boxes
(the real MQTT bridge each) keep retained: one healthy with cameras found on its network,
one with a camera down, one shut down."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from nvr_edge_mqtt.fleet_status import run_fleet_status
from nvr_edge_testing.bench.fleet import Fleet
from nvr_edge_testing.mosquitto import Mosquitto
from nvr_edge_testing.waiting import wait_for


def status_args(broker: Mosquitto, group: str = "*") -> argparse.Namespace:
    return argparse.Namespace(broker=broker.url, prefix="nvr", group=group, timeout=10.0,
                              json=True)


@pytest.mark.slow
def test_fleet_status_names_offline_boxes_and_cameras_not_recording(
        nvr_mqtt_broker: Mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = Fleet(3, 2, 180, nvr_mqtt_broker.url, tmp_path)
    try:
        fleet.start()
        wait_for(lambda: fleet.online() == 3, 30, "three boxes online")
        box, bridge = fleet.boxes[1]
        box.offline.add("cam2")
        bridge.camera_state("cam2", "offline", "RTSP: connection refused")
        bridge.new_status(box.status())
        fleet.boxes[2][1].stop()  # a clean shutdown: `stopped`, retained
        healthy, healthy_bridge = fleet.boxes[0]
        healthy.status_parts = {"onvif": {"candidates": [  # as the ONVIF plugin's status part
            {"id": "urn:uuid:new", "address": "10.0.0.7", "name": "Gate", "ignored": False,
             "adopted_as": None, "last_seen": 1.0},
            {"id": "urn:uuid:ign", "address": "10.0.0.8", "name": "", "ignored": True,
             "adopted_as": None, "last_seen": 1.0},
            {"id": "urn:uuid:cam1", "address": "10.0.0.9", "name": "", "ignored": False,
             "adopted_as": "cam1", "last_seen": 1.0}]}}
        healthy_bridge.new_status(healthy.status())

        def report() -> dict | None:
            assert run_fleet_status(status_args(nvr_mqtt_broker), None) in (0, 3)
            found = json.loads(capsys.readouterr().out)
            problems = found["devices"].get("box00001", {}).get("problems")
            return found if problems and found["offline"] == ["box00002"] and \
                found["cameras_found"] else None

        found = wait_for(report, 30, "the fleet's state in its retained topics")
        assert (found["boxes"], found["online"], found["cameras_not_recording"]) == (3, 2, 1)
        assert found["devices"]["box00001"]["not_recording"] == ["cam2"]
        assert found["devices"]["box00001"]["overall"] == "warning"
        assert found["devices"]["box00000"]["overall"] == "ok"
        assert found["devices"]["box00002"]["availability"] == "stopped"
        assert found["near_full"] == []
        assert found["devices"]["box00000"]["found"] == [
            {"source": "onvif", "id": "urn:uuid:new", "address": "10.0.0.7", "name": "Gate"}]
        assert found["cameras_found"] == 1

        assert run_fleet_status(status_args(nvr_mqtt_broker, "box00000"), None) == 0
        only = json.loads(capsys.readouterr().out)
        assert list(only["devices"]) == ["box00000"] and only["offline"] == []
    finally:
        fleet.close()


def test_a_broker_that_is_not_there_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(broker="mqtt://127.0.0.1:1", prefix="nvr", group="*",
                              timeout=2.0, json=False)
    assert run_fleet_status(args, None) == 1
    assert "cannot read the broker mqtt://127.0.0.1:1" in capsys.readouterr().out


@pytest.mark.parametrize("payload", [
    b"not json", b"[1, 2]", b'"ok"', b'{"overall": 3}', b'{"overall": "ok", "tiers": []}',
    b'{"overall": "ok", "tiers": {"cache": "full"}, "problems": []}',
    b'{"overall": "ok", "tiers": {"cache": {"free_bytes": "x"}}, "problems": []}',
    b'{"overall": "ok", "tiers": {}, "problems": [{"a": 1}]}',
    b'{"overall": "ok", "tiers": {}, "problems": []' + b"]" * 100_000,
    b"[" * 100_000,
])
def test_a_health_report_of_another_shape_is_shown_unreadable(
        nvr_mqtt_broker: Mosquitto, capsys: pytest.CaptureFixture[str], payload: bytes) -> None:
    """Anyone allowed on the broker may put anything on a box's health topic: the tool
    names the box as unreadable and goes on."""
    from nvr_edge_testing.mqtt_client import Watcher

    with Watcher(nvr_mqtt_broker, topics=("nvr/#",)) as watcher:
        watcher.publish("nvr/odd/health", payload, retain=True)
        watcher.publish("nvr/odd/discovery/onvif", payload, retain=True)
        watcher.publish("nvr/odd/availability", b"online", retain=True)
        wait_for(lambda: watcher.last("nvr/odd/availability"), 10, "the retained messages")
    assert run_fleet_status(status_args(nvr_mqtt_broker), None) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["devices"]["odd"]["overall"] == "unreadable"
    assert found["devices"]["odd"]["problems"] == ["health unreadable"]
    assert found["devices"]["odd"]["found"] == []  # no list of cameras in it either
    args = status_args(nvr_mqtt_broker)
    args.json = False
    assert run_fleet_status(args, None) == 0
    assert "odd" in capsys.readouterr().out
