"""The recorder's policies for the compiled packet path (`recording.engine = "native"`).

`_remux.Session` (native/remux.c) reads, repairs, muxes and fsyncs every packet itself and
stops only when a decision is due; this module makes those decisions exactly as
`recorder.SessionRecorder` makes them per packet: the session's wall-clock anchor, a cut at
the first keyframe past the target length or at a change of picture size, a new segment
after a timestamp jump. It also opens and finishes the segment files (name, space
reservation, truncate + fsync + rename), so the file policies stay those of `storage`.

Everything here runs on the reader thread; closed segments are handed to `on_closed`,
which must be safe to call from it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nvr_edge.camera.cut_policy import should_cut
from nvr_edge.camera.picture_shape import PictureShape, ShapeWatch
from nvr_edge.camera.recorder import DEFAULT_BYTES_PER_S, Counters, closed_record
from nvr_edge.fsutil import finish_file, make_dirs_durable, preallocate
from nvr_edge.models import SegmentRecord, iso_utc
from nvr_edge.storage.layout import part_of, segment_path
from nvr_edge.storage.writer import ClosedFile, SegmentMeta

log = logging.getLogger(__name__)

# What storage/fmp4.py asks PyAV's muxer for, asked of the system's.
MOVFLAGS = "empty_moov+default_base_moof+frag_discont+use_metadata_tags"


@dataclass(frozen=True)
class NativeTrack:
    """The video a native segment copies: the engine's input, in the shape in effect."""

    engine: Any
    shape: PictureShape
    initial: PictureShape


