"""Real clients (ffprobe, ffmpeg, GStreamer) against the real appliance's restream."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from nvr_edge_testing.waiting import wait_for
from rtsp_box import Restream
from rtsp_raw import RawClient

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


def test_a_transcoded_rung_is_served_once_an_encoder_is_there(restream: Restream) -> None:
    """cam2 (640x360, no sub stream) has a 240p rung: refused by name while no encoder
    passed its probe (this box runs no probe), served once libx264 is handed over."""
    from nvr_edge.encode import handover
    from nvr_edge.encode.offer import EncoderOffer, Engine
    from nvr_edge.encode.software import open_software

    refused = ffprobe(restream.url("cam2/240p"), "-rtsp_transport", "tcp")
    assert refused.returncode != 0 and "503" in refused.stderr, refused.stderr
    state_dir = restream.supervisor.config.storage.state_dir
    handover.publish(state_dir, [EncoderOffer("libx264", Engine.SOFTWARE, open_software)])
    try:
        rung = video_of(ffprobe(restream.url("cam2/240p"), "-rtsp_transport", "tcp"))
        assert (rung["codec_name"], rung["width"], rung["height"]) == ("h264", 426, 240)
    finally:
        handover.clear(state_dir)


def test_ffprobe_over_udp_its_default(restream: Restream) -> None:
    """ffprobe's default transport order starts with UDP unicast: served as asked."""
    video = video_of(ffprobe(restream.url("cam2/main"), "-rtsp_transport", "udp"))
    assert (video["codec_name"], video["width"]) == ("h264", 640)
    assert video_of(ffprobe(restream.url("cam1/sub")))["width"] == 320


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


GST_CLIENT = Path(__file__).with_name("gst_client.py")


def gstreamer(url: str, seconds: float, protocols: str) -> dict:
    run = subprocess.run(["/usr/bin/python3", str(GST_CLIENT), url, str(seconds), protocols],
                         capture_output=True, text=True, timeout=seconds + 30)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("protocols", ["tcp", "udp"])
def test_gstreamer_rtspsrc_decodes_frames(restream: Restream, protocols: str) -> None:
    got = gstreamer(restream.url("cam1/sub"), 4, protocols)
    assert (got["width"], got["height"]) == (320, 180)
    assert got["frames"] >= 30  # decoded frames, after connect and the first keyframe


def frames_read(run: subprocess.Popen[str]) -> int:
    _, err = run.communicate(timeout=60)
    counts = re.findall(r"frame=\s*(\d+)", err)
    assert run.returncode == 0 and counts, err
    return int(counts[-1])


def ffmpeg_reader(url: str, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(["ffmpeg", "-v", "error", "-stats", "-rtsp_transport", "tcp",
                             "-i", url, "-map", "0:v", "-c", "copy", "-t", str(seconds),
                             "-f", "null", "-"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def test_eight_clients_at_once_all_get_the_frame_rate(restream: Restream) -> None:
    readers = [ffmpeg_reader(restream.url("cam2/main"), 4) for _ in range(8)]
    counts = [frames_read(r) for r in readers]
    assert all(count >= 100 for count in counts), counts  # 4 s of 30 fps each


def test_a_stalled_client_is_cut_off_without_slowing_the_others(restream: Restream) -> None:
    stalled = RawClient(restream.port, rcvbuf=4096)
    try:
        stalled.play("cam2/main", **restream.basic())  # ... and never reads again
        reader = ffmpeg_reader(restream.url("cam2/main"), 4)
        assert frames_read(reader) >= 100
        path = wait_for(lambda: (p := restream.status()["paths"]["cam2/main"])
                        ["disconnected"] >= 1 and p, 30, "the stalled client's cut-off")
        assert path["drops"] > 0
        with pytest.raises(OSError):  # the server reset it: reading ends in an error
            while stalled.sock.recv(65536):
                pass
    finally:
        stalled.close()
