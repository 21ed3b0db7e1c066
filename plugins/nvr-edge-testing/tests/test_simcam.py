"""Simulated camera: real ffmpeg encodes, a real GStreamer RTSP server, real ffmpeg clients."""

from __future__ import annotations

import ast
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from nvr_edge_testing.simcam import SERVER_SCRIPT, SimCameraServer, ensure_clip
from nvr_edge_testing.simcam.clip import Clip

PASSWORD = "s3cret-Pa55"

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="needs the ffmpeg and ffprobe CLIs",
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simcam-cache")


@pytest.fixture(scope="module")
def hd_clip(cache_dir: Path) -> Clip:
    """Full-size main stream, short so it encodes fast."""
    return ensure_clip(cache_dir, seconds=2)


@pytest.fixture(scope="module")
def small_clip(cache_dir: Path) -> Clip:
    """A 4 s clip: a 12 s recording crosses the loop seam three times."""
    return ensure_clip(cache_dir, width=640, height=360, bitrate_kbps=500, seconds=4)


@pytest.fixture(scope="module")
def cams(cache_dir: Path, hd_clip: Clip, small_clip: Clip) -> Iterator[SimCameraServer]:
    with SimCameraServer(cache_dir, cameras=2, user="admin", password=PASSWORD,
                         main=hd_clip, sub=small_clip) as server:
        yield server


