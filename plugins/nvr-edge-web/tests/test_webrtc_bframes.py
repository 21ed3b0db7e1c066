"""A camera whose stream has B-frames, in the real appliance: WHEP refuses it with a 422
that says why (never a 500, no session or relay viewer left behind), while the recording of
that camera and its LL-HLS live view go on as usual."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from nvr_edge_testing.simcam import Clip, ensure_clip
from web_box import Box, base, closed_segment, error_of, file_bytes, offer_sdp, probe, viewers_now
from web_hls import fetch_segment
from web_whep import watch

from tests.helpers import wait_for

pytestmark = pytest.mark.slow
FPS = 30
BOX_WEBRTC = True
BOX_CLIP = "bframes_clip"  # both cameras send it as their main (and only) stream


@pytest.fixture(scope="module")
def bframes_clip(clip_cache: Path) -> Clip:
    """small_clip's parameters, with two B-frames between references (x264 -bf 2)."""
    return ensure_clip(clip_cache, width=640, height=360, bitrate_kbps=800, seconds=4,
                       bframes=2)


def test_the_clip_really_has_b_frames(bframes_clip: Clip) -> None:
    """What the camera sends: if x264 made no B-frames, the 422 below would prove nothing."""
    import av
    from av.video.frame import PictureType

    with av.open(str(bframes_clip.video_path)) as container:
        kinds = {int(frame.pict_type) for frame in container.decode(video=0)}
    assert int(PictureType.B) in kinds, kinds


def test_whep_refuses_b_frames_with_a_422_that_says_why(box: Box) -> None:
    token = box.token(["view"], ["cam1"])
    seen = asyncio.run(watch(base(box), "cam1", token, 1.0))
    assert seen.status == 422, (seen.status, seen.error[:300])
    assert seen.location is None and seen.frames == 0
    message = json.loads(seen.error)["error"]
    assert "B-frames" in message, message
    # the same through the plain client, several times: always the 422, never a 500
    sdp = offer_sdp().encode()
    for _ in range(5):
        reply = box.http.request("/live/cam1/whep", method="POST", token=token, body=sdp,
                                 headers={"Content-Type": "application/sdp"})
        assert reply.headers["Content-Type"].startswith("application/json")
        assert error_of(reply, 422) == message
    # checked before the body: a bad SDP for this camera is a 422 too, not a 400 or a 500
    assert "B-frames" in error_of(
        box.http.request("/live/cam1/whep", method="POST", token=token, body=b"hello",
                         headers={"Content-Type": "application/sdp"}), 422)
    # the refusals left no session and no relay viewer behind
    assert viewers_now(box) == 0
    log = box.app.log
    assert "Traceback" not in log and "internal error" not in log, log[-3000:]


def test_the_b_frame_camera_is_recorded(box: Box) -> None:
    """The live view's refusal is no reason to stop recording: the camera is online, its
    segments are made and listed, the worker never restarted."""
    wait_for(lambda: _status_of(box, "cam1"), 60, "cam1 online in /api/status")
    segment = closed_segment(box)
    assert segment["video_codec"] == "h264", segment
    assert (segment["width"], segment["height"]) == (640, 360), segment
    # /api/status is refreshed every 2 s: it shows the segment soon after the catalog
    status = wait_for(lambda: (s := _status_of(box, "cam1")) and s["segments"] >= 1 and s, 10,
                      "cam1's segment in /api/status")
    assert status["restarts"] == 0, status


def test_the_first_b_frame_segment_is_whole(box: Box, tmp_path: Path) -> None:
    """Nothing the camera sent is lost: cam1's first segment (10 s: cam1 has no stagger)
    starts on a keyframe, lasts its target and every frame in it decodes."""
    segment = closed_segment(box)
    data = file_bytes(box, segment["id"])
    assert len(data) == segment["bytes"]
    path = tmp_path / "first.mp4"
    path.write_bytes(data)
    flags = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v",
                            "-show_entries", "packet=flags", "-of", "csv=p=0", str(path)],
                           capture_output=True, text=True, timeout=60, check=True)
    packets = flags.stdout.split()
    assert packets and packets[0].startswith("K"), packets[:5]
    video = probe(data, tmp_path)["h264"]
    assert int(video["nb_read_frames"]) == len(packets), (video, len(packets))
    assert 9_000 <= segment["duration_ms"] <= 11_000, segment
    # (a GOP lost would be 30 frames; 0.1 s of slack for where the first frame is stamped)
    assert abs(len(packets) - segment["duration_ms"] / 1000 * FPS) <= 3, (len(packets), segment)
    assert "cam1: timestamps jumped" not in box.app.log


def _status_of(box: Box, camera: str) -> dict[str, Any] | None:
    cameras = box.get("/api/status", box.token(["view"], [camera])).json()["cameras"]
    found = cameras.get(camera)
    return found if found and found.get("state") == "online" else None


def test_ll_hls_still_serves_the_b_frame_camera(box: Box, tmp_path: Path) -> None:
    """LL-HLS remuxes into fMP4, where B-frames are fine: the camera plays there."""
    segment = fetch_segment(box, "cam1", box.token(["view"], ["cam1"]))
    video = probe(segment.init + segment.media, tmp_path)["h264"]
    assert (video["width"], video["height"]) == (640, 360)
    assert abs(int(video["nb_read_frames"]) - segment.duration * FPS) <= 1, video
