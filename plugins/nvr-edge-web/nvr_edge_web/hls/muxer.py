"""One stream's packets into parts and segments: the cutting rules and the timestamps.

Timestamps are remuxed, never re-encoded: video to a 90 kHz track, audio to its sample
rate, both made to only go forward (a camera restarting its stream must not make a part
start before the one it follows). A part ends when ~PART_TARGET of video is in it, or at
a keyframe (so a keyframe always begins a part, marked INDEPENDENT); a segment ends at the
first keyframe past SEGMENT_MIN_S, so the camera's GOP decides its length."""

from __future__ import annotations

import time
from dataclasses import dataclass

from nvr_edge import LivePacket, StreamInfo

from ..webrtc.h264 import parse_extradata
from .boxes import Sample, Track, avc1_entry, fragment, init_segment, mp4a_entry
from .media import avcc, h264_nals, length_prefixed, raw_aac
from .timeline import Timeline
from .window import Window

VIDEO_CLOCK = 90_000
VIDEO_ID, AUDIO_ID = 1, 2
PART_TARGET_S = 0.1
SEGMENT_MIN_S = 1.0
MAX_STEP_S = 5.0             # a bigger jump is a new stream, not a gap to reproduce
DEFAULT_FRAME = VIDEO_CLOCK // 30
TOLERANCE = VIDEO_CLOCK // 1000   # timestamps rounded by the camera's clock
AAC_FRAME = 1024


class Clock:
    """Input timestamps (any time base) to a track's timescale, never going back; the first
    goes to `first` (where the camera's timeline puts it)."""

    def __init__(self, scale: int, default_step: int) -> None:
        self.scale, self.default_step = scale, default_step
        self.first = 0
        self.last_in: int | None = None
        self.last_out: int | None = None

    def convert(self, stamp: int, time_base: tuple[int, int]) -> int:
        return stamp * time_base[0] * self.scale // time_base[1]

    def next(self, stamp: int | None, time_base: tuple[int, int]) -> int:
        # RTSP's first packet often has no timestamp: it is still the first, at 0
        now_in = None if stamp is None else self.convert(stamp, time_base)
        if self.last_out is None:
            self.last_out = self.first
        elif now_in is not None and self.last_in is not None \
                and 0 < now_in - self.last_in <= MAX_STEP_S * self.scale:
            self.last_out += now_in - self.last_in
        else:
            self.last_out += self.default_step
        self.last_in = now_in
        return self.last_out


@dataclass
class _Frame:
    dts: int
    cts: int
    data: bytes
    keyframe: bool


def wall_clock(arrival: float) -> float:
    """A relay arrival time (monotonic) as wall-clock time."""
    return time.time() - (time.monotonic() - arrival)


