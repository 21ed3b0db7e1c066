"""Backfill: packets without a dts at a stream's start get decode times that keep the
stream in decode order, and keep the presentation times they had."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from nvr_edge.camera.timestamps import MAX_HELD_WITHOUT_DTS, Backfill, JumpDetector

STEP = 3000  # 90 kHz at 30 fps
VIDEO = SimpleNamespace(index=0)  # one stream object, as PyAV gives for one stream


@dataclass
class FakePacket:
    pts: int | None
    dts: int | None
    duration: int = STEP
    stream: SimpleNamespace = field(default_factory=lambda: VIDEO)


def run(packets: list[FakePacket]) -> list[FakePacket]:
    backfill = Backfill()
    out: list[FakePacket] = []
    for packet in packets:
        out += backfill.push(packet, STEP)
    return out


def test_a_b_frame_stream_start_stays_in_decode_order() -> None:
    # What FFmpeg's RTSP demuxer gives for I P B B ...: the first two without a dts.
    packets = [FakePacket(3000, None), FakePacket(12000, None), FakePacket(6000, 3000),
               FakePacket(9000, 6000), FakePacket(21000, 9000)]
    out = run(packets)
    assert [p.dts for p in out] == [-3000, 0, 3000, 6000, 9000]
    assert [p.pts for p in out] == [3000, 12000, 6000, 9000, 21000]  # untouched


def test_no_timestamp_at_all_takes_the_backfilled_one_for_both() -> None:
    out = run([FakePacket(None, None), FakePacket(3000, 3000)])
    assert [(p.pts, p.dts) for p in out] == [(0, 0), (3000, 3000)]


def test_a_stream_that_never_gives_a_dts_is_not_held_forever() -> None:
    packets = [FakePacket(STEP * i, None) for i in range(MAX_HELD_WITHOUT_DTS + 5)]
    out = run(packets)
    assert len(out) == len(packets)  # all released, none lost
    dts = [p.dts for p in out]
    assert dts == sorted(dts) and len(set(dts)) == len(dts)


def test_after_the_first_dts_nothing_is_held() -> None:
    backfill = Backfill()
    assert backfill.push(FakePacket(0, 0), STEP)
    ready = backfill.push(FakePacket(9000, None), STEP)  # mid-stream: taken as it is
    assert [(p.pts, p.dts) for p in ready] == [(9000, 9000)]


@given(missing=st.integers(0, MAX_HELD_WITHOUT_DTS), reorder=st.integers(0, 3),
       count=st.integers(1, 40))
def test_decode_times_only_grow_and_never_pass_presentation(missing: int, reorder: int,
                                                            count: int) -> None:
    # decode order n has dts n*STEP and a pts up to `reorder` frames later
    packets = [FakePacket((n + (n * 7) % (reorder + 1)) * STEP, n * STEP)
               for n in range(missing + count)]
    for packet in packets[:missing]:
        packet.dts = None
    out = run(packets)
    assert len(out) == len(packets)
    dts = [p.dts for p in out]
    assert all(a < b for a, b in itertools.pairwise(dts))
    assert all(p.pts is not None and p.dts is not None and p.pts >= p.dts for p in out)


def test_two_streams_with_one_index_are_kept_apart() -> None:
    """A transcoded camera: its video is index 0 of the encoder's container, its audio may
    be index 0 of the camera's. Keyed by index, the audio's small decode times read as
    the video's going backwards: a jump, a new segment at every audio packet."""
    video, audio = SimpleNamespace(index=0), SimpleNamespace(index=0)
    jumps = JumpDetector()
    wall = 1000.0
    seen = []
    for n in range(1, 30):
        wall += 1 / 30
        seen.append(jumps.is_jump(FakePacket(900_000 + n * STEP, 900_000 + n * STEP,
                                             stream=video), Fraction(1, 90_000), wall))
        seen.append(jumps.is_jump(FakePacket(n * 266, n * 266, stream=audio),
                                  Fraction(1, 8000), wall))
    assert not any(seen)
    backfill = Backfill()
    assert backfill.push(FakePacket(None, None, stream=video), STEP) == []
    # the audio's dts is no reference for the held video packet
    assert [p.dts for p in backfill.push(FakePacket(100, 100, stream=audio), 1024)] == [100]
    assert [p.dts for p in backfill.push(FakePacket(9000, 9000, stream=video), STEP)] \
        == [6000, 9000]
