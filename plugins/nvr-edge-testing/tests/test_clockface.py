"""The clock face the latency benchmark reads: painted, read back, checked; and a real
x264-encoded clock camera decoded over RTSP."""

from __future__ import annotations

import time
from pathlib import Path

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nvr_edge_testing.simcam import SimCameraServer, ensure_clip
from nvr_edge_testing.simcam.clockface import (
    BITS,
    MODULUS,
    ClockPainter,
    cell_size,
    latency_ms,
    luma_of,
    read_luma,
)

SIZES = st.sampled_from([(1280, 720), (640, 360), (1920, 1080), (320, 180), (256, 200)])


def reader(frame: bytes, width: int):  # type: ignore[no-untyped-def]
    return lambda x, y: frame[y * width + x]


@given(size=SIZES, ms=st.integers(0, 2**48), n=st.integers(0, 10**6))
def test_what_is_painted_is_read_back(size: tuple[int, int], ms: int, n: int) -> None:
    width, height = size
    frame = ClockPainter(width, height).paint(ms, n)
    assert len(frame) == width * height * 3 // 2  # I420
    assert read_luma(reader(frame, width), width) == ms % MODULUS


@given(ms=st.integers(0, 2**40), cell_index=st.integers(0, BITS - 1))
def test_a_cell_equal_in_both_bands_is_rejected(ms: int, cell_index: int) -> None:
    width, height = 640, 360
    frame = bytearray(ClockPainter(width, height).paint(ms, 0))
    cell = cell_size(width)
    # band 1's cell made a copy of band 0's: what a smeared or torn frame looks like
    for y in range(cell):
        source = y * width + cell_index * cell
        target = source + cell * width
        frame[target:target + cell] = frame[source:source + cell]
    assert read_luma(reader(bytes(frame), width), width) is None


@given(whole=st.integers(0, 2**45), fraction=st.floats(0, 0.999),
       delta=st.integers(-(2**31) + 1, 2**31 - 1))
def test_latency_across_the_wrap(whole: int, fraction: float, delta: int) -> None:
    painted = (whole - delta) % MODULUS
    assert latency_ms(painted, whole + fraction) == pytest.approx(delta + fraction, abs=0.01)


@pytest.mark.parametrize("size", [(1280, 721), (63, 64), (640, 60)])
def test_sizes_it_cannot_paint_are_refused(size: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="cannot be painted"):
        ClockPainter(*size)


@pytest.mark.slow
def test_the_clock_camera_shows_the_time(nvr_clip_cache: Path) -> None:
    main = ensure_clip(nvr_clip_cache, width=640, height=360, bitrate_kbps=500, audio="none")
    latencies, unreadable = [], 0
    with SimCameraServer(nvr_clip_cache, main=main, sub_clock=(640, 360), audio="none") as cams, \
            av.open(cams.url(1, "sub"), options={"rtsp_transport": "tcp"}) as container:
        for frame in container.decode(container.streams.video[0]):
            now_ms = time.time() * 1000
            painted = read_luma(luma_of(frame), frame.width)
            if painted is None:
                unreadable += 1
            else:
                latencies.append(latency_ms(painted, now_ms))
            if len(latencies) + unreadable >= 60:
                break
    assert (frame.width, frame.height) == (640, 360)
    assert unreadable == 0
    # Painted before it was decoded (not after), and not seconds ago: a clock, not a clip.
    assert all(0 < value < 2000 for value in latencies), latencies[:10]
