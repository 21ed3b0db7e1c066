"""Adoption in the running appliance: `discover` and `adopt_camera` through the command
API (what MQTT's `request/<name>` and HTTP's `/api/commands/<name>` call), against the
simulated camera's ONVIF face, whose streams are the simulated RTSP camera's."""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from nvr_edge_onvif.plugin import OnvifDiscovery
from nvr_edge_testing.appliance import RunningAppliance
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.simcam.onvif import OnvifFace, onvif_camera_of
from nvr_edge_testing.waiting import free_port, wait_for

from nvr_edge import ControlError

pytestmark = pytest.mark.slow


@pytest.fixture
def face(nvr_camera: SimCameraServer) -> Iterator[OnvifFace]:
    with OnvifFace(onvif_camera_of(nvr_camera, name="Front door"), http_host="127.0.0.1",
                   discovery_port=free_port("127.0.0.1"), multicast=False) as running:
        yield running


@pytest.fixture
def nvr_plugins(face: OnvifFace) -> dict[str, Any]:
    # loopback carries no multicast: the box finds the face by a directed probe
    return {"onvif": OnvifDiscovery(interfaces=list, port=face.discovery_port)}


def test_discover_then_adopt_records_the_camera(
        nvr_appliance: RunningAppliance, nvr_camera: SimCameraServer, face: OnvifFace,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    password = nvr_camera.password
    assert password is not None
    handle = nvr_appliance.handle
    credentials = {"user": nvr_camera.user, "password": password}
    found = handle.run_command("discover", {**credentials, "hosts": ["127.0.0.1"],
                                            "timeout_s": 1.0})
    [candidate] = found["candidates"]
    assert candidate["id"] == face.camera.urn and candidate["problem"] == ""

    with pytest.raises(ControlError, match="wrong user or password"):
        handle.run_command("adopt_camera", {"id": face.camera.urn, "user": "admin",
                                            "password": "not-it"})
    assert [c.id for c in nvr_appliance.config.cameras] == ["cam1"]

    adopted = handle.run_command("adopt_camera", {"id": face.camera.urn, **credentials})
    assert adopted["camera"] == "Front-door" and adopted["added"] == ["Front-door"]
    camera = nvr_appliance.config.camera("Front-door")
    assert camera.main == nvr_camera.url(1) and camera.sub == nvr_camera.url(1, "sub")
    assert camera.name == "Front door"
    written = tomllib.loads(nvr_appliance.config_path.read_text())
    assert written["onvif"]["adopted"] == {"Front-door": face.camera.urn}
    assert [c["id"] for c in written["cameras"]] == ["cam1", "Front-door"]

    segments = wait_for(lambda: nvr_appliance.segments("Front-door"), 60,
                        "a closed segment of the adopted camera")
    assert segments[0].duration_ms > 0

    with pytest.raises(ControlError, match="adopted already"):
        handle.run_command("adopt_camera", {"id": face.camera.urn, **credentials})
    status = wait_for(lambda: nvr_appliance.status().get("plugins", {}).get("onvif"), 10,
                      "the onvif status part")
    assert [c["id"] for c in status["candidates"]] == [face.camera.urn]
    answers = json.dumps([found, adopted, status])
    assert password not in answers and password not in caplog.text
    assert "not-it" not in caplog.text


def test_an_unheard_of_camera_is_refused(nvr_appliance: RunningAppliance) -> None:
    with pytest.raises(ControlError, match="run discover first"):
        nvr_appliance.handle.run_command("adopt_camera", {"id": "urn:uuid:nobody"})
