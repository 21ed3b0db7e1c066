"""The software path for real: libx264 through PyAV, and libx264 through the FFmpeg child
process the hardware engines use, decoded back with PyAV and checked by ffprobe."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import av
import pytest
from av.video.frame import PictureType

from nvr_edge import EncodedPacket, EncoderError, EncodeTarget
from nvr_edge.encode.annexb import SPS, nal_types
from nvr_edge.encode.child import FfmpegProcessEncoder
from nvr_edge.encode.ffmpeg_cmd import EngineArgs, ffmpeg_command
from nvr_edge.encode.software import PyAvEncoder
from nvr_edge.encode.synthetic import frames

TARGET = EncodeTarget(640, 360, fps=25, bitrate_kbps=800, gop_s=2.0)


def decode(packets: list[EncodedPacket]) -> list[av.VideoFrame]:
    decoder = av.CodecContext.create("h264", "r")
    out = []
    for p in packets:
        out += decoder.decode(av.Packet(p.data))
    return out + decoder.decode(None)


def test_libx264_keyframes_every_gop_and_where_forced_no_b_frames(tmp_path: Path) -> None:
    encoder = PyAvEncoder(TARGET)
    packets: list[EncodedPacket] = []
    # 1280x720 source: the encoder scales to the target
    for i, frame in enumerate(frames(1280, 720, 125)):
        packets += encoder.encode(frame, force_keyframe=(i == 30))
    packets += encoder.flush()
    encoder.close()

    assert len(packets) == 125  # zero latency: one packet per frame, none held back
    keyframes = [i for i, p in enumerate(packets) if p.keyframe]
    assert keyframes[:2] == [0, 30]  # the source's keyframe is kept
    assert all(b - a <= TARGET.gop_frames for a, b in itertools.pairwise(keyframes))
    assert all(SPS in nal_types(packets[i].data) for i in keyframes)  # each starts a stream
    decoded = decode(packets)
    assert len(decoded) == 125
    assert {(f.width, f.height) for f in decoded} == {(640, 360)}
    assert PictureType.B not in {f.pict_type for f in decoded}

    if shutil.which("ffprobe"):
        clip = tmp_path / "clip.h264"
        clip.write_bytes(b"".join(p.data for p in packets))
        shown = json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(clip)],
            capture_output=True, text=True, check=True).stdout)["streams"][0]
        assert (shown["codec_name"], shown["width"], shown["height"]) == ("h264", 640, 360)
        assert shown["has_b_frames"] == 0 and shown["profile"] == "High"


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="no ffmpeg")
def test_the_child_process_encoder_with_libx264() -> None:
    """The hardware engines' path (raw frames on stdin, Annex B on stdout), run with an
    encoder this machine has."""
    argv = ffmpeg_command(EngineArgs("libx264", "yuv420p",
                                     codec_args=("-tune", "zerolatency", "-sc_threshold", "0")),
                           TARGET)
    encoder = FfmpegProcessEncoder(argv, TARGET, "yuv420p")
    packets: list[EncodedPacket] = []
    try:
        for frame in frames(TARGET.width, TARGET.height, 60):
            packets += encoder.encode(frame)
        packets += encoder.flush()
    finally:
        encoder.close()
    assert len(packets) == 60
    assert [i for i, p in enumerate(packets) if p.keyframe] == [0, 50]
    decoded = decode(packets)
    assert len(decoded) == 60 and (decoded[0].width, decoded[0].height) == (640, 360)


@pytest.mark.parametrize(("argv", "problem"), [
    (["sleep", "30"], "stalled: took no input"),  # never reads stdin: the pipe fills
    (["false"], "ended: exit code 1"),
], ids=["stops-reading", "dies"])
def test_a_broken_child_is_an_error_not_a_hang(argv: list[str], problem: str) -> None:
    encoder = FfmpegProcessEncoder(argv, TARGET, "yuv420p", write_timeout_s=0.3)
    try:
        with pytest.raises(EncoderError, match=problem):
            for frame in frames(TARGET.width, TARGET.height, 50):
                encoder.encode(frame)
    finally:
        encoder.close()