def ffprobe(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ffprobe", "-v", "error", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def probe_json(*args: str) -> dict:
    proc = ffprobe("-of", "json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def packets(path: Path, stream: str) -> list[dict]:
    return probe_json("-select_streams", stream, "-show_entries", "packet=pts,dts,flags,duration",
                      str(path))["packets"]


# ------------------------------------------------------------------------- clips


def test_clip_has_asked_parameters(cache_dir: Path) -> None:
    clip = ensure_clip(cache_dir, width=640, height=360, fps=25, bitrate_kbps=1000,
                       gop_frames=25, seconds=3, audio="aac")
    assert (clip.frames, clip.seconds) == (75, 3.0)
    info = probe_json("-show_streams", "-show_entries", "frame=pict_type,key_frame",
                      str(clip.video_path))
    stream = info["streams"][0]
    assert stream["codec_name"] == "h264"
    assert (stream["width"], stream["height"]) == (640, 360)
    assert stream["has_b_frames"] == 0
    frames = info["frames"]
    assert len(frames) == 75
    assert {f["pict_type"] for f in frames} <= {"I", "P"}
    assert [i for i, f in enumerate(frames) if f["key_frame"]] == [0, 25, 50]
    kbps = clip.video_path.stat().st_size * 8 / clip.seconds / 1000
    assert 750 <= kbps <= 1250, kbps

    audio = probe_json("-show_streams", str(clip.audio_path))["streams"][0]
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("aac", "48000", 1)

    index = json.loads(clip.index_path.read_text())
    assert [bool(k) for _o, _s, k in index["video"]["frames"]] == [i % 25 == 0 for i in range(75)]
    # Audio loop length is within one frame of the video loop length.
    audio_seconds = len(index["audio"]["frames"]) * 1024 / 48000
    assert abs(audio_seconds - clip.seconds) <= 1024 / 48000


def test_default_clip_bitrate_is_real(hd_clip: Clip) -> None:
    assert (hd_clip.width, hd_clip.height, hd_clip.fps, hd_clip.bitrate_kbps) == (
        1920, 1080, 30, 4000)
    kbps = hd_clip.video_path.stat().st_size * 8 / hd_clip.seconds / 1000
    assert 3000 <= kbps <= 5000, kbps


def test_clip_is_cached_and_safe_for_concurrent_callers(tmp_path: Path) -> None:
    kwargs = {"width": 160, "height": 96, "bitrate_kbps": 100, "seconds": 1, "audio": "pcmu"}
    with ThreadPoolExecutor(3) as pool:
        clips = list(pool.map(lambda _: ensure_clip(tmp_path, **kwargs), range(3)))
    assert len(set(clips)) == 1
    mtime = clips[0].index_path.stat().st_mtime_ns
    assert ensure_clip(tmp_path, **kwargs).index_path.stat().st_mtime_ns == mtime
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    assert clips[0].audio_path is not None
    assert clips[0].audio_path.stat().st_size == 8000  # 1 s of 8 kHz mu-law


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    return modules | {node.module.split(".")[0] for node in ast.walk(tree)
                      if isinstance(node, ast.ImportFrom) and node.module}


def test_server_script_imports_only_stdlib_and_gi() -> None:
    """The system interpreter runs it: gi, the stdlib, and its sibling modules (themselves
    stdlib only), nothing from the venv."""
    modules = imported_modules(SERVER_SCRIPT)
    siblings = {m for m in modules if SERVER_SCRIPT.with_name(f"{m}.py").exists()}
    assert siblings == {"clockface"}
    assert modules - siblings - {"gi", "__future__"} <= set(sys.stdlib_module_names)
    for sibling in siblings:
        sibling_imports = imported_modules(SERVER_SCRIPT.with_name(f"{sibling}.py"))
        assert sibling_imports - {"__future__"} <= set(sys.stdlib_module_names)


# ------------------------------------------------------------------------ server


def test_ffprobe_sees_h264_1080p_and_aac(cams: SimCameraServer) -> None:
    info = probe_json("-rtsp_transport", "tcp", "-show_streams", cams.url(1))
    streams = {s["codec_type"]: s for s in info["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert (streams["video"]["width"], streams["video"]["height"]) == (1920, 1080)
    assert streams["audio"]["codec_name"] == "aac"
    assert streams["audio"]["sample_rate"] == "48000"


@pytest.mark.parametrize("codec", ["hevc", "mjpeg"])
def test_the_clock_sub_stream_in_other_codecs(cache_dir: Path, small_clip: Clip,
                                              codec: str) -> None:
    with SimCameraServer(cache_dir, main=small_clip, sub_clock=(320, 240),
                         clock_codec=codec) as server:
        info = probe_json("-rtsp_transport", "tcp", "-show_streams", server.url(1, "sub"))
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["width"], video["height"]) == (codec, 320, 240)


def test_without_credentials_gets_401(cams: SimCameraServer) -> None:
    assert PASSWORD not in cams.url(2, with_credentials=False)
    proc = ffprobe("-rtsp_transport", "tcp", cams.url(2, with_credentials=False))
    assert proc.returncode != 0
    assert "401" in proc.stderr
    wrong = cams.url(2).replace(PASSWORD, "wrong")
    assert "401" in ffprobe("-rtsp_transport", "tcp", wrong).stderr


def test_recording_across_loop_seams_is_continuous(cams: SimCameraServer, small_clip: Clip,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp",
                    "-i", cams.url(1, "sub"), "-c", "copy", "-t", "12", str(out)],
                   check=True, timeout=40, capture_output=True)
    video = packets(out, "v")
    fps = small_clip.fps
    assert abs(len(video) - 12 * fps) <= 3, len(video)
    dts = [p["dts"] for p in video]
    steps = {b - a for a, b in itertools.pairwise(dts)}
    # mp4 time base 1/15360 at 30 fps: 512 ticks per frame; no jump, no repeat.
    stream = probe_json("-select_streams", "v", "-show_streams", str(out))["streams"][0]
    num, den = map(int, stream["time_base"].split("/"))
    frame_ticks = den / num / fps
    assert all(0.9 * frame_ticks <= s <= 1.1 * frame_ticks for s in steps), steps
    seconds = (dts[-1] - dts[0] + frame_ticks) * num / den
    assert abs(seconds - 12) < 0.2, seconds
    # GOPs continue unbroken across the seam: a keyframe every gop_frames.
    keys = [i for i, p in enumerate(video) if "K" in p["flags"]]
    assert {b - a for a, b in itertools.pairwise(keys)} == {small_clip.gop_frames}

    audio = packets(out, "a")
    adts = [p["dts"] for p in audio]
    assert all(b > a for a, b in itertools.pairwise(adts))
    assert abs(len(audio) - 12 * 48000 / 1024) <= 5, len(audio)


def test_password_never_in_server_log(cams: SimCameraServer) -> None:
    assert cams.log_path is not None
    log = cams.log_path.read_text()
    assert "listening on port" in log
    assert PASSWORD not in log


def test_stop_then_start_serves_same_url(cache_dir: Path, small_clip: Clip) -> None:
    with SimCameraServer(cache_dir, main=small_clip, sub=small_clip, audio="none") as cams:
        url = cams.url(1)
        client = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp",
                                   "-i", url, "-c", "copy", "-f", "null", "-"])
        try:
            time.sleep(1)
            started = time.monotonic()
            cams.stop()
            assert time.monotonic() - started < 3  # SIGTERM is prompt with a client attached
            assert not cams.running
            with socket.socket() as sock:  # the port is free again
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((cams.host, cams.port))
            cams.start()
            assert cams.url(1) == url
            assert probe_json("-rtsp_transport", "tcp", "-show_streams", url)["streams"]
            cams.kill()
            assert not cams.running
            cams.start()
            assert probe_json("-rtsp_transport", "tcp", "-show_streams", url)["streams"]
        finally:
            client.kill()
            client.wait()


def test_pcmu_audio(cache_dir: Path) -> None:
    clip = ensure_clip(cache_dir, width=320, height=180, bitrate_kbps=300, seconds=1,
                       audio="pcmu")
    with SimCameraServer(cache_dir, cameras=1, main=clip, sub=clip) as cams:
        for stream in ("main", "sub"):
            info = probe_json("-rtsp_transport", "tcp", "-show_streams", cams.url(1, stream))
            audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
            assert (audio["codec_name"], audio["sample_rate"]) == ("pcm_mulaw", "8000")


def test_start_failure_reports_server_stderr(cache_dir: Path, small_clip: Clip,
                                             tmp_path: Path) -> None:
    bogus = tmp_path / "python-without-gi"
    bogus.write_text("#!/bin/sh\necho 'no gi here' >&2\nexit 3\n")
    os.chmod(bogus, 0o755)
    cams = SimCameraServer(cache_dir, main=small_clip, sub=small_clip, python=str(bogus),
                           log_path=tmp_path / "server.log", ready_timeout=5)
    with pytest.raises(RuntimeError, match="no gi here"):
        cams.start()
    assert not cams.running
