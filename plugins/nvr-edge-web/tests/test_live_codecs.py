"""H.265 and MJPEG cameras in the real appliance: WHEP and LL-HLS, which carry H.264 only,
refuse them at once with a 409 that names the codec (never a 201 that plays nothing, never
a 503 to retry forever), and /api/cameras lists each output as unavailable with the same
reason while the stream itself is there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nvr_edge_testing.configs import write_config
from nvr_edge_testing.simcam import Clip, SimCameraServer
from nvr_edge_testing.waiting import free_port
from web_box import WEBRTC, Box, error_of, offer_sdp, started_box, viewers_now

from tests.helpers import wait_for

pytestmark = pytest.mark.slow
CODECS = {"cam1": "hevc", "cam2": "mjpeg"}


@pytest.fixture(scope="module")
def codec_box(tmp_path_factory: pytest.TempPathFactory, clip_cache: Path,
              small_clip: Clip) -> Iterator[Box]:
    """cam1's sub stream (its live view) is H.265, cam2's MJPEG; both record H.264."""
    folder = tmp_path_factory.mktemp("codecs")
    port = free_port()
    servers = [SimCameraServer(clip_cache, main=small_clip, sub_clock=(320, 240),
                               clock_codec=codec, log_path=folder / f"{codec}.log")
               for codec in CODECS.values()]
    try:
        for server in servers:
            server.start()
        cameras = [{"id": cam, "main": server.url(1), "sub": server.url(1, "sub")}
                   for cam, server in zip(CODECS, servers, strict=True)]
        path = write_config(folder / "nvr.toml", {}, tables={
            "cameras": cameras, "web": {"listen": f"127.0.0.1:{port}"},
            "webrtc": {"host_addresses": ["127.0.0.1"]}})
        assert WEBRTC  # the same [webrtc] table the other live tests use
        with started_box(path, port) as box:
            yield box
    finally:
        for server in servers:
            server.stop()


def live_of(box: Box, camera: str) -> dict[str, Any]:
    listed = box.get("/api/cameras", box.token(["view"], "*")).json()["cameras"]
    return next(c["live"] for c in listed if c["id"] == camera)


@pytest.mark.parametrize(("camera", "codec"), CODECS.items())
def test_outputs_that_cannot_carry_the_codec_say_so(codec_box: Box, camera: str,
                                                    codec: str) -> None:
    live = wait_for(lambda: (found := live_of(codec_box, camera))["streaming"] and found, 60,
                    f"{camera}'s live stream")
    assert live["outputs"] == {
        "whep": {"available": False,
                 "reason": f"camera {camera} streams {codec}; WebRTC here carries h264 only"},
        "hls": {"available": False,
                "reason": f"camera {camera} streams {codec}; LL-HLS here carries h264 only"},
    }
    token = codec_box.token(["view"], [camera])
    started = time.monotonic()
    reply = codec_box.http.request(f"/live/{camera}/whep", method="POST", token=token,
                                   body=offer_sdp().encode(),
                                   headers={"Content-Type": "application/sdp"})
    assert error_of(reply, 409) == live["outputs"]["whep"]["reason"]
    hls = codec_box.get(f"/live/{camera}/index.m3u8", token)
    assert error_of(hls, 409) == live["outputs"]["hls"]["reason"]
    assert time.monotonic() - started < 3  # answered at once, not after the 8 s wait
    assert not viewers_now(codec_box, camera)  # the refusal left no session behind


def test_the_cameras_are_recorded_and_online(codec_box: Box) -> None:
    token = codec_box.token(["view"], "*")
    wait_for(lambda: all(s["state"] == "online" for s in
                         codec_box.get("/api/status", token).json()["cameras"].values()),
             60, "both cameras online")
    assert "Traceback" not in codec_box.app.log, codec_box.app.log[-3000:]
