"""MJPEG (a USB camera's format) to H.264 through a session, for real: the source's
timestamps kept, the GOP the target's, and a fallback mid-stream keeps the times right."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import av
import pytest

from nvr_edge import EncoderOffer, EncodeTarget, Engine
from nvr_edge.encode.session import EncoderSession
from nvr_edge.encode.software import open_software
from nvr_edge.encode.transcode import TimedPacket, Transcoder
from tests.encode import fakes

SOFTWARE = EncoderOffer("libx264", Engine.SOFTWARE, open_software)
TARGET = EncodeTarget(640, 360, fps=25, bitrate_kbps=800)


@pytest.fixture(scope="module")
def mjpeg_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mjpeg") / "cam.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=25", "-t", "3", "-c:v", "mjpeg",
                    "-pix_fmt", "yuvj420p", "-q:v", "5", str(path)], check=True)
    return path


def transcode(clip: Path, offers: list[EncoderOffer]) -> tuple[list[int], list[TimedPacket]]:
    session = EncoderSession(offers, TARGET, alert=lambda a: None, stall_frames=3)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        transcoder = Transcoder(session, context.name, stream.time_base, context.extradata,
                                context.width, context.height, context.pix_fmt)
        source_pts, out = [], []
        for packet in container.demux(stream):
            if packet.size:
                source_pts.append(packet.pts)
                out += transcoder.transcode(packet)
        return source_pts, out + transcoder.close()


def test_mjpeg_to_h264_keeps_the_source_times(mjpeg_clip: Path, tmp_path: Path) -> None:
    source_pts, out = transcode(mjpeg_clip, [SOFTWARE])
    assert [p.pts for p in out] == source_pts  # one packet per frame, in order
    assert [i for i, p in enumerate(out) if p.keyframe] == [0, 50]  # the GOP, not all-intra
    clip = tmp_path / "out.h264"
    clip.write_bytes(b"".join(p.data for p in out))
    shown = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json",
         str(clip)], capture_output=True, text=True, check=True).stdout)["streams"][0]
    assert (shown["codec_name"], shown["width"], shown["height"]) == ("h264", 640, 360)
    assert int(shown["nb_read_frames"]) == len(source_pts)


def test_raw_yuyv_as_vivid_sends_it_is_encoded(tmp_path: Path) -> None:
    """rawvideo packets carry no header: the decoder opens only with the source's size and
    pixel format (the QEMU image's vivid camera, YUYV 320x180, failed without them)."""
    clip = tmp_path / "yuyv.nut"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=5",
                    "-t", "3", "-c:v", "rawvideo", "-pix_fmt", "yuyv422", str(clip)], check=True)
    source_pts, out = transcode(clip, [SOFTWARE])
    assert [p.pts for p in out] == source_pts and len(out) == 15
    assert out[0].keyframe


def test_a_fallback_mid_stream_keeps_times_increasing(mjpeg_clip: Path) -> None:
    stall = next(o for o in fakes.OFFERS if o.name == "fake_stall")
    source_pts, out = transcode(mjpeg_clip, [stall, SOFTWARE])
    stamped = [p.pts for p in out]
    # 5 frames from the stalling encoder, 2 lost in it, the rest from software
    assert stamped == source_pts[:5] + source_pts[7:]
    assert out[5].keyframe  # software's stream starts with a keyframe
