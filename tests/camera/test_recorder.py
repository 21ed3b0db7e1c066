"""SessionRecorder on real PyAV packets from a real file, with the camera traps injected."""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.camera.audio import AudioRoute
from nvr_edge.camera.cut_policy import should_cut, stagger_s
from nvr_edge.camera.recorder import SessionRecorder
from nvr_edge.models import SegmentRecord
from nvr_edge.storage.fmp4 import Fmp4WriterFactory

from ..media import audio_at, codecs, decode_errors, probe, video_packets, where_in


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("src") / "camera.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "9",
                    "-c:v", "libx264", "-g", "30", "-bf", "0", "-c:a", "aac", str(path)],
                   check=True)
    return path


def record(source: Path, out: Path, mangle, arrived=lambda packet: None
           ) -> tuple[SessionRecorder, list[SegmentRecord]]:
    """`arrived(packet)`: the wall-clock time the packet is said to have been read."""
    closed: list[SegmentRecord] = []
    with av.open(str(source)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        recorder = SessionRecorder(
            camera="cam", device="box", factory=Fmp4WriterFactory(out, 1000),
            on_closed=closed.append, video=video, audio=AudioRoute("cam", audio, "transcode"),
            target_s=3, fragment_s=1.0)
        for index, packet in enumerate(container.demux(video, audio)):
            if packet.size:
                extra = mangle(index, packet)
                recorder.handle(packet, arrived(packet))
                for injected in extra or ():
                    recorder.handle(injected)
        recorder.close()
    return recorder, closed


def test_untouched_stream_is_cut_every_three_seconds_without_loss(source: Path,
                                                                   tmp_path: Path) -> None:
    recorder, closed = record(source, tmp_path, lambda i, p: None)
    assert [round(s.duration_ms / 1000) for s in closed] == [3, 3, 3]
    c = recorder.counters
    # recording starts at the first video keyframe; only the audio packet before it is skipped
    assert c.before_first_keyframe == 1
    assert c.received == c.written + c.before_first_keyframe
    assert c.jumps == 0 and c.rejected == 0
    assert sum(video_packets(probe(s.path)) for s in closed) == 270


def test_first_packet_without_timestamps_is_backfilled_not_dropped(source: Path,
                                                                    tmp_path: Path) -> None:
    def unset_first(index: int, packet: av.Packet) -> None:
        if index == 0:
            packet.pts = packet.dts = None

    recorder, closed = record(source, tmp_path, unset_first)
    assert recorder.counters.before_first_keyframe == 0
    assert video_packets(probe(closed[0].path)) == 90  # the whole first GOPs are there
    assert decode_errors(closed[0].path) == ""


def test_backwards_jump_starts_a_new_segment_and_loses_nothing(source: Path,
                                                                tmp_path: Path) -> None:
    def jump_back(index: int, packet: av.Packet) -> None:
        if index >= 200:  # mid-stream, mid-GOP: every later timestamp 100 s earlier
            shift = round(100 / packet.time_base)
            packet.pts -= shift
            packet.dts -= shift

    recorder, closed = record(source, tmp_path, jump_back)
    c = recorder.counters
    assert c.jumps == 1 and c.rejected == 0
    assert c.written == c.received - c.before_first_keyframe  # nothing lost at the jump
    assert closed[0].duration_ms < 3000 - 100  # cut at the jump, before its 3 s were up
    assert len(closed) >= 3
    assert sum(video_packets(probe(s.path)) for s in closed) == 270
    for seg in closed:
        assert codecs(probe(seg.path))["video"] == "h264"


def test_access_unit_without_a_picture_is_dropped_not_written(source: Path,
                                                              tmp_path: Path) -> None:
    # What FFmpeg flushes when a camera hangs up between a delimiter and its slices.
    def delimiter_only(index: int, packet: av.Packet) -> list[av.Packet]:
        if index != 150 or packet.stream.type != "video":
            return []
        aud = av.Packet(b"\x00\x00\x00\x02\x09\xf0")  # MKV: length-prefixed NAL units
        aud.stream = packet.stream
        aud.pts = aud.dts = packet.dts + 1
        aud.time_base = packet.time_base
        return [aud]

    recorder, closed = record(source, tmp_path, delimiter_only)
    c = recorder.counters
    assert c.no_picture == 1 and c.rejected == 0
    assert c.written == c.received - c.before_first_keyframe - c.no_picture
    assert sum(video_packets(probe(s.path)) for s in closed) == 270
    for seg in closed:
        assert decode_errors(seg.path) == "", seg.path


@given(elapsed=st.floats(0, 400), target=st.integers(10, 600), fps=st.sampled_from([5, 25, 30]))
def test_cut_only_at_keyframes_with_half_a_frame_of_tolerance(elapsed: float, target: int,
                                                              fps: int) -> None:
    frame = 1 / fps
    assert not should_cut(False, elapsed, target, frame)
    assert should_cut(True, elapsed, target, frame) == (elapsed >= target - frame / 2)


@given(count=st.integers(1, 64), seconds=st.integers(10, 600))
def test_stagger_spreads_first_cuts_over_one_segment(count: int, seconds: int) -> None:
    offsets = [stagger_s(i, count, seconds) for i in range(count)]
    assert offsets[0] == 0 and all(0 <= o < seconds for o in offsets)
    assert len(set(offsets)) == count


def test_keyframes_with_the_dts_of_the_frame_before_are_not_cut_apart(source: Path,
                                                                       tmp_path: Path) -> None:
    """A camera that stamps each keyframe with the previous frame's dts: no jump, no cut at
    every keyframe, rows that meet exactly, and the MP4 muxer takes every packet."""
    last_dts: dict[int, int] = {}

    def equal_at_keyframes(index: int, packet: av.Packet) -> None:
        key = packet.stream.index
        if packet.stream.type == "video" and packet.is_keyframe and key in last_dts:
            packet.dts = last_dts[key]
        last_dts[key] = packet.dts

    recorder, closed = record(source, tmp_path, equal_at_keyframes)
    c = recorder.counters
    assert c.jumps == 0 and c.rejected == 0
    assert [round(s.duration_ms / 1000) for s in closed] == [3, 3, 3]
    for before, after in itertools.pairwise(closed):
        assert before.end_ms == after.start_ms
    assert sum(video_packets(probe(s.path)) for s in closed) == 270
    for seg in closed:
        assert decode_errors(seg.path) == "", seg.path


@pytest.fixture(scope="module")
def g711_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """H.264 with a keyframe a second and G.711 µ-law noise (noise: a window of it is found
    in one place only)."""
    path = tmp_path_factory.mktemp("g711") / "camera.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30",
                    "-f", "lavfi", "-i", "anoisesrc=sample_rate=8000:seed=7:amplitude=0.5",
                    "-t", "10", "-c:v", "libx264", "-g", "30", "-bf", "0",
                    "-c:a", "pcm_mulaw", str(path)], check=True)
    return path