class NativeSegment:
    """One segment file written by the engine: ours to name, reserve and finish."""

    def __init__(self, path: Path, meta: SegmentMeta, video: NativeTrack, audio: bool,
                 fragment_ms: int, expected_bytes: int) -> None:
        self.path, self.part, self.engine = path, part_of(path), video.engine
        make_dirs_durable(path.parent)
        self.fd = os.open(self.part, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            preallocate(self.fd, expected_bytes)
            metadata = {"nvr_camera": meta.camera, "nvr_device": meta.device,
                        "nvr_stream": meta.stream, "nvr_start": iso_utc(meta.start_ms),
                        "creation_time": iso_utc(meta.start_ms)}
            options = {"movflags": MOVFLAGS, "frag_duration": str(fragment_ms * 1000)}
            shape = video.shape
            resized = shape != video.initial
            self.engine.open_segment(self.fd, metadata, options, audio,
                                     shape.width if resized else 0,
                                     shape.height if resized else 0,
                                     shape.extradata if resized else None)
        except BaseException:
            os.close(self.fd)
            self.part.unlink(missing_ok=True)
            raise

    def close(self) -> ClosedFile:
        try:
            written = self.engine.close_segment()
            finish_file(self.fd, written, self.part, self.path)
        finally:
            os.close(self.fd)
        return ClosedFile(self.path, written)


class NativeFmp4Factory:
    """The default segment writer's files (storage/fmp4.py), written by the engine."""

    def __init__(self, root: Path, fragment_ms: int) -> None:
        self.root, self.fragment_ms = root, fragment_ms

    def open(self, meta: SegmentMeta, video: NativeTrack, audio: bool,
             expected_bytes: int) -> tuple[NativeSegment, dict[str, Any]]:
        path = segment_path(self.root, meta.camera, meta.stream, meta.start_ms)
        segment = NativeSegment(path, meta, video, audio, self.fragment_ms, expected_bytes)
        return segment, ({"video": True, "audio": True} if audio else {"video": True})


def shape_template(video: dict[str, Any]) -> Any:
    """What ShapeWatch reads from a PyAV stream, from the engine's stream description."""
    return SimpleNamespace(codec_context=SimpleNamespace(
        name=video["codec"], extradata=video["extradata"] or None, width=video["width"],
        height=video["height"]))


@dataclass
class _Open:
    segment: NativeSegment
    start_ms: int
    start_pts_s: float
    shape: PictureShape
    has_audio: bool


class NativeRecorder:
    """Decides at the engine's events; the engine does the per-packet work in between."""

    def __init__(self, camera: str, device: str, factory: Any, engine: Any,
                 video: dict[str, Any], audio_track: bool,
                 on_closed: Callable[[SegmentRecord], None], target_s: float,
                 first_target_s: float | None = None,
                 bytes_per_s: float = DEFAULT_BYTES_PER_S, not_before_ms: int = 0) -> None:
        self.camera, self.device, self.factory, self.engine = camera, device, factory, engine
        self.codec: str = video["codec"]
        self.audio_track = audio_track
        self.on_closed = on_closed
        self.target_s, self.first_target_s = target_s, first_target_s
        self.bytes_per_s, self.not_before_ms = bytes_per_s, not_before_ms
        self.shape = ShapeWatch(shape_template(video))
        self.parameter_sets: bytes | None = None  # the last keyframe's
        self.current: _Open | None = None
        self.anchor: tuple[int, float] | None = None  # (wall ms, pts seconds)
        self.segments = self.jumps = 0
        self.ticks = (engine.tick(True), engine.tick(False))

    def on_event(self, kind: int, is_video: bool, pts: int, wall_s: float,
                 keyframe: bytes | None, parameter_sets: bytes | None, first: int,
                 jump: int) -> None:
        pts_s = pts * self.ticks[0 if is_video else 1]
        resized = False
        if keyframe is not None and parameter_sets != self.parameter_sets:
            # the size can only change with the parameter sets: parse only then
            self.parameter_sets = parameter_sets
            resized = self.shape.observe(keyframe)
        if kind == first:
            self._open(pts_s, wall_s)
        elif kind == jump:
            self.jumps += 1
            log.warning("%s: timestamps jumped (%s stream); starting a new segment",
                        self.camera, "video" if is_video else "audio")
            self._close(self._end_of_last_frame_ms())
            self.anchor = None
            self._open(pts_s, wall_s)
        else:
            assert self.current is not None
            elapsed = pts_s - self.current.start_pts_s
            _, frame_s = self.engine.last_video()
            if resized:
                log.info("%s: picture size now %dx%d; starting a new segment", self.camera,
                         self.shape.current.width, self.shape.current.height)
            if resized or should_cut(True, elapsed, self.first_target_s or self.target_s,
                                     frame_s):
                cut_ms = self._utc_ms(pts_s)
                self._close(cut_ms)
                self.first_target_s = None
                self._open(pts_s, wall_s, start_ms=cut_ms)

    @property
    def counters(self) -> Counters:
        counts = self.engine.counters()
        counts.pop("syncs", None)
        return Counters(**counts, segments=self.segments, jumps=self.jumps)

    @property
    def open_ms(self) -> int:
        last_s, _ = self.engine.last_video()
        if self.current is None or last_s is None:
            return 0
        return max(0, round((last_s - self.current.start_pts_s) * 1000))

    # -- time ----------------------------------------------------------------------------

    def _utc_ms(self, pts_s: float) -> int:
        assert self.anchor is not None
        wall_ms, anchor_s = self.anchor
        return wall_ms + round((pts_s - anchor_s) * 1000)

    def _end_of_last_frame_ms(self) -> int:
        assert self.anchor is not None
        wall_ms, anchor_s = self.anchor
        last_s, frame_s = self.engine.last_video()
        last = last_s if last_s is not None else anchor_s
        return wall_ms + round((last + frame_s - anchor_s) * 1000)

    # -- segments ------------------------------------------------------------------------

    def _open(self, pts_s: float, wall_s: float, start_ms: int | None = None) -> None:
        if self.anchor is None:
            # never before the end of the last row (see recorder.SessionRecorder)
            self.anchor = (max(round(wall_s * 1000), self.not_before_ms), pts_s)
            self.engine.reset_timestamps()
        start = start_ms if start_ms is not None else self._utc_ms(pts_s)
        meta = SegmentMeta(self.camera, self.device, "main", start)
        expected = int(self.bytes_per_s * (self.first_target_s or self.target_s) * 1.1)
        track = NativeTrack(self.engine, self.shape.current, self.shape.initial)
        segment, streams = self.factory.open(meta, track, self.audio_track, expected)
        self.current = _Open(segment, start, pts_s, self.shape.current, "audio" in streams)

    def _close(self, end_ms: int) -> SegmentRecord | None:
        current, self.current = self.current, None
        if current is None:
            return None
        closed = current.segment.close()
        duration_s = max(0.001, (end_ms - current.start_ms) / 1000)
        if closed.bytes and duration_s > 1:
            self.bytes_per_s = closed.bytes / duration_s
        record = closed_record(self.camera, current.start_ms, end_ms, closed.bytes,
                               str(closed.path), self.codec, current.shape, current.has_audio)
        self.segments += 1
        self.not_before_ms = record.end_ms
        self.on_closed(record)
        return record

    def close(self) -> SegmentRecord | None:
        """End of session (stop, stall, camera gone): finish the open segment."""
        if self.current is None or self.anchor is None:
            return None
        return self._close(self._end_of_last_frame_ms())
