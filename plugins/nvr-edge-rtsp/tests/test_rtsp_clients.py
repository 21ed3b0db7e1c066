"""Real clients (ffprobe, ffmpeg, GStreamer) against the real appliance's restream."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import Restream

pytestmark = pytest.mark.slow


def ffprobe(url: str, *extra: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ffprobe", "-v", "error", "-rw_timeout", "15000000", *extra,
                           "-show_streams", "-of", "json", url],
                          capture_output=True, text=True, timeout=timeout)


def video_of(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    streams = json.loads(result.stdout)["streams"]
    return next(s for s in streams if s["codec_type"] == "video")


def test_ffprobe_reads_main_and_sub_over_tcp(restream: Restream) -> None:
    main = video_of(ffprobe(restream.url("cam1/main"), "-rtsp_transport", "tcp"))
    sub = video_of(ffprobe(restream.url("cam1/sub"), "-rtsp_transport", "tcp"))
    alone = video_of(ffprobe(restream.url("cam2/main"), "-rtsp_transport", "tcp"))
    assert (main["codec_name"], main["width"], main["height"]) == ("h264", 640, 360)
    assert (sub["codec_name"], sub["width"], sub["height"]) == ("h264", 320, 180)
    assert (alone["width"], alone["height"]) == (640, 360)


def test_a_client_trying_udp_first_falls_back_to_tcp(restream: Restream) -> None:
    """ffprobe's default transport order starts with UDP; SETUP answers 461."""
    video = video_of(ffprobe(restream.url("cam2/main")))
    assert video["codec_name"] == "h264"


def test_ffmpeg_copies_five_decodable_seconds(restream: Restream, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    run = subprocess.run(["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i",
                          restream.url("cam1/main"), "-c", "copy", "-t", "5", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    decode = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams",
                             "v:0", "-show_entries", "stream=nb_read_frames:format=duration",
                             "-of", "json", str(out)], capture_output=True, text=True)
    found = json.loads(decode.stdout)
    frames = int(found["streams"][0]["nb_read_frames"])
    assert 4.0 <= float(found["format"]["duration"]) <= 6.0
    assert frames >= 4 * 25  # 30 fps, decoded without error
    errors = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), "-f", "null", "-"],
                            capture_output=True, text=True)
    assert errors.stderr.strip() == ""