def test_g711_segments_start_with_the_camera_s_sound_in_sync(g711_source: Path,
                                                             tmp_path: Path) -> None:
    """One AAC encoder for the session: after the first segment (whose first 128 ms are the
    encoder's priming, once), every segment's audio begins with the camera's sound, not
    128 ms of an encoder's priming silence, and stays where its video is."""
    rate = 8000
    _, closed = record(g711_source, tmp_path, lambda i, p: None)
    assert [round(s.duration_ms / 1000) for s in closed] == [3, 3, 3, 1]
    source_t0, source = audio_at(g711_source, rate)
    loud = (sum(x * x for x in source[:rate]) / rate) ** 0.5
    for index, segment in enumerate(closed[1:3], start=1):
        start_s = 3.0 * index  # the source time of the segment's first keyframe
        with av.open(segment.path) as container:
            shown = [float(f.pts * f.time_base) for f in container.decode(video=0)]
        video_zero = start_s + 1 / 30 - shown[1]  # source time at the file's time 0
        first_s, audio = audio_at(segment.path, rate)
        head = audio[256:1024]  # (the first 256: a lone AAC frame's fade-in)
        assert (sum(x * x for x in head) / len(head)) ** 0.5 > loud / 2, segment
        for at_s in (0.05, 0.5, 2.0):
            i = round((at_s - first_s) * rate)
            expected = round((video_zero + at_s - source_t0) * rate)
            found = where_in(source, audio[i:i + 256], expected, span=rate // 4)
            assert abs(found - expected) <= 16, (segment.path, at_s, found - expected)  # 2 ms


def test_rows_are_anchored_on_when_packets_arrived_not_when_handled(source: Path,
                                                                    tmp_path: Path) -> None:
    """A packet handled late (a transcoded camera's first keyframe waits for its encoder to
    open) must not shift the camera's rows: their times come from the read time."""
    arrived_at = time.time() - 100.0  # read 100 s ago, handled now
    first_frame_s: list[float] = []

    def arrived(packet: av.Packet) -> float:
        at_s = float(packet.pts * packet.time_base)
        if not first_frame_s and packet.stream.type == "video":
            first_frame_s.append(at_s)
        return arrived_at + at_s

    _, closed = record(source, tmp_path, lambda i, p: None, arrived)
    assert first_frame_s
    assert [round(s.duration_ms / 1000) for s in closed] == [3, 3, 3]
    starts = [round((arrived_at + first_frame_s[0] + 3 * i) * 1000) for i in range(3)]
    assert all(abs(s.start_ms - at) <= 2 for s, at in zip(closed, starts, strict=True)), \
        ([s.start_ms for s in closed], starts)
