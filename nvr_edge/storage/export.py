"""One MP4 of a camera between two times: the recorded segments joined by stream copy (no
re-encoding), wherever each segment lives now (the cache, the archive, or only in object
storage, read back by range).

The clip starts at the last keyframe at or before `from` (a decoder needs one; it starts
earlier by at most one GOP) and ends before `to`. Timestamps come from the catalog's
segment starts, so a real gap in the recording stays a gap in the clip; within a segment
they are the recorded ones."""

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

log = logging.getLogger(__name__)

# Where a segment's bytes are read from: its path, or a seekable file for one off the box.
Opener = Callable[[SegmentRecord], "str | BinaryIO"]


class ExportError(RuntimeError):
    """Nothing to export, or a segment that cannot be read; the message says which."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    segments: int
    start_ms: int  # the first picture's time (the keyframe at or before `from`)
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
        self.last_end_ms = 0
        self.last_dts: dict[str, int] = {}
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
            if at_ms >= self.to_ms:
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
        if at_ms < self.clip_start_ms:
            return  # audio from before the first picture
        stream = self.video if kind == "video" else self.audio
        shift = packet.pts - packet.dts if packet.pts is not None else 0
        dts = round((at_ms - self.clip_start_ms) / 1000 / packet.time_base)
        dts = max(dts, self.last_dts.get(kind, -1) + 1)  # strictly increasing per stream
        self.last_dts[kind] = dts
        packet.dts, packet.pts = dts, dts + shift
        packet.stream = stream
        self.container.mux(packet)
        self.counts[kind] += 1
        end = at_ms + (packet.duration * packet.time_base * 1000 if packet.duration else 0)
        self.last_end_ms = max(self.last_end_ms, int(end))

    def close(self, segments: int) -> ExportResult:
        if self.clip_start_ms is None or self.container is None:
            self.abandon()
            raise ExportError(f"no picture of {self.camera} between {iso_utc(self.from_ms)} "
                              f"and {iso_utc(self.to_ms)}")
        start_ms = int(self.clip_start_ms)
        self.container.close()
        return ExportResult(self.out, segments, start_ms, self.last_end_ms,
                            self.counts["video"], self.counts["audio"])

    def abandon(self) -> None:
        if self.container is not None:
            with contextlib.suppress(av.FFmpegError, OSError, ValueError):
                self.container.close()
            self.container = None
        self.out.unlink(missing_ok=True)

