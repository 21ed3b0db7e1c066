"""Snapshots against the real appliance and a simulated camera: `camera_snapshot` gives the
live picture (and the last recorded one when the camera sends nothing), `test_stream`
reads a URL once and says what it carries or why not, never echoing a password."""

from __future__ import annotations

import base64
import io
import logging
import socket
import time
from pathlib import Path
from typing import Any

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_testing.waiting import wait_for

from nvr_edge import CommandError, ControlError
from nvr_edge.appliance.snapshots import from_recording
from nvr_edge.encode.still import scaled_size

pytestmark = pytest.mark.slow


def picture(answer: dict[str, Any]) -> Any:
    """The answer's JPEG, decoded: proof it is one."""
    with av.open(io.BytesIO(base64.b64decode(answer["jpeg"])), format="image2pipe") as jpeg:
        frame = next(jpeg.decode(video=0))
        assert jpeg.streams.video[0].codec_context.name == "mjpeg"
        return frame


def test_a_camera_snapshot_comes_live_scaled_and_scoped(nvr_appliance: Any,
                                                         nvr_clip: Any) -> None:
    handle = nvr_appliance.handle
    answer = handle.run_command("camera_snapshot", {"camera": "cam1", "max_width": 320})
    assert answer["source"] == "live" and answer["codec"] == "h264", answer
    assert (answer["width"], answer["height"]) in {(nvr_clip.width, nvr_clip.height)}, answer
    frame = picture(answer)
    assert frame.width == 320 and abs(frame.height - 320 * nvr_clip.height
                                      / nvr_clip.width) <= 2, (frame.width, frame.height)
    command = next(c for c in handle.commands() if c.name == "camera_snapshot")
    assert command.action == "view"
    with pytest.raises(CommandError, match="unknown camera 'cam1'"):
        command.run_scoped({"camera": "cam1"}, frozenset({"cam2"}))
    with pytest.raises(CommandError, match="unknown camera 'nope'"):
        handle.run_command("camera_snapshot", {"camera": "nope"})
    with pytest.raises(CommandError, match=r"'max_width': 4 is not in 16\.\.1920"):
        handle.run_command("camera_snapshot", {"camera": "cam1", "max_width": 4})


def test_the_last_recorded_picture_when_the_camera_sends_none(nvr_appliance: Any) -> None:
    catalog = nvr_appliance.supervisor.catalog
    wait_for(lambda: catalog.segments(), 60, "a closed segment", interval=0.5)
    newest = max(catalog.segments(), key=lambda s: s.start_ms)
    shot = from_recording(catalog, "cam1", 640)
    assert shot is not None and shot.source == "recording"
    # the segment's last keyframe: inside the newest segment, after its start
    assert newest.start_ms <= shot.at_ms < newest.end_ms, (shot.at_ms, newest)
    assert shot.still.jpeg[:2] == b"\xff\xd8"
    assert from_recording(catalog, "other", 640) is None
    # the camera gone: the command falls back to the recording
    nvr_appliance.handle.patch_config({"cameras": [{**nvr_appliance.config.document[
        "cameras"][0], "main": "rtsp://127.0.0.1:9/gone"}]})
    answer = nvr_appliance.handle.run_command("camera_snapshot", {"camera": "cam1"})
    assert answer["source"] == "recording", answer
    picture(answer)
    # the catalog gone as well: a refusal that says so, not an internal error
    catalog.close()
    Path(nvr_appliance.config.catalog_url.removeprefix("sqlite:///")).unlink()
    Path(nvr_appliance.config.catalog_url.removeprefix("sqlite:///")).mkdir()
    with pytest.raises(ControlError, match="catalog cannot say what it recorded"):
        nvr_appliance.handle.run_command("camera_snapshot", {"camera": "cam1"})


def test_test_stream_reads_a_url_once_and_names_what_is_wrong(
        nvr_appliance: Any, nvr_camera: Any, nvr_clip: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handle = nvr_appliance.handle
    good = handle.run_command("test_stream", {"url": nvr_camera.url(1, "sub")})
    assert good["codec"] == "h264" and good["source"] == "stream", good
    assert (good["width"], good["height"]) == (nvr_clip.width, nvr_clip.height)
    assert good["fps"] and abs(good["fps"] - nvr_clip.fps) < 1, good
    picture(good)

    wrong = nvr_camera.url(1).replace(nvr_camera.password, "Wrong-Pass-77", 1)
    with pytest.raises(ControlError) as refused:
        handle.run_command("test_stream", {"url": wrong, "timeout_s": 5})
    assert "401" in str(refused.value) or "Unauthorized" in str(refused.value), refused.value
    assert "Wrong-Pass-77" not in str(refused.value)

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ControlError, match="refused"):
        handle.run_command("test_stream", {"url": f"rtsp://u:Secret-9@127.0.0.1:{closed}/x",
                                           "timeout_s": 3})
    assert time.monotonic() - started < 15
    with pytest.raises(CommandError, match="expected an rtsp:// or rtsps:// URL, got scheme"):
        handle.run_command("test_stream", {"url": "http://127.0.0.1/x"})
    with pytest.raises(CommandError, match="'timeout_s': 99 is not in"):
        handle.run_command("test_stream", {"url": nvr_camera.url(1), "timeout_s": 99})
    logged = caplog.text
    assert "Wrong-Pass-77" not in logged and "Secret-9" not in logged
    assert nvr_camera.password not in logged


@given(st.integers(1, 8192), st.integers(1, 8192), st.integers(16, 1920))
def test_scaled_sizes_are_even_bounded_and_keep_the_aspect(width: int, height: int,
                                                           max_width: int) -> None:
    w, h = scaled_size(width, height, max_width)
    assert w % 2 == 0 and h % 2 == 0 and 16 <= w <= max(16, min(width, max_width))
    assert h >= 16
    if width >= 64 and w >= 64 and height * w / width >= 64:
        assert abs(h - height * w / width) <= 2
