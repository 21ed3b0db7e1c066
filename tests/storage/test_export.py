"""Export: segments joined by stream copy into one MP4 that shows exactly the range asked
(the pre-roll from the keyframe before `from` hidden by an edit list), has no gap where
the recording had none, and reads segments kept off the box through a seekable ranged
reader."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nvr_edge.cli.export import instant_ms
from nvr_edge.models import SegmentRecord
from nvr_edge.storage.export import ExportError, export_clip
from nvr_edge.storage.range_file import RangeFile
from tests.media import decode_errors, fragmented_mp4, probe, video_packets

T0 = 1_790_000_000_000
FPS = 30


class FileCopy:
    """A RemoteSegment over a local file: the protocol's plainest reader (the S3 one is
    tested against a real store in plugins/nvr-edge-s3)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.where, self.reads = data, "test://copy", 0

    def chunks(self, first: int, length: int) -> Iterator[bytes]:
        self.reads += 1
        yield self.data[first:first + length]


@pytest.fixture(scope="module")
def four_seconds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "four.mp4"
    fragmented_mp4(path, 4)
    return path


def segments(folder: Path, clip: Path, count: int) -> list[SegmentRecord]:
    rows = []
    for n in range(count):
        path = folder / f"{n}.mp4"
        shutil.copy(clip, path)
        start = T0 + n * 4000
        rows.append(SegmentRecord(camera="cam1", stream="main", start_ms=start,
                                  end_ms=start + 4000, bytes=path.stat().st_size,
                                  path=str(path), tier="cache", video_codec="h264",
                                  width=320, height=240, has_audio=False))
    return rows


def test_a_range_across_three_segments_is_one_gapless_clip(tmp_path: Path,
                                                           four_seconds: Path) -> None:
    rows = segments(tmp_path, four_seconds, 3)
    remote = FileCopy(Path(rows[1].path).read_bytes())  # the middle one left the box

    def opener(segment: SegmentRecord):
        return RangeFile(remote, segment.bytes, block=64 * 1024) if segment is rows[1] \
            else segment.path

    done: list[tuple[int, int]] = []
    out = tmp_path / "out" / "clip.mp4"
    result = export_clip(rows, T0 + 1500, T0 + 10_500, out, opener,
                         lambda d, t: done.append((d, t)))
    assert done == [(1, 3), (2, 3), (3, 3)] and remote.reads > 1
    assert result.start_ms == T0 + 1500  # `from`: the pre-roll from the keyframe is hidden
    info = probe(out)
    [video] = info["streams"]
    # 1.5 s to 10.5 s: the range asked, within a frame (the clip has B-frames: up to the
    # reorder depth may end it early)
    assert float(video["duration"]) == pytest.approx(9.0, abs=3 / FPS), video
    assert float(video["start_time"]) == 0  # the pre-roll is decoded, not shown
    assert video_packets(info) == pytest.approx(9.5 * FPS, abs=3)  # with the pre-roll
    assert decode_errors(out) == ""
    assert "cam1" in info["format"]["tags"]["title"]


def test_nothing_recorded_in_the_range_is_named(tmp_path: Path, four_seconds: Path) -> None:
    rows = segments(tmp_path, four_seconds, 1)
    with pytest.raises(ExportError, match="no recording between"):
        export_clip(rows, T0 + 60_000, T0 + 70_000, tmp_path / "x.mp4", lambda s: s.path)
    assert not (tmp_path / "x.mp4").exists()


def test_an_unreadable_segment_is_named_and_leaves_no_file(tmp_path: Path,
                                                           four_seconds: Path) -> None:
    rows = segments(tmp_path, four_seconds, 2)
    Path(rows[1].path).write_bytes(b"not an mp4")
    with pytest.raises(ExportError, match="cannot be read"):
        export_clip(rows, T0, T0 + 8000, tmp_path / "x.mp4", lambda s: s.path)
    assert not (tmp_path / "x.mp4").exists()


class BreaksOff(FileCopy):
    """A copy whose store goes away in the middle of the file (the demuxer may meet it on
    opening, while it indexes the fragments, or while reading packets)."""

    def chunks(self, first: int, length: int) -> Iterator[bytes]:
        if 64 * 1024 <= first < len(self.data) - 32 * 1024:
            raise ConnectionError("test://copy cannot be read: connection refused")
        yield from super().chunks(first, length)


def test_a_copy_that_breaks_off_is_named_and_leaves_no_file(tmp_path: Path,
                                                            four_seconds: Path) -> None:
    rows = segments(tmp_path, four_seconds, 2)
    remote = BreaksOff(Path(rows[1].path).read_bytes())

    def opener(segment: SegmentRecord):
        return RangeFile(remote, segment.bytes, block=16 * 1024) if segment is rows[1] \
            else segment.path

    named = r"(cannot be read|broke off while read): .*connection refused"
    with pytest.raises(ExportError, match=named):
        export_clip(rows, T0, T0 + 8000, tmp_path / "x.mp4", opener)
    assert not (tmp_path / "x.mp4").exists()


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=5000),
       st.lists(st.tuples(st.integers(0, 6000), st.integers(0, 3000)), max_size=20))
def test_the_ranged_reader_reads_what_the_file_holds(data: bytes,
                                                     steps: list[tuple[int, int]]) -> None:
    reader = io.BufferedReader(RangeFile(FileCopy(data), len(data), block=512))
    for position, size in steps:
        assert reader.seek(position) == position
        assert reader.read(size) == data[position:position + size]
    assert reader.seek(-7, io.SEEK_END) == max(0, len(data) - 7)
    assert reader.read() == data[max(0, len(data) - 7):]


def test_times_must_say_their_offset() -> None:
    assert instant_ms("2026-11-28T10:00:00+01:00", "from") == instant_ms(
        "2026-11-28T09:00:00Z", "from")
    with pytest.raises(ValueError, match="has no offset"):
        instant_ms("2026-11-28T10:00:00", "from")
    with pytest.raises(ValueError, match="not an ISO 8601"):
        instant_ms("yesterday", "to")
