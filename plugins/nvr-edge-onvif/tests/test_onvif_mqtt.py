"""`discover` and `adopt_camera` over MQTT (the MQTT plugin, installed, on a broker of the
test's own): the request carries the credentials; no message on any topic repeats them."""

from __future__ import annotations

from typing import Any

import pytest
from nvr_edge_testing.appliance import RunningAppliance
from nvr_edge_testing.mosquitto import Mosquitto
from nvr_edge_testing.mqtt_client import Watcher
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.simcam.onvif import OnvifFace
from nvr_edge_testing.waiting import wait_for

pytestmark = pytest.mark.slow
BASE = "nvr/test-box"


@pytest.fixture
def face_name() -> str:
    return "Yard"


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any], nvr_mqtt_broker: Mosquitto) -> dict[str, Any]:
    return {**nvr_config, "mqtt": {"url": nvr_mqtt_broker.url}}


def test_adopt_over_mqtt(nvr_appliance: RunningAppliance, nvr_mqtt_client: Watcher,
                         nvr_mqtt_broker: Mosquitto, nvr_camera: SimCameraServer,
                         face: OnvifFace) -> None:
    password = str(nvr_camera.password)
    credentials = {"user": nvr_camera.user, "password": password}
    found = nvr_mqtt_client.request(BASE, "discover", {**credentials, "hosts": ["127.0.0.1"],
                                                       "timeout_s": 1.0})
    assert found["status"] == "ok", found
    [candidate] = found["data"]["candidates"]
    assert candidate["id"] == face.camera.urn
    # the cameras heard of stay retained for whoever subscribes later (a fleet back end)
    topic = f"{BASE}/discovery/onvif"
    wait_for(lambda: (seen := nvr_mqtt_client.last(topic)) and seen.json()["candidates"],
             30, "the retained discovery list")
    with Watcher(nvr_mqtt_broker, topics=(f"{BASE}/discovery/#",)) as late:
        retained = wait_for(lambda: late.last(topic), 10, "the retained list, subscribing late")
    assert retained.retain
    [listed] = retained.json()["candidates"]
    assert (listed["id"], listed["address"], listed["name"]) == (face.camera.urn, "127.0.0.1",
                                                                  "Yard")
    assert "last_seen" not in listed
    adopted = nvr_mqtt_client.request(BASE, "adopt_camera", {"id": face.camera.urn,
                                                              **credentials})
    assert adopted["status"] == "ok", adopted
    assert adopted["data"]["camera"] == "Yard"
    assert adopted["data"]["main"] == nvr_camera.url(1).replace(password, "***")
    wait_for(lambda: nvr_appliance.segments("Yard"), 60, "a segment of the adopted camera")
    responses = [m for m in nvr_mqtt_client.messages if "/request/" not in m.topic]
    assert responses and not any(password.encode() in m.payload for m in responses)
    assert any(m.topic == topic for m in responses)
