"""A camera that changes its picture size mid-stream: the keyframe with the new SPS starts a
new segment whose init segment (track size, avcC/hvcC) and catalog row carry the new size,
for H.264 and H.265."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest

from nvr_edge.camera.access_unit import annex_b_units
from nvr_edge.camera.audio import AudioRoute
from nvr_edge.camera.picture_shape import nal_type
from nvr_edge.camera.recorder import SessionRecorder
from nvr_edge.models import SegmentRecord
from nvr_edge.storage.fmp4 import Fmp4WriterFactory

from ..media import decode_errors, probe, video_packets

ENCODERS = {"h264": ["libx264", "-bf", "0"],
            "hevc": ["libx265", "-x265-params", "bframes=0:log-level=error"]}
SPS_TYPE = {"h264": 7, "hevc": 33}


def encode(path: Path, codec: str, size: str, offset_s: int) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=s={size}:r=30",
                    "-t", "3", "-c:v", *ENCODERS[codec], "-g", "30",
                    "-output_ts_offset", str(offset_s), "-f", "mpegts", str(path)], check=True)
    return path


@pytest.fixture(scope="module", params=ENCODERS)
def resized(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """3 s at 320x240 then 3 s at 640x360 in one MPEG-TS (Annex B, in-band SPS), and the
    second half's SPS."""
    codec = request.param
    folder = tmp_path_factory.mktemp(f"resized-{codec}")
    small = encode(folder / "a.ts", codec, "320x240", 0)
    large = encode(folder / "b.ts", codec, "640x360", 3)
    joined = folder / "joined.ts"
    joined.write_bytes(small.read_bytes() + large.read_bytes())
    with av.open(str(large)) as container:
        units = annex_b_units(container.streams.video[0].codec_context.extradata)
        sps = next(u for u in units if nal_type(codec, u[0]) == SPS_TYPE[codec])
    return joined, sps


def track_size(path: str) -> tuple[int, int]:
    """Width and height from the video track's tkhd (16.16 fixed point, version 0 box)."""
    data = Path(path).read_bytes()
    at = data.index(b"tkhd") + 4 + 76  # past version, times, ids, layer, volume, matrix
    return (int.from_bytes(data[at:at + 4], "big") >> 16,
            int.from_bytes(data[at + 4:at + 8], "big") >> 16)


def test_new_size_starts_a_new_segment_with_its_own_init_and_row(
        resized: tuple[Path, bytes], tmp_path: Path) -> None:
    source, new_sps = resized
    closed: list[SegmentRecord] = []
    with av.open(str(source)) as container:
        video = container.streams.video[0]
        recorder = SessionRecorder(
            camera="cam", device="box", factory=Fmp4WriterFactory(tmp_path, 1000),
            on_closed=closed.append, video=video, audio=AudioRoute("cam", None, "drop"),
            target_s=10, fragment_s=1.0)
        for packet in container.demux(video):
            if packet.size:
                recorder.handle(packet)
        recorder.close()
    assert [(row.width, row.height) for row in closed] == [(320, 240), (640, 360)]
    assert round(closed[0].duration_ms / 1000) == 3  # cut at the change, not at 10 s
    assert closed[0].end_ms == closed[1].start_ms
    for row in closed:
        assert track_size(row.path) == (row.width, row.height)
        assert decode_errors(row.path) == "", row.path
    with av.open(closed[1].path) as second:
        assert new_sps in second.streams.video[0].codec_context.extradata  # avcC / hvcC
    assert sum(video_packets(probe(row.path)) for row in closed) == 180
