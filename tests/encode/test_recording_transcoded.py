"""Cameras that send MJPEG are recorded as H.264 through the encoders, for real: a
simulated MJPEG 720p camera on loopback, the appliance in this process (so fake encoders
registered through `nvr_encoders` reach the workers through the handed-over offers), the
segments read back by ffprobe. An H.264 camera beside it is never re-encoded and loses
nothing."""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nvr_edge_testing.simcam import Clip, SimCameraServer

from nvr_edge import EncoderOffer, Engine, hookimpl
from nvr_edge.appliance.run import run_appliance
from nvr_edge.models import SegmentRecord
from nvr_edge.plugins import load_config, make_plugin_manager
from tests.encode import fakes
from tests.helpers import Alerts, rows, write_config
from tests.media import decode_errors, probe, video_packets

pytestmark = pytest.mark.slow
FPS = 30
HARDWARE = ("v4l2m2m_encoder", "vaapi_encoder", "rkmpp_encoder")
PASSWORD = "mjpeg-secret"


@pytest.fixture
def mjpeg_camera(clip_cache: Path, small_clip: Clip) -> Iterator[SimCameraServer]:
    """/cam1/main: H.264 640x360 with AAC; /cam1/sub: a live MJPEG 1280x720 30 fps clock."""
    with SimCameraServer(clip_cache, cameras=1, user="admin", password=PASSWORD,
                         main=small_clip, sub_clock=(1280, 720), clock_codec="mjpeg",
                         log_path=clip_cache / "mjpeg-cameras.log") as server:
        yield server


class StallAfter:
    """A "hardware" encoder (real libx264 underneath) that stops producing after 6 s: past
    the frames queued while the worker waited for the start-up probe (a few seconds), so
    the status shows it at work before it stalls."""

    @hookimpl
    def nvr_encoders(self, config: Any) -> list[EncoderOffer]:
        return [EncoderOffer("fake_stall", Engine.RKMPP, fakes.open_stall, priority=10,
                             options={"after": str(6 * FPS)})]


def record(tmp_path: Path, cameras: SimCameraServer, plugins: list[Any],
           done: Callable[[Path, dict[str, Any]], bool]) -> tuple[Path, list[dict[str, Any]]]:
    """Run the appliance until `done(config, status)`; the statuses seen on the way."""
    config_file = write_config(
        tmp_path / "nvr.toml", {"mjpeg": cameras.url(1, "sub"), "h264": cameras.url(1)},
        segment_seconds=10, extra=f"""
[encoders]
hw_file = "{tmp_path}/none.toml"
probe_width = 320
probe_height = 240
stall_frames = 10
""")
    pm = make_plugin_manager(load_entry_points=False, blocked=HARDWARE)
    for plugin in plugins:
        pm.register(plugin)
    config = load_config(config_file, pm)
    stop, seen = threading.Event(), []
    deadline = time.monotonic() + 90

    def on_tick(supervisor: Any) -> None:
        status = supervisor.status()
        seen.append(status)
        if time.monotonic() > deadline or done(config_file, status):
            stop.set()

    run_appliance(config, pm=pm, on_tick=on_tick, stop=stop)
    assert time.monotonic() <= deadline, "the recording took too long"
    # Catalog times are wall-clock times: none ends in the future by more than the
    # pipeline's latency (seen: 0.2 s copied, 0.6 s transcoded).
    now_ms = time.time() * 1000
    assert {r.camera: r.end_ms - now_ms for r in rows(config_file)
            if r.end_ms > now_ms + 1000} == {}
    return config_file, seen


