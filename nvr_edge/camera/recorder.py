"""One RTSP session's packets into a run of contiguous segment files.

Segments are cut only at video keyframes; each keyframe that ends one segment starts the
next, so no packet is lost or written twice at a cut, and the catalog times meet exactly
(end of one == start of the next). Wall-clock times come from one anchor per session
(wall time at the first keyframe) plus the stream's own timestamps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from nvr_edge.camera.access_unit import WINDOW, has_picture, is_length_prefixed
from nvr_edge.camera.audio import AudioRoute
from nvr_edge.camera.cut_policy import should_cut
from nvr_edge.camera.picture_shape import PictureShape, ShapeWatch
from nvr_edge.camera.timestamps import Backfill, JumpDetector, stream_key
from nvr_edge.models import SegmentRecord, Tier
from nvr_edge.storage.writer import SegmentMeta, SegmentWriter, SegmentWriterFactory
from nvr_edge.throttle import Throttle

log = logging.getLogger(__name__)

DEFAULT_BYTES_PER_S = 500_000  # 4 Mbit/s until the camera's real rate is measured
# A cut segment waits at most this long for the audio its AAC encoder still holds (~2
# frames: 256 ms at 8 kHz); a camera whose audio stops is not kept open for it.
HANDOVER_S = 1.0


@dataclass
class Counters:
    received: int = 0
    written: int = 0
    before_first_keyframe: int = 0
    no_picture: int = 0  # video packets without a slice (see access_unit.py)
    audio_dropped: int = 0
    rejected: int = 0
    segments: int = 0
    jumps: int = 0
    video_frames: int = 0
    bytes: int = 0  # of packets written

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Open:
    writer: SegmentWriter
    streams: dict[str, Any]
    start_ms: int
    start_pts_s: float
    last_sync: float
    shape: PictureShape


@dataclass
class _Handover:
    """A segment cut while the session's AAC encoder still holds audio from before the cut
    (up to ~2 AAC frames): it stays open for that audio only, so each segment's audio ends
    where its video does and the next one's begins at its first keyframe."""

    segment: _Open
    end_ms: int
    cut_pts_s: float
    deadline: float  # monotonic: closed by then whatever comes


def closed_record(camera: str, start_ms: int, end_ms: int, size: int, path: str, codec: str,
                  shape: PictureShape, has_audio: bool) -> SegmentRecord:
    """The catalog row of a segment just closed in the cache (either engine's)."""
    return SegmentRecord(camera=camera, stream="main", start_ms=start_ms,
                         end_ms=max(end_ms, start_ms), bytes=size, path=path, tier=Tier.CACHE,
                         video_codec=codec, width=shape.width, height=shape.height,
                         has_audio=has_audio)


