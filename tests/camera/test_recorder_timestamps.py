"""SessionRecorder against hostile timestamp sequences (monotonic, equal, backwards, gaps):
rows never overlap, every packet is written exactly once, target cuts land on keyframes."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nvr_edge.camera.audio import AudioRoute
from nvr_edge.camera.recorder import SessionRecorder
from nvr_edge.models import SegmentRecord
from nvr_edge.storage.writer import ClosedFile, SegmentMeta

TB = Fraction(1, 90000)
STEP = 3000  # 30 fps
GOP = 30


class FakePacket(bytes):
    """Bytes (the recorder looks for a picture in them) with a packet's attributes."""

    stream: Any
    pts: int
    dts: int
    duration: int
    is_keyframe: bool
    time_base: Fraction
    serial: int

    @property
    def size(self) -> int:
        return len(self)


@dataclass
class FakeWriter:
    path: Path
    packets: list[FakePacket] = field(default_factory=list)

    def write(self, packet: FakePacket) -> None:
        self.packets.append(packet)

    def sync(self) -> None:
        pass

    def close(self) -> ClosedFile:
        return ClosedFile(self.path, 1000 * len(self.packets))


@dataclass
class FakeFactory:
    writers: list[FakeWriter] = field(default_factory=list)

    def open(self, meta: SegmentMeta, video: Any, audio: Any,
             expected_bytes: int) -> tuple[FakeWriter, dict[str, Any]]:
        writer = FakeWriter(Path(f"/fake/{len(self.writers)}.mp4"))
        self.writers.append(writer)
        return writer, {"video": SimpleNamespace(index=0)}


def video_stream() -> SimpleNamespace:
    context = SimpleNamespace(name="fake", extradata=None, width=320, height=240)
    return SimpleNamespace(index=0, average_rate=Fraction(30), guessed_rate=None,
                           time_base=TB, codec_context=context)


def packets(steps: list[int], stream: Any) -> list[FakePacket]:
    """One packet per step (the dts difference to the one before), pts = dts."""
    out, dts = [], 0
    for serial, step in enumerate(steps):
        dts += step
        packet = FakePacket(b"\x00\x00\x01\x65frame")
        packet.stream, packet.pts, packet.dts, packet.duration = stream, dts, dts, STEP
        packet.is_keyframe, packet.time_base, packet.serial = serial % GOP == 0, TB, serial
        out.append(packet)
    return out


def record(steps: list[int], not_before_ms: int = 0
           ) -> tuple[SessionRecorder, FakeFactory, list[SegmentRecord]]:
    stream, factory, closed = video_stream(), FakeFactory(), []
    recorder = SessionRecorder(
        camera="cam", device="box", factory=factory, on_closed=closed.append, video=stream,
        audio=AudioRoute("cam", None, "drop"), target_s=2, fragment_s=1.0,
        not_before_ms=not_before_ms)
    for packet in packets(steps, stream):
        recorder.handle(packet)
    recorder.close()
    return recorder, factory, closed


def assert_sound(recorder: SessionRecorder, factory: FakeFactory,
                 closed: list[SegmentRecord], count: int) -> None:
    written = [p.serial for w in factory.writers for p in w.packets]
    assert written == list(range(count))  # in order, none lost, none twice
    assert len(closed) == len(factory.writers)
    for before, after in pairwise(closed):
        assert before.start_ms <= before.end_ms <= after.start_ms, (before, after)
    for writer in factory.writers[1:]:
        # a segment starts at a keyframe unless a timestamp jump forced the cut
        assert writer.packets[0].is_keyframe or recorder.counters.jumps
    for writer in factory.writers:
        dts = [p.dts for p in writer.packets]
        assert dts == sorted(dts) and len(set(dts)) == len(dts)  # what the muxer needs


def test_equal_dts_at_keyframes_is_one_segment_per_target_not_per_keyframe() -> None:
    # every keyframe carries the dts of the frame before it
    steps = [0 if i % GOP == 0 and i else STEP for i in range(300)]
    recorder, factory, closed = record(steps)
    assert recorder.counters.jumps == 0
    assert len(closed) >= 3  # cut at the 2 s target, not at each 1 s keyframe
    assert all(row.duration_ms >= 2000 for row in closed[:-1])
    assert_sound(recorder, factory, closed, len(steps))


def test_a_new_session_never_starts_before_the_last_row_ended() -> None:
    far_ahead = 2**42  # the previous session's stream time ran far past the wall clock
    _, _, closed = record([STEP] * 90, not_before_ms=far_ahead)
    assert closed[0].start_ms >= far_ahead


step = st.one_of(
    st.just(STEP),  # monotonic
    st.just(0),  # equal
    st.integers(-3 * STEP, -1),  # a little backwards
    st.integers(-90000 * 100, -90000 * 2),  # a clock jump backwards
    st.integers(STEP + 1, 90000 * 10),  # a gap (past the jump tolerance too)
)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.one_of(st.just(STEP), step), min_size=1, max_size=200))
def test_any_timestamp_sequence_gives_sound_rows(steps: list[int]) -> None:
    recorder, factory, closed = record(steps)
    assert_sound(recorder, factory, closed, len(steps))