def frames(path: str) -> list[dict[str, Any]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_frames",
                          "-show_entries", "frame=pict_type,key_frame,pts_time",
                          "-of", "json", path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["frames"]


def check_h264_720p(segment: SegmentRecord) -> list[float]:
    """The segment is decodable H.264 1280x720 without B-frames, one frame per 1/30 s of
    its catalog span; returns its keyframes' times."""
    info = probe(segment.path)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 1280, 720)
    assert (segment.video_codec, segment.width, segment.height) == ("h264", 1280, 720)
    expected = segment.duration_ms / 1000 * FPS
    assert abs(video_packets(info) - expected) <= 3, (segment, video_packets(info))
    shown = frames(segment.path)
    assert shown and shown[0]["key_frame"] == 1  # a segment starts at a keyframe
    assert {f["pict_type"] for f in shown} <= {"I", "P"}
    assert decode_errors(segment.path) == ""
    return [float(f["pts_time"]) for f in shown if f["key_frame"] == 1]


def check_contiguous(segments: list[SegmentRecord], gap_ms: int = 0) -> None:
    for before, after in itertools.pairwise(segments):
        assert 0 <= after.start_ms - before.end_ms <= gap_ms, (before, after)


def check_h264_camera_untouched(config: Path) -> None:
    """Copied, not encoded: every frame of each closed segment's span is there."""
    segments = rows(config, "h264")
    assert len(segments) >= 2
    check_contiguous(segments)
    for seg in segments:
        info = probe(seg.path)
        assert abs(video_packets(info) - seg.duration_ms / 1000 * FPS) <= 1, seg
        assert (seg.video_codec, seg.width, seg.height) == ("h264", 640, 360)


def enough(count: int) -> Callable[[Path, dict[str, Any]], bool]:
    return lambda config, status: len(rows(config, "mjpeg")) >= count \
        and len(rows(config, "h264")) >= 2


def test_an_mjpeg_camera_is_recorded_as_h264(tmp_path: Path,
                                             mjpeg_camera: SimCameraServer) -> None:
    alerts = Alerts()
    config, statuses = record(tmp_path, mjpeg_camera, [alerts], enough(2))
    segments = rows(config, "mjpeg")
    check_contiguous(segments)
    for segment in segments:
        keys = check_h264_720p(segment)
        assert all(1.9 <= b - a <= 2.1 for a, b in itertools.pairwise(keys)), keys
    check_h264_camera_untouched(config)
    transcoding = [s["cameras"]["mjpeg"]["transcoding"] for s in statuses
                   if s["cameras"]["mjpeg"].get("transcoding")]
    assert transcoding and transcoding[-1]["encoder"] == "libx264"
    assert any(25 <= t["fps"] <= 35 for t in transcoding), transcoding
    # the H.264 camera is never re-encoded: its status has no transcoding part
    assert all(s["cameras"]["h264"].get("transcoding") is None for s in statuses)
    assert [a for a in alerts.seen if a.code == "encoder_failed"] == []
    assert PASSWORD not in (tmp_path / "state" / "encoders.pickle").read_text(errors="replace")


def test_a_stalling_hardware_encoder_falls_back_to_software(
        tmp_path: Path, mjpeg_camera: SimCameraServer) -> None:
    alerts = Alerts()
    config, statuses = record(tmp_path, mjpeg_camera, [alerts, StallAfter()], enough(3))
    failed = [a for a in alerts.seen if a.code == "encoder_failed"]
    assert len(failed) == 1 and "fake_stall" in failed[0].message, alerts.seen
    assert failed[0].camera == "mjpeg"
    encoders = [s["cameras"]["mjpeg"]["transcoding"]["encoder"] for s in statuses
                if s["cameras"]["mjpeg"].get("transcoding")]
    assert encoders[0] == "fake_stall" and encoders[-1] == "libx264", encoders
    segments = rows(config, "mjpeg")
    # the switch starts a new segment; what the stalled encoder swallowed is the only gap
    check_contiguous(segments, gap_ms=1000)
    assert any(after.start_ms > before.end_ms
               for before, after in itertools.pairwise(segments))
    for segment in segments:
        check_h264_720p(segment)
    check_h264_camera_untouched(config)