@dataclass
class SessionRecorder:
    camera: str
    device: str
    factory: SegmentWriterFactory
    on_closed: Callable[[SegmentRecord], None]
    video: Any
    audio: AudioRoute
    target_s: float
    fragment_s: float
    first_target_s: float | None = None
    bytes_per_s: float = DEFAULT_BYTES_PER_S
    not_before_ms: int = 0  # the end of the camera's last row: no segment starts earlier
    counters: Counters = field(default_factory=Counters)

    def __post_init__(self) -> None:
        self.backfill = Backfill()
        self.refusal_log = Throttle(60.0)
        self.jumps = JumpDetector()
        self.current: _Open | None = None
        self.handover: _Handover | None = None
        self._arrived_s: float | None = None
        self.anchor: tuple[int, float] | None = None  # (wall ms, pts seconds)
        self.frame_s = 1 / 30
        self.last_video_pts_s: float | None = None
        rate = self.video.average_rate or self.video.guessed_rate
        if rate:
            self.frame_s = float(1 / rate)
        self.video_tb: Fraction = self.video.time_base
        self.default_video_duration = max(1, round(self.frame_s / self.video_tb))
        context = self.video.codec_context
        self.codec: str = context.name
        self.length_prefixed = is_length_prefixed(context.extradata)
        self.shape = ShapeWatch(self.video)
        # Seconds per tick by input stream (timestamps.stream_key): PyAV builds a new Fraction
        # for every `packet.time_base`, and Fraction arithmetic was the largest per-packet cost.
        self._tick_s: dict[int, float] = {}

    # -- packets -------------------------------------------------------------------------

    def handle(self, packet: Any, arrived_s: float | None = None) -> None:
        """`arrived_s`: the wall-clock time the camera's packet (for an encoded one, its
        source's) was read; the catalog's times are anchored on it. Handling time instead
        put a transcoded camera's rows up to ~1 s in the future: its first keyframe is
        handled only after the encoder has opened (slow on a loaded box), its later frames
        at once."""
        self.counters.received += 1
        self._arrived_s = arrived_s
        is_video = packet.stream is self.video
        if is_video and packet.size <= WINDOW and not has_picture(
                memoryview(packet), self.codec, self.length_prefixed):
            self.counters.no_picture += 1
            return
        default = self.default_video_duration if is_video else 1024
        for ready in self.backfill.push(packet, default):
            self._handle_stamped(ready)

    def _handle_stamped(self, packet: Any) -> None:
        stream = packet.stream
        is_video = stream is self.video
        wall_s = self._arrived_s if self._arrived_s is not None else time.time()
        resized = is_video and packet.is_keyframe and self.shape.observe(packet)
        if self.current is None:
            if not (is_video and packet.is_keyframe):
                self.counters.before_first_keyframe += 1
                return
            self._open_segment(packet, wall_s)
        elif self.jumps.is_jump(packet, self._tick(packet), wall_s):
            self.counters.jumps += 1
            log.warning("%s: timestamps jumped (%s stream); starting a new segment",
                        self.camera, "video" if is_video else "audio")
            self._close_segment(self._end_of_last_frame_ms())
            self.anchor = None
            self._open_segment(packet, wall_s)
        elif is_video and packet.is_keyframe:
            elapsed = self._pts_s(packet) - self.current.start_pts_s
            target = self.first_target_s or self.target_s
            if resized:
                log.info("%s: picture size now %dx%d; starting a new segment", self.camera,
                         self.shape.current.width, self.shape.current.height)
            if resized or should_cut(True, elapsed, target, self.frame_s):
                cut_ms = self._utc_ms(packet)
                self._cut(cut_ms, self._pts_s(packet))
                self.first_target_s = None
                self._open_segment(packet, wall_s, start_ms=cut_ms)
        if is_video:
            self._track_frame(packet)
            self.counters.video_frames += 1
            self._write("video", packet)
        else:
            for out in self.audio.convert(packet):
                self._write_audio(out)
            self.counters.audio_dropped = self.audio.dropped  # the route keeps the count
        if self.handover is not None and time.monotonic() > self.handover.deadline:
            self._finish_handover()
        self._maybe_sync()

    def _write_audio(self, packet: Any) -> None:
        handover = self.handover
        if handover is not None:
            # by its end: a packet across the cut begins the next segment, whose audio then
            # starts up to one AAC frame before its first keyframe (MP4 has no gap to show
            # before a track's first sample; a late one would be pulled to the start)
            if packet.pts is not None and (packet.pts + packet.duration) * float(
                    packet.time_base) <= handover.cut_pts_s:
                self._mux(handover.segment, handover.segment.streams["audio"], packet)
                return
            self._finish_handover()  # the encoder is past the cut
        self._write("audio", packet)

    def _write(self, kind: str, packet: Any) -> None:
        current = self.current
        assert current is not None
        stream = current.streams.get(kind)
        if stream is None:  # a writer plugin that made no audio track
            self.audio.dropped += 1
            return
        self._mux(current, stream, packet)

    def _mux(self, current: _Open, stream: Any, packet: Any) -> None:
        packet.stream = stream
        try:
            current.writer.write(packet)
            self.counters.written += 1
            self.counters.bytes += packet.size
        except Exception as exc:  # a muxer refusal must never end the recording
            self.counters.rejected += 1
            # A full disk refuses every packet until the next cut: say it once a minute.
            skipped = self.refusal_log.allow(type(exc).__name__)
            if skipped is not None:
                log.warning("%s: muxer refused a packet (%s); packet skipped%s", self.camera,
                            exc, f" ({skipped} more refused, not logged)" if skipped else "")

    def _track_frame(self, packet: Any) -> None:
        pts_s = self._pts_s(packet)
        if self.last_video_pts_s is not None and 0 < pts_s - self.last_video_pts_s < 1:
            self.frame_s = pts_s - self.last_video_pts_s
        self.last_video_pts_s = pts_s

    @property
    def open_ms(self) -> int:
        """How much the open segment holds so far (0 when none is open)."""
        if self.current is None or self.last_video_pts_s is None:
            return 0
        return max(0, round((self.last_video_pts_s - self.current.start_pts_s) * 1000))

    def _maybe_sync(self) -> None:
        current = self.current
        now = time.monotonic()
        if current is not None and now - current.last_sync >= self.fragment_s:
            current.writer.sync()
            current.last_sync = now

    # -- time ----------------------------------------------------------------------------

    def _tick(self, packet: Any) -> float:
        """Seconds per timestamp tick of the packet's (input) stream."""
        key = stream_key(packet)
        tick = self._tick_s.get(key)
        if tick is None:
            tick = self._tick_s[key] = float(packet.time_base)
        return tick

    def _pts_s(self, packet: Any) -> float:
        return packet.pts * self._tick(packet)

    def _utc_ms(self, packet: Any) -> int:
        assert self.anchor is not None
        wall_ms, pts_s = self.anchor
        return wall_ms + round((self._pts_s(packet) - pts_s) * 1000)

    def _end_of_last_frame_ms(self) -> int:
        assert self.anchor is not None and self.current is not None
        wall_ms, pts_s = self.anchor
        last = self.last_video_pts_s if self.last_video_pts_s is not None else pts_s
        return wall_ms + round((last + self.frame_s - pts_s) * 1000)

    # -- segments ------------------------------------------------------------------------

    def _open_segment(self, packet: Any, wall_s: float, start_ms: int | None = None) -> None:
        if self.anchor is None:
            # Never before the end of the last row: stream time may have run ahead of the
            # wall clock, and rows of one camera must not overlap.
            wall_ms = max(round(wall_s * 1000), self.not_before_ms)
            self.anchor = (wall_ms, self._pts_s(packet))
            self.jumps.reset()
            self.jumps.is_jump(packet, self._tick(packet), wall_s)
            self.last_video_pts_s = None
        start = start_ms if start_ms is not None else self._utc_ms(packet)
        meta = SegmentMeta(self.camera, self.device, "main", start)
        expected = int(self.bytes_per_s * (self.first_target_s or self.target_s) * 1.1)
        writer, streams = self.factory.open(meta, self.video, self.audio.template(), expected)
        self.shape.apply(streams["video"])
        self.current = _Open(writer, streams, start, self._pts_s(packet), time.monotonic(),
                             self.shape.current)

    def _cut(self, end_ms: int, cut_pts_s: float) -> None:
        """End the open segment at a keyframe cut: at once, or after the audio the
        session's encoder still holds for it (transcoded audio)."""
        self._finish_handover()
        current = self.current
        if current is None or not self.audio.encodes or "audio" not in current.streams:
            self._close_segment(end_ms)
            return
        self.current = None
        self.handover = _Handover(current, end_ms, cut_pts_s, time.monotonic() + HANDOVER_S)

    def _finish_handover(self) -> None:
        handover, self.handover = self.handover, None
        if handover is not None:
            self._finish(handover.segment, handover.end_ms)

    def _close_segment(self, end_ms: int) -> SegmentRecord | None:
        self._finish_handover()
        current, self.current = self.current, None
        if current is None:
            return None
        return self._finish(current, end_ms)

    def _finish(self, current: _Open, end_ms: int) -> SegmentRecord:
        closed = current.writer.close()
        duration_s = max(0.001, (end_ms - current.start_ms) / 1000)
        if closed.bytes and duration_s > 1:
            self.bytes_per_s = closed.bytes / duration_s
        record = closed_record(self.camera, current.start_ms, end_ms, closed.bytes,
                               str(closed.path), self.video.codec_context.name,
                               current.shape, "audio" in current.streams)
        self.counters.segments += 1
        self.not_before_ms = record.end_ms
        self.on_closed(record)
        return record

    def close(self) -> SegmentRecord | None:
        """End of session (stop, stall, camera gone): finish the open segment."""
        if self.current is None or self.anchor is None:
            self._finish_handover()
            return None
        for packet in self.audio.flush():  # what the encoder holds ends these segments
            self._write_audio(packet)
        return self._close_segment(self._end_of_last_frame_ms())
