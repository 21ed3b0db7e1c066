"""Adoption in the running appliance: `discover`, `preview_camera` and `adopt_camera`
through the command API (what MQTT's `request/<name>` and HTTP's `/api/commands/<name>`
call), against the
simulated camera's ONVIF face, whose streams are the simulated RTSP camera's."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from nvr_edge_onvif.follow import ALERT_CODE, moved_url
from nvr_edge_testing.appliance import RunningAppliance
from nvr_edge_testing.hooks import HookRecorder
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.simcam.onvif import OnvifFace, onvif_camera_of
from nvr_edge_testing.waiting import wait_for

from nvr_edge import ControlError


def test_moved_url_changes_only_the_old_host() -> None:
    url = "rtsp://ad%40min:p%3Aw@10.0.0.2:554/Streaming/101?x=10.0.0.2"
    assert moved_url(url, "10.0.0.2", "10.0.0.9") == \
        "rtsp://ad%40min:p%3Aw@10.0.0.9:554/Streaming/101?x=10.0.0.2"
    assert moved_url("rtsp://10.0.0.2/a", "10.0.0.2", "10.0.0.9") == "rtsp://10.0.0.9/a"
    assert moved_url("rtsp://proxy:8554/a", "10.0.0.2", "10.0.0.9") == "rtsp://proxy:8554/a"
    assert moved_url("rtsp://[::1/a", "10.0.0.2", "10.0.0.9") == "rtsp://[::1/a"



@pytest.fixture
def nvr_config(nvr_config: dict[str, Any]) -> dict[str, Any]:
    return {**nvr_config, "onvif": {"listen": True}}


@pytest.mark.slow
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
    # its picture before it is added: the sub stream, with the credentials, nothing written
    with pytest.raises(ControlError, match="wrong user or password"):
        handle.run_command("preview_camera", {"id": face.camera.urn, "user": "admin",
                                              "password": "not-it"})
    preview = handle.run_command("preview_camera", {"id": face.camera.urn, **credentials,
                                                    "max_width": 320})
    # the camera's own snapshot (GetSnapshotUri, HTTP Digest): 800x450, scaled to 320
    assert preview["stream"] == "snapshot" and (preview["width"], preview["height"]) == \
        (800, 450), {k: v for k, v in preview.items() if k != "jpeg"}
    assert picture_size(base64.b64decode(preview["jpeg"])) == (320, 180)
    assert [c.id for c in nvr_appliance.config.cameras] == ["cam1"]

    started = time.monotonic()
    adopted = handle.run_command("adopt_camera", {"id": face.camera.urn, **credentials})
    assert adopted["camera"] == "Front-door" and adopted["added"] == ["Front-door"]
    camera = nvr_appliance.config.camera("Front-door")
    assert camera.main == nvr_camera.url(1) and camera.sub == nvr_camera.url(1, "sub")
    assert camera.name == "Front door"
    written = tomllib.loads(nvr_appliance.config_path.read_text())
    assert written["onvif"]["adopted"] == {"Front-door": face.camera.urn}
    assert [c["id"] for c in written["cameras"]] == ["cam1", "Front-door"]

    segments = wait_for(lambda: nvr_appliance.segments("Front-door"), 60,
                        "a closed segment of the adopted camera", interval=0.05)
    assert segments[0].duration_ms > 0
    print(f"adopt to the first closed segment: {time.monotonic() - started:.2f} s "
          f"({segments[0].duration_ms} ms of video)")

    with pytest.raises(ControlError, match="adopted already"):
        handle.run_command("adopt_camera", {"id": face.camera.urn, **credentials})
    # the camera deleted, the same one adopted again under another id
    kept = [c for c in written["cameras"] if c["id"] == "cam1"]
    handle.patch_config({"cameras": kept})
    again = handle.run_command("adopt_camera", {"id": face.camera.urn, "camera": "door",
                                                **credentials})
    assert again["added"] == ["door"]
    written = tomllib.loads(nvr_appliance.config_path.read_text())
    assert written["onvif"]["adopted"] == {"door": face.camera.urn}
    status = wait_for(lambda: nvr_appliance.status().get("plugins", {}).get("onvif"), 10,
                      "the onvif status part")
    assert [c["id"] for c in status["candidates"]] == [face.camera.urn]
    status = wait_for(lambda: nvr_appliance.status()["plugins"]["onvif"]
                      if nvr_appliance.status()["plugins"]["onvif"]["candidates"][0]["adopted_as"]
                      == "door" else None, 10, "the candidate marked as adopted")
    answers = json.dumps([found, adopted, status, preview])
    assert password not in answers and password not in caplog.text
    assert "not-it" not in caplog.text


def picture_size(jpeg: bytes) -> tuple[int, int]:
    import av

    decoder = av.CodecContext.create("mjpeg", "r")
    [frame] = decoder.decode(av.Packet(jpeg))
    return frame.width, frame.height


@pytest.mark.slow
@pytest.mark.parametrize("face_snapshot", [b"<html>log in first</html>"])
def test_a_snapshot_that_is_no_picture_falls_back_to_the_sub_stream(
        nvr_appliance: RunningAppliance, nvr_camera: SimCameraServer, face: OnvifFace) -> None:
    handle = nvr_appliance.handle
    credentials = {"user": nvr_camera.user, "password": nvr_camera.password}
    handle.run_command("discover", {**credentials, "hosts": ["127.0.0.1"], "timeout_s": 1.0})
    preview = handle.run_command("preview_camera", {"id": face.camera.urn, **credentials})
    assert preview["stream"] == "sub" and preview["codec"] == "h264", preview["stream"]
    assert "not a JPEG" in preview["snapshot_problem"]
    assert picture_size(base64.b64decode(preview["jpeg"]))[0] == preview["width"]


@pytest.mark.slow
def test_an_ignored_camera_is_marked_and_offered_again(
        nvr_appliance: RunningAppliance, face: OnvifFace) -> None:
    handle = nvr_appliance.handle
    handle.run_command("discover", {"hosts": ["127.0.0.1"], "timeout_s": 1.0})

    def candidate() -> dict[str, Any]:
        part = nvr_appliance.status().get("plugins", {}).get("onvif") or {}
        return next((c for c in part.get("candidates", []) if c["id"] == face.camera.urn), {})

    wait_for(lambda: candidate().get("ignored") is False, 10, "offered")
    answer = handle.run_command("ignore_camera", {"id": face.camera.urn})
    assert answer["ignored"] is True
    written = tomllib.loads(nvr_appliance.config_path.read_text())
    assert written["onvif"]["ignored"] == [face.camera.urn]
    wait_for(lambda: candidate().get("ignored") is True, 10, "marked ignored")
    handle.run_command("ignore_camera", {"id": face.camera.urn, "ignore": False})
    assert tomllib.loads(nvr_appliance.config_path.read_text())["onvif"]["ignored"] == []
    wait_for(lambda: candidate().get("ignored") is False, 10, "offered again")


@pytest.mark.slow
def test_an_unheard_of_camera_is_refused(nvr_appliance: RunningAppliance) -> None:
    with pytest.raises(ControlError, match="run discover first"):
        nvr_appliance.handle.run_command("adopt_camera", {"id": "urn:uuid:nobody"})


@contextlib.contextmanager
def tcp_relay(listen: tuple[str, int], target: tuple[str, int]) -> Iterator[list[int]]:
    """The RTSP server seen at another address (it binds 127.0.0.1 only); yields the
    count of connections relayed, in a list."""
    server = socket.create_server(listen)
    server.settimeout(0.2)
    stop = threading.Event()
    relayed = [0]

    def pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            relayed[0] += 1
            upstream = socket.create_connection(target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield relayed
    finally:
        stop.set()
        server.close()


@pytest.mark.slow
@pytest.mark.parametrize("seen_by", ["probe", "hello"])
def test_an_adopted_camera_that_moved_keeps_its_id_and_records(
        nvr_appliance: RunningAppliance, nvr_camera: SimCameraServer, face: OnvifFace,
        nvr_hooks: HookRecorder, seen_by: str) -> None:
    handle = nvr_appliance.handle
    credentials = {"user": nvr_camera.user, "password": nvr_camera.password}
    handle.run_command("discover", {**credentials, "hosts": ["127.0.0.1"], "timeout_s": 1.0})
    handle.run_command("adopt_camera", {"id": face.camera.urn, "camera": "door",
                                        **credentials})
    face.stop()
    # the same camera (URN) after a new DHCP lease: 127.0.0.2, RTSP relayed there
    camera_now = onvif_camera_of(nvr_camera, urn=face.camera.urn)
    camera_now.rtsp = face.camera.rtsp.replace("127.0.0.1", "127.0.0.2")
    moved = OnvifFace(camera_now, advertise="127.0.0.2", http_host="127.0.0.2",
                      discovery_port=face.discovery_port, multicast=False)
    with moved, tcp_relay(("127.0.0.2", nvr_camera.port),
                          ("127.0.0.1", nvr_camera.port)) as relayed:
        at_ms = time.time() * 1000
        if seen_by == "probe":
            handle.run_command("discover", {"hosts": ["127.0.0.2"], "timeout_s": 1.0})
        else:  # to an address only the listener's wildcard socket is bound to
            moved.hello(to=("127.0.0.3", face.discovery_port))
            wait_for(lambda: nvr_hooks.getcalls("nvr_alert"), 30, "the move's alert")
        camera = nvr_appliance.config.camera("door")
        assert camera.main == nvr_camera.url(1).replace("127.0.0.1", "127.0.0.2")
        assert camera.sub == nvr_camera.url(1, "sub").replace("127.0.0.1", "127.0.0.2")
        assert [c.id for c in nvr_appliance.config.cameras] == ["cam1", "door"]
        [alert] = [c.alert for c in nvr_hooks.getcalls("nvr_alert")
                   if c.alert.code == ALERT_CODE]
        assert alert.camera == "door" and "127.0.0.1 to 127.0.0.2" in alert.message
        assert str(nvr_camera.password) not in alert.message
        after = wait_for(lambda: [s for s in nvr_appliance.segments("door")
                                  if s.start_ms > at_ms], 60,
                         "a segment recorded at the new address")
        assert relayed[0] >= 1 and after[0].duration_ms > 0  # it came through 127.0.0.2
