"""Each live output says what it can serve: a codec it cannot carry is refused at once with
the reason (409), B-frames for WebRTC (422), no stream yet a 503 that says why."""

from __future__ import annotations

import pytest
from nvr_edge_web import live_outputs
from nvr_edge_web.errors import ApiError

H264 = {"has_stream": True, "video_codec": "h264", "b_frames": False}


@pytest.mark.parametrize("codec", ["hevc", "mjpeg"])
def test_a_codec_the_output_cannot_carry_is_refused_with_the_reason(codec: str) -> None:
    feed = {**H264, "video_codec": codec}
    whep = live_outputs.whep("cam1", feed)
    assert (whep.available, whep.status) == (False, 409)
    assert whep.reason == f"camera cam1 streams {codec}; WebRTC here carries h264 only"
    hls = live_outputs.hls("cam1", feed)
    assert (hls.available, hls.status) == (False, 409)
    assert hls.reason == f"camera cam1 streams {codec}; LL-HLS here carries h264 only"
    with pytest.raises(ApiError) as refused:
        hls.refuse()
    assert refused.value.status == 409 and "Retry-After" not in refused.value.headers


def test_b_frames_are_refused_for_webrtc_only() -> None:
    feed = {**H264, "b_frames": True}
    assert live_outputs.whep("cam1", feed).status == 422
    assert live_outputs.hls("cam1", feed).available is True


def test_no_stream_says_why_from_the_camera_state() -> None:
    state = {"state": "connecting", "reason": "RTSP: connection refused (3 times)"}
    output = live_outputs.hls("cam1", {"has_stream": False}, state)
    assert output.available is None and output.status == 503
    assert "connecting: RTSP: connection refused (3 times)" in output.reason
    with pytest.raises(ApiError) as refused:
        output.refuse()
    assert refused.value.headers == {"Retry-After": "2"}


def test_an_on_demand_camera_online_without_viewers_is_not_an_error() -> None:
    output = live_outputs.whep("cam1", {}, {"state": "online", "reason": ""}, "on_demand")
    assert output.available is None and "on_demand" in output.reason


def test_a_playable_stream_is_available() -> None:
    assert live_outputs.whep("cam1", H264).as_json() == {"available": True, "reason": ""}
    assert live_outputs.hls("cam1", H264).available is True
