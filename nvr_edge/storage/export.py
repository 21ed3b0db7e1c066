"""One MP4 of a camera between two times: the recorded segments joined by stream copy (no
re-encoding), wherever each segment lives now (the cache, the archive, or only in object
storage, read back by range).

The clip's pictures start at the last keyframe at or before `from` (a decoder needs one),
but that pre-roll gets negative timestamps, which the MP4 muxer hides behind an edit list:
a player shows, and ffprobe reports, the clip from `from` itself, still without
re-encoding. It ends before the first picture (in decode order) shown at `to` or later:
without B-frames exactly at `to` (within a frame); with them, the B-frames decoded after
that picture go too, up to the reorder depth (two or three frames) early. Timestamps come
from the catalog's segment starts, so a real gap in the recording stays a gap in the
clip; within a segment they are the recorded ones."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av

from nvr_edge.models import SegmentRecord, iso_utc
from nvr_edge.storage.segment_source import ExportError

log = logging.getLogger(__name__)

# Where a segment's bytes are read from: its path, or a seekable file for one off the box.
Opener = Callable[[SegmentRecord], "str | BinaryIO"]


@dataclass(frozen=True)
class ExportResult:
    path: Path
    segments: int
    start_ms: int  # when the clip starts showing: `from`, or the first keyframe after it
    end_ms: int  # the end of the last picture
    video_packets: int
    audio_packets: int


def export_clip(segments: Iterable[SegmentRecord], from_ms: int, to_ms: int, out: Path,
                open_segment: Opener, progress: Callable[[int, int], None] | None = None
                ) -> ExportResult:
    """Write the clip to `out`; `progress(done, total)` after each segment."""
    chosen = sorted((s for s in segments if s.end_ms > from_ms and s.start_ms < to_ms),
                    key=lambda s: s.start_ms)
    if not chosen:
        raise ExportError(f"no recording between {iso_utc(from_ms)} and {iso_utc(to_ms)}")
    joiner = _Joiner(out, chosen[0], from_ms, to_ms)
    inputs: list[Any] = []  # kept open until the output closes: its streams copy theirs
    try:
        for done, segment in enumerate(chosen, start=1):
            try:
                source = av.open(open_segment(segment))
            except (av.FFmpegError, OSError) as exc:
                raise ExportError(f"segment {segment.start} of {segment.camera} cannot be "
                                  f"read: {exc}") from None
            inputs.append(source)
            try:
                joiner.add(source, segment)
            except (av.FFmpegError, OSError) as exc:  # damaged, or its store went away
                raise ExportError(f"segment {segment.start} of {segment.camera} broke off "
                                  f"while read: {exc}") from None
            if progress is not None:
                progress(done, len(chosen))
        return joiner.close(len(chosen))
    except BaseException:
        joiner.abandon()
        raise
    finally:
        for source in inputs:
            source.close()


class _Joiner:
    def __init__(self, out: Path, first: SegmentRecord, from_ms: int, to_ms: int) -> None:
        self.out, self.from_ms, self.to_ms = out, from_ms, to_ms
        self.container: Any = None
        self.video: Any = None
        self.audio: Any = None
        self.camera = first.camera
        self.clip_start_ms: Fraction | None = None  # the first keyframe's time, exact
        self.origin_ms: Fraction | None = None  # the clip's time 0: `from`, or that keyframe
        self.last_end_ms = 0
        self.last_dts: dict[str, int] = {}  # per stream; may start below 0 (the pre-roll)
        self.counts = {"video": 0, "audio": 0}
        self.gop: list[tuple[Any, str, Fraction]] = []  # from the last keyframe before `from`

    def _open(self, source: Any) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(self.out), "w", format="mp4",
                                 options={"movflags": "+faststart+use_metadata_tags"})
        # read when the header is written, i.e. now: the first picture's time is not known
        # yet, the range asked for is
        self.container.metadata.update({
            "title": f"{self.camera} {iso_utc(self.from_ms)} to {iso_utc(self.to_ms)}",
            "comment": "nvr-edge export (stream copy)", "nvr_camera": self.camera,
            "creation_time": iso_utc(self.from_ms)})
        self.video = self.container.add_stream_from_template(source.streams.video[0])
        if source.streams.audio:
            self.audio = self.container.add_stream_from_template(source.streams.audio[0])

    def add(self, source: Any, segment: SegmentRecord) -> None:
        if not source.streams.video:
            raise ExportError(f"segment {segment.start} of {segment.camera} has no video")
        if self.container is None:
            self._open(source)
        streams = [source.streams.video[0]] + (
            [source.streams.audio[0]] if self.audio is not None and source.streams.audio
            else [])
        origin: dict[int, int] = {}  # stream index -> its first dts in this segment
        for packet in source.demux(streams):
            if packet.dts is None or packet.size == 0:
                continue
            kind = "video" if packet.stream.type == "video" else "audio"
            base = origin.setdefault(packet.stream.index, packet.dts)
            # exact (a Fraction): rounding here would jitter every timestamp of the clip
            at_ms = segment.start_ms + (packet.dts - base) * packet.time_base * 1000
            shown_ms = at_ms + ((packet.pts or packet.dts) - packet.dts) * packet.time_base * 1000
            if shown_ms >= self.to_ms:  # the first picture shown at `to` or later ends it
                break
            if self.clip_start_ms is None and not self._starts(packet, kind, at_ms):
                continue
            self._write(packet, kind, at_ms)

    def _starts(self, packet: Any, kind: str, at_ms: Fraction) -> bool:
        """Before the clip has begun: keep the GOP that holds `from` (it begins the clip
        once `from` is reached), or begin at the first keyframe after `from`."""
        keyframe = kind == "video" and packet.is_keyframe
        if at_ms < self.from_ms:
            if keyframe:
                self.gop = [(packet, kind, at_ms)]  # a later keyframe: the earlier GOP goes
            elif self.gop:
                self.gop.append((packet, kind, at_ms))
            return False
        if self.gop:
            self.clip_start_ms = self.gop[0][2]
            for held in self.gop:
                self._write(*held)
            self.gop = []
            return True
        if keyframe:
            self.clip_start_ms = at_ms
            return True
        return False

    def _write(self, packet: Any, kind: str, at_ms: Fraction) -> None:
        assert self.clip_start_ms is not None
        if self.origin_ms is None:
            self.origin_ms = max(self.clip_start_ms, Fraction(self.from_ms))
        if kind == "audio" and at_ms < self.origin_ms:
            return  # audio of the pre-roll: nothing would play it
        stream = self.video if kind == "video" else self.audio
        shift = packet.pts - packet.dts if packet.pts is not None else 0
        # pre-roll pictures get negative times: decoded, never shown (the edit list)
        dts = round((at_ms - self.origin_ms) / 1000 / packet.time_base)
        if kind in self.last_dts:  # strictly increasing per stream
            dts = max(dts, self.last_dts[kind] + 1)
        self.last_dts[kind] = dts
        packet.dts, packet.pts = dts, dts + shift
        packet.stream = stream
        self.container.mux(packet)
        self.counts[kind] += 1
        end = at_ms + (packet.duration * packet.time_base * 1000 if packet.duration else 0)
        self.last_end_ms = max(self.last_end_ms, int(end))

    def close(self, segments: int) -> ExportResult:
        if self.origin_ms is None or self.container is None:
            self.abandon()
            raise ExportError(f"no picture of {self.camera} between {iso_utc(self.from_ms)} "
                              f"and {iso_utc(self.to_ms)}")
        start_ms = int(self.origin_ms)
        self.container.close()
        return ExportResult(self.out, segments, start_ms, self.last_end_ms,
                            self.counts["video"], self.counts["audio"])

    def abandon(self) -> None:
        if self.container is not None:
            with contextlib.suppress(av.FFmpegError, OSError, ValueError):
                self.container.close()
            self.container = None
        self.out.unlink(missing_ok=True)

