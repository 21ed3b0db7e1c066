"""An adopted camera that moved while the box was off: its config still names the old
address, nothing answers there, and it sends no Hello (it booted long ago). The box looks
for it by probing `[onvif] hosts` while it is not online, and follows it by its URN."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from nvr_edge_onvif.follow import ALERT_CODE, follow_if_lost
from nvr_edge_onvif.probe import ProbeMatch
from nvr_edge_onvif.settings import OnvifSettings, read_onvif
from nvr_edge_testing.appliance import RunningAppliance
from nvr_edge_testing.hooks import HookRecorder
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.simcam.onvif import OnvifFace
from nvr_edge_testing.waiting import wait_for

from nvr_edge import Config, ConfigError
from nvr_edge.config import parse_config

STALE = "127.0.0.3"  # the camera's lease before the box went off: nothing answers there


@pytest.fixture
def nvr_config(nvr_config: dict[str, Any], nvr_camera: SimCameraServer,
               face: OnvifFace) -> dict[str, Any]:
    door = {"id": "door", "main": nvr_camera.url(1).replace("127.0.0.1", STALE),
            "sub": nvr_camera.url(1, "sub").replace("127.0.0.1", STALE)}
    return {**nvr_config, "cameras": [*nvr_config["cameras"], door],
            "onvif": {"listen": True, "hosts": ["127.0.0.1"], "refind_s": 1.0,
                      "adopted": {"door": face.camera.urn}}}


@pytest.mark.slow
def test_a_camera_that_moved_while_the_box_was_off_is_found_and_records(
        nvr_appliance: RunningAppliance, nvr_camera: SimCameraServer, face: OnvifFace,
        nvr_hooks: HookRecorder) -> None:
    def moves() -> list[Any]:
        return [c.alert for c in nvr_hooks.getcalls("nvr_alert") if c.alert.code == ALERT_CODE]

    started_ms = time.time() * 1000
    [alert] = wait_for(moves, 60, "the camera followed to its new address")
    assert alert.camera == "door" and f"{STALE} to 127.0.0.1" in alert.message
    assert nvr_camera.password not in alert.message
    camera = nvr_appliance.config.camera("door")
    assert (camera.main, camera.sub) == (nvr_camera.url(1), nvr_camera.url(1, "sub"))
    assert nvr_appliance.config.sections["onvif"].adopted == {"door": face.camera.urn}
    wait_for(lambda: [s for s in nvr_appliance.segments("door") if s.start_ms > started_ms],
             60, "a segment of the found camera")
    # found once: later searches see it online where it is, and change nothing
    time.sleep(3)
    assert moves() == [alert]


class Box:
    """Just what follow_if_lost reads and calls: the config, camera states, an edit."""

    def __init__(self, state: str, main: str) -> None:
        self.state = state
        self.document = {"cameras": [{"id": "door", "main": main}]}
        self.patches: list[Any] = []

    @property
    def config(self) -> Any:
        return type("C", (), {"document": self.document,
                              "sections": {"onvif": OnvifSettings(adopted={"door": "urn:a"})}})

    def status(self) -> dict[str, Any]:
        return {"cameras": {"door": {"state": self.state}}}

    def edit_config(self, edit: Any) -> None:
        self.patches.append(edit(copy.deepcopy(self.document)))

    def call_hook(self, name: str, **kwargs: Any) -> list[Any]:
        return []


def seen(urn: str, host: str) -> ProbeMatch:
    return ProbeMatch(urn, (f"http://{host}/onvif/device_service",), (), host)


@pytest.mark.parametrize(("state", "main", "urn", "followed"), [
    ("offline", "rtsp://10.0.0.2/a", "urn:a", True),
    ("connecting", "rtsp://u:p@10.0.0.2:554/a", "urn:a", True),
    ("online", "rtsp://proxy.lan/a", "urn:a", False),  # records where it is: a proxy, say
    ("offline", "rtsp://10.0.0.9/a", "urn:a", False),  # already where it was seen
    ("offline", "rtsp://10.0.0.2/a", "urn:other", False),  # not adopted from this URN
])
def test_a_lost_camera_is_followed_only_when_it_is_not_online_elsewhere(
        state: str, main: str, urn: str, followed: bool) -> None:
    box = Box(state, main)
    result = follow_if_lost(box, seen(urn, "10.0.0.9"))  # type: ignore[arg-type]
    assert (result == "door") is followed
    assert bool(box.patches) is followed
    if followed:
        assert "10.0.0.9" in box.patches[0]["cameras"][0]["main"]


@pytest.mark.parametrize("hosts", [["10.0.0.0/8"], ["bad host!"], ["::1"], [""],
                                   [f"10.0.{n // 256}.{n % 256}" for n in range(65)],
                                   ["a" * 300], ["cam\nlan"]])
def test_hosts_that_cannot_be_probed_are_refused(hosts: list[str]) -> None:
    with pytest.raises(ConfigError, match=r"onvif\.hosts"):
        parse_config({"device": {"id": "b"}, "onvif": {"hosts": hosts}},
                     readers={"onvif": read_onvif})


def test_hosts_and_refind_are_read() -> None:
    config: Config = parse_config(
        {"device": {"id": "b"}, "onvif": {"hosts": ["10.1.2.0/24", "cam.lan"], "refind_s": 5}},
        readers={"onvif": read_onvif})
    assert config.sections["onvif"].hosts == ("10.1.2.0/24", "cam.lan")
    assert config.sections["onvif"].refind_s == 5.0
