"""MJPEG (a USB camera's format) to H.264 through a session, for real: the source's
timestamps kept, the GOP the target's, and a fallback mid-stream keeps the times right."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from nvr_edge import EncoderOffer, EncodeTarget, Engine
from nvr_edge.camera.transcoding import TranscodedVideo
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


def transcode(clip: Path, offers: list[EncoderOffer],
              tear: Callable[[int, bytes], bytes | None] = lambda i, data: None,
              ) -> tuple[list[int], list[TimedPacket]]:
    """`tear(index, data)`: bytes sent instead of that packet's (None: its own)."""
    session = EncoderSession(offers, TARGET, alert=lambda a: None, stall_frames=3)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        transcoder = Transcoder(session, context.name, stream.time_base, context.extradata,
                                context.width, context.height, context.pix_fmt)
        source_pts, out = [], []
        for index, packet in enumerate(p for p in container.demux(stream) if p.size):
            torn = tear(index, bytes(packet))
            if torn is not None:
                sent = av.Packet(torn)
                sent.pts, sent.dts, sent.time_base = packet.pts, packet.dts, packet.time_base
                out += transcoder.transcode(sent)
                assert transcoder.undecodable and transcoder.decode_error
                continue
            source_pts.append(packet.pts)
            out += transcoder.transcode(packet)
            assert transcoder.undecodable == 0  # a picture again ends the run
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


def test_torn_frames_are_dropped_and_the_rest_encoded(mjpeg_clip: Path) -> None:
    """What a USB camera short of bandwidth sends: zeroed frames, a frame of noise after the
    JPEG start marker. Each was fatal to the camera's worker (FFmpeg refuses the packet);
    now it is skipped and counted, and every good frame around it encoded in time."""
    torn = {10: bytes(4000), 11: b"\xff\xd8" + bytes(range(256)) * 4, 40: bytes(100)}
    source_pts, out = transcode(mjpeg_clip, [SOFTWARE], lambda i, data: torn.get(i))
    assert len(source_pts) == 75 - len(torn)
    assert [p.pts for p in out] == source_pts


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


def test_only_undecodable_video_for_too_long_is_a_reason_to_reconnect(mjpeg_clip: Path) -> None:
    """The worker ends the session (a reason in the camera's state, then the back-off)
    when nothing decodes for longer than the stall policy allows; a short run does not."""
    session = EncoderSession([SOFTWARE], TARGET, alert=lambda a: None)
    with av.open(str(mjpeg_clip)) as container:
        stream = container.streams.video[0]
        video = TranscodedVideo(stream, session, "usb1")
        good = [p for p in container.demux(stream) if p.size][:2]
        assert video.refusal(0.0) is None
        for _ in range(3):
            torn = av.Packet(bytes(500))
            torn.pts, torn.time_base = good[0].pts, good[0].time_base
            assert video.packets(torn) == []
        time.sleep(0.01)
        assert video.refusal(60.0) is None  # not for long yet
        reason = video.refusal(0.0)
        assert reason is not None and reason.startswith("the camera's mjpeg video does not decode")
        assert "3 packets in a row" in reason
        assert video.packets(good[0]) and video.refusal(0.0) is None
        video.close()
