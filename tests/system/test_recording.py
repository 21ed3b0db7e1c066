"""The recording engine against real simulated RTSP cameras, run as the real appliance."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nvr_edge_testing.appliance import Appliance, plugins_env
from nvr_edge_testing.configs import write_config
from nvr_edge_testing.pytest_plugin import CAMERA_PASSWORD
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.waiting import wait_for

from nvr_edge.models import SegmentRecord

from ..helpers import files, rows, segment_files
from ..media import codecs, decode_errors, probe, video_packets

pytestmark = pytest.mark.slow
FPS = 30


def row_named(config: Path, name: Path) -> SegmentRecord | None:
    """The row of a segment by its <camera>/<date>/<file> name, whichever tier holds it."""
    tail = "/".join(name.parts[-3:])
    return next((r for r in rows(config) if r.path.endswith(tail)), None)


def assert_no_secret(tmp_path: Path, *texts: str) -> None:
    for text in texts:
        assert CAMERA_PASSWORD not in text
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".log", ".db", ".mp4", ".json"):
            assert CAMERA_PASSWORD.encode() not in path.read_bytes(), path


def check_contiguous(segments: list[SegmentRecord]) -> None:
    for before, after in itertools.pairwise(segments):
        assert before.end_ms == after.start_ms, (before.path, after.path)


def test_records_contiguous_decodable_indexed_segments(tmp_path: Path, cameras: SimCameraServer,
                                                       catalog_url: str) -> None:
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1),
                                                   "cam2": cameras.url(2)},
                          catalog_url=catalog_url)
    with Appliance(config, tmp_path / "appliance.log") as app:
        started = time.time()
        wait_for(lambda: len(rows(config, "cam1")) >= 3 and len(rows(config, "cam2")) >= 3,
                 90, "three closed segments per camera")
        assert app.stop() == 0
        stopped = time.time()
    assert files(tmp_path / "cache", "*.part") == [], "SIGTERM must close every segment"
    on_disk = segment_files(tmp_path)
    indexed = rows(config)
    assert sorted(r.path for r in indexed) == [str(p) for p in on_disk]

    for camera in ("cam1", "cam2"):
        segs = rows(config, camera)
        check_contiguous(segs)
        recorded = (segs[-1].end_ms - segs[0].start_ms) / 1000
        # everything from the first keyframe to the stop, allowing connection set-up time
        assert stopped - started - 6 < recorded <= stopped - started + 0.5
        assert sum(s.duration_ms for s in segs) == segs[-1].end_ms - segs[0].start_ms
        for seg in segs:
            info = probe(seg.path)
            assert codecs(info) == {"video": "h264", "audio": "aac"}
            assert (seg.video_codec, seg.width, seg.height, seg.has_audio) == \
                ("h264", 640, 360, True)
            tags = info["format"]["tags"]
            assert tags["nvr_camera"] == camera and tags["nvr_device"] == "test-box"
            assert tags["nvr_stream"] == "main" and tags["nvr_start"].endswith("Z")
            # every frame of the segment's time span is in the file: none lost, none doubled
            assert abs(video_packets(info) - seg.duration_ms / 1000 * FPS) <= 1, seg
            assert decode_errors(seg.path) == ""
            assert seg.bytes == Path(seg.path).stat().st_size
        full = [s for s in segs[1:-1]]
        assert all(abs(s.duration_ms - 10_000) <= 1000 / FPS for s in full), full

    listed = subprocess.run([sys.executable, "-m", "nvr_edge", "segments", "--config",
                             str(config), "--camera", "cam2", "--json"],
                            capture_output=True, text=True, check=True)
    assert [s["path"] for s in json.loads(listed.stdout)] == \
        [r.path for r in rows(config, "cam2")]
    since = rows(config, "cam1")[1].start
    later = json.loads(subprocess.run(
        [sys.executable, "-m", "nvr_edge", "segments", "--config", str(config), "--camera",
         "cam1", "--since", since, "--json"], capture_output=True, text=True, check=True).stdout)
    assert later[0]["start"] == since and all(s["camera"] == "cam1" for s in later)

    # rotations are staggered: the cameras do not cut in the same second
    cut1 = {r.start_ms // 1000 for r in rows(config, "cam1")[1:]}
    cut2 = {r.start_ms // 1000 for r in rows(config, "cam2")[1:]}
    assert not cut1 & cut2
    assert_no_secret(tmp_path, app.log)


def test_camera_outage_then_recording_resumes(tmp_path: Path, cameras: SimCameraServer) -> None:
    """Retries run out during the outage (alert), the wait is at the 20 s cap, yet the
    returning camera is recorded within seconds: the port probe cuts the wait short."""
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)}, recording={
        "retry": {"max_retries": 2, "initial_delay_ms": 500, "max_delay_ms": 20_000}})
    with Appliance(config, tmp_path / "appliance.log") as app:
        wait_for(lambda: "cam1: online" in app.log, 30, "the camera online")
        time.sleep(3)
        cameras.stop()
        wait_for(lambda: "cam1: offline" in app.log, 30, "the camera marked offline")
        assert "alert camera_offline" in app.log
        wait_for(lambda: "alert camera_connection_failed" in app.log, 30, "retries exhausted")
        time.sleep(2)
        cameras.start()
        back = time.time()
        resumed = wait_for(lambda: [r for r in rows(config, "cam1") if r.start_ms > back * 1000],
                           60, "a segment recorded after the camera came back")
        assert resumed[0].start_ms / 1000 - back < 5, "recording resumed too late"
        assert app.stop() == 0
    before = [r for r in rows(config) if r.start_ms < back * 1000]
    assert before, "the segment cut by the outage was closed and indexed"
    for seg in rows(config):
        assert decode_errors(seg.path) == ""
    assert_no_secret(tmp_path, app.log)


def test_killed_worker_is_restarted_and_its_part_repaired(tmp_path: Path,
                                                          cameras: SimCameraServer) -> None:
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1)})
    with Appliance(config, tmp_path / "appliance.log") as app:
        wait_for(lambda: rows(config, "cam1"), 40, "a first segment")
        time.sleep(4.5)  # well into the second segment: several fragments are on disk
        part = files(tmp_path / "cache", "*.part")
        assert len(part) == 1
        os.kill(app.worker_pids("cam1")[-1], signal.SIGKILL)
        wait_for(lambda: len(app.worker_pids("cam1")) == 2, 20, "the worker restarted")
        repaired = part[0].with_name(part[0].name.removesuffix(".part"))
        wait_for(lambda: row_named(config, repaired), 20,
                 "the killed worker's segment repaired and indexed")
        wait_for(lambda: len(rows(config, "cam1")) >= 3, 40, "recording after the restart")
        assert app.stop() == 0
    seg = row_named(config, repaired)
    assert seg is not None and 2_000 <= seg.duration_ms <= 6_000
    assert decode_errors(seg.path) == ""
    check = subprocess.run([sys.executable, "-m", "nvr_edge", "check", "--config", str(config)],
                           capture_output=True, text=True)
    assert check.returncode == 0 and "0 difference(s)" in check.stdout, check.stdout


@pytest.mark.parametrize("engine", ["pyav", "native"])
def test_power_cut_loses_at_most_the_last_fragment(tmp_path: Path, cameras: SimCameraServer,
                                                   engine: str) -> None:
    """Both packet paths (recording.engine): each fsyncs its own fragments."""
    config = write_config(tmp_path / "nvr.toml", {"cam1": cameras.url(1),
                                                   "cam2": cameras.url(2)},
                          recording={"engine": engine})
    app = Appliance(config, tmp_path / "appliance.log").start()
    try:
        wait_for(lambda: len(rows(config)) >= 2, 40, "first segments")
        time.sleep(4.5)
    finally:
        app.kill_all()
    cut_at = time.time()
    parts = files(tmp_path / "cache", "*.part")
    assert len(parts) == 2
    before = subprocess.run([sys.executable, "-m", "nvr_edge", "check", "--config", str(config),
                             "--json"], capture_output=True, text=True)
    assert before.returncode == 1 and before.stdout.count('"part-file"') == 2
    with Appliance(config, tmp_path / "appliance.log") as again:
        wait_for(lambda: "repaired" in again.log and "cam1: online" in again.log, 30,
                 "start-up recovery")
        assert again.stop() == 0
    assert files(tmp_path / "cache", "*.part") == []
    for part in parts:
        final = part.with_name(part.name.removesuffix(".part"))
        seg = row_named(config, final)
        if seg is None:
            # the kill came within the segment's first fragment (a cut just before it):
            # nothing of it was durable, recovery removed it; its predecessor is the last
            assert not final.exists()
            seg = rows(config, part.parts[-3])[-1]
        assert decode_errors(seg.path) == ""
        # at most the last ~1 s fragment (plus the kill's own latency) is lost
        assert cut_at * 1000 - seg.end_ms < 2_500, (seg, cut_at)
    check = subprocess.run([sys.executable, "-m", "nvr_edge", "check", "--config", str(config)],
                           capture_output=True, text=True)
    assert check.returncode == 0 and "0 difference(s)" in check.stdout, check.stdout
    assert_no_secret(tmp_path, app.log)


def test_g711_audio_is_transcoded_to_aac(tmp_path: Path, clip_cache: Path) -> None:
    from nvr_edge_testing.simcam import ensure_clip

    clip = ensure_clip(clip_cache, width=640, height=360, bitrate_kbps=600, seconds=4,
                       audio="pcmu")
    with SimCameraServer(clip_cache, cameras=1, main=clip, sub=clip, audio="pcmu") as cams:
        config = write_config(tmp_path / "nvr.toml", {"cam1": cams.url(1)})
        with Appliance(config, tmp_path / "appliance.log") as app:
            wait_for(lambda: rows(config), 40, "a segment")
            assert app.stop() == 0
    for seg in rows(config):
        info = probe(seg.path)
        assert codecs(info) == {"video": "h264", "audio": "aac"}
        audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
        assert float(audio["duration"]) > seg.duration_ms / 1000 - 1.5
        assert decode_errors(seg.path) == ""
    assert "transcoded to AAC" in app.log


def test_demo_records_closed_segments_within_a_minute(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "nvr_edge", "demo", "--dir", str(tmp_path),
                          "--cameras", "2", "--segment-seconds", "10", "--duration", "35"],
                         capture_output=True, text=True, timeout=240,
                         env=plugins_env())  # `demo` comes from the nvr-edge-testing plugin
    assert run.returncode == 0, run.stderr[-2000:]
    assert "recorded: cam1" in run.stdout
    closed = segment_files(tmp_path)
    assert len(closed) >= 4 and files(tmp_path / "cache", "*.part") == []
    assert all(decode_errors(p) == "" for p in closed[:2])