class Muxer:
    """`timeline` (shared by a camera's packagers) places the first frame, `family` names
    the source timestamps it shares (timeline.py); `audio=False` leaves the audio out, and
    `video=False` the video (the multivariant playlist's audio rendition: its parts are cut
    where the video's are, so both playlists keep in step; each is independent)."""

    def __init__(self, info: StreamInfo, window: Window,
                 part_target_s: float = PART_TARGET_S, timeline: Timeline | None = None,
                 family: str = "live", audio: bool = True, video: bool = True) -> None:
        self.info, self.window = info, window
        self.timeline, self.family = timeline or Timeline(), family
        self.part_target = round(part_target_s * VIDEO_CLOCK)
        self.params = parse_extradata(info.video_extradata)
        self.audio = audio and info.audio_codec == "aac" and bool(info.audio_extradata) \
            and info.sample_rate > 0
        self.video_out = video
        self.video_clock = Clock(VIDEO_CLOCK, DEFAULT_FRAME)
        self.audio_clock = Clock(info.sample_rate or 1, AAC_FRAME)
        self.first_video_s: float | None = None  # the first keyframe's source time
        self.first_video_at = 0.0                 # and its place on the timeline (s)
        self.init: bytes | None = None
        self.pending: _Frame | None = None
        self.video: list[Sample] = []
        self.audio_samples: list[Sample] = []
        self.part_start = self.segment_start = 0
        self.audio_start: int | None = None
        self.sequence = 1

    def add(self, packet: LivePacket) -> bool:
        """True when a part (or the init segment) was made."""
        if packet.audio:
            if self.audio and self.pending is not None:
                self._add_audio(packet)
            return False
        stamp = packet.dts if packet.dts is not None else packet.pts
        if self.video_clock.last_out is None:
            source_s = None if stamp is None else \
                stamp * packet.time_base[0] / packet.time_base[1]
            self.video_clock.first = round(
                self.timeline.place(self.family, source_s, packet.arrival) * VIDEO_CLOCK)
        dts = self.video_clock.next(stamp, packet.time_base)
        cts = 0
        if packet.pts is not None and packet.dts is not None:
            cts = self.video_clock.convert(packet.pts - packet.dts, packet.time_base)
        nals = h264_nals(packet.data, self.params)
        frame = _Frame(dts, cts, length_prefixed(nals), packet.keyframe)
        if self.pending is None:
            return self._start(packet, frame, nals)
        previous, made = self.pending, False
        duration = frame.dts - previous.dts
        if not 0 < duration <= MAX_STEP_S * VIDEO_CLOCK:
            duration = DEFAULT_FRAME
        self.video.append(Sample(duration, previous.data, previous.keyframe, previous.cts))
        new_segment = frame.keyframe and \
            frame.dts - self.segment_start >= SEGMENT_MIN_S * VIDEO_CLOCK - duration // 2
        # cut when the next frame (expected one `duration` later) would end past the
        # target: a part outlasting PART-TARGET breaks the spec's rule for players
        if frame.keyframe or frame.dts + duration - self.part_start > self.part_target + TOLERANCE:
            self._close_part()
            self.part_start, made = frame.dts, True
        if new_segment:
            self.window.close_segment()
            self.window.open_segment(wall_clock(packet.arrival))
            self.segment_start = frame.dts
        self.pending = frame
        return made

    def _start(self, packet: LivePacket, frame: _Frame, nals: list[bytes]) -> bool:
        """The first keyframe: the init segment (SPS/PPS from the extradata or in-band)."""
        if not frame.keyframe:
            return False
        config = avcc([*self.params.nals, *nals])
        if config is None:
            return False  # no parameter sets yet: wait for a keyframe that carries them
        tracks = [Track(VIDEO_ID, b"vide", VIDEO_CLOCK,
                        avc1_entry(self.info.width, self.info.height, config),
                        self.info.width, self.info.height)] if self.video_out else []
        if self.audio:
            tracks.append(Track(AUDIO_ID, b"soun", self.info.sample_rate,
                                mp4a_entry(self.info.sample_rate, self.info.channels,
                                           self.info.audio_extradata)))
        self.init = init_segment(tracks)
        stamp = packet.dts if packet.dts is not None else packet.pts
        self.first_video_s = None if stamp is None else \
            stamp * packet.time_base[0] / packet.time_base[1]
        self.first_video_at = frame.dts / VIDEO_CLOCK
        self.window.open_segment(wall_clock(packet.arrival))
        self.part_start = self.segment_start = frame.dts
        self.pending = frame
        return True

    def _add_audio(self, packet: LivePacket) -> None:
        clock = self.audio_clock
        stamp = packet.dts if packet.dts is not None else packet.pts
        if clock.last_out is None and stamp is not None and self.first_video_s is not None:
            # the first audio frame: placed where it sits relative to the first video frame
            offset = stamp * packet.time_base[0] / packet.time_base[1] - self.first_video_s
            if not 0 <= offset < MAX_STEP_S:
                return  # before the first keyframe, or unrelated clocks: wait for the next
            clock.last_out = round((self.first_video_at + offset) * clock.scale)
            clock.last_in = clock.convert(stamp, packet.time_base)
            out = clock.last_out
        else:
            out = clock.next(stamp, packet.time_base)
        duration = clock.convert(packet.duration, packet.time_base) or AAC_FRAME
        if self.audio_start is None:
            self.audio_start = out
        self.audio_samples.append(Sample(duration, raw_aac(packet.data)))

    def _close_part(self) -> None:
        if not self.video:
            return
        runs = [(VIDEO_ID, self.part_start, self.video)] if self.video_out else []
        if self.audio_samples and self.audio_start is not None:
            runs.append((AUDIO_ID, self.audio_start, self.audio_samples))
        if not runs:
            self.video = []  # audio alone and none came yet: it goes into the next part
            return
        data = fragment(self.sequence, runs)
        self.sequence += 1
        if self.video_out:
            self.window.add_part(sum(s.duration for s in self.video) / VIDEO_CLOCK,
                                 self.video[0].keyframe, data)
        else:
            self.window.add_part(sum(s.duration for s in self.audio_samples)
                                 / self.audio_clock.scale, True, data)
        self.video, self.audio_samples, self.audio_start = [], [], None
