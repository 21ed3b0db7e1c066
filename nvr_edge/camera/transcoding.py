"""A camera's video that is not H.264/H.265 (MJPEG, raw) turned into H.264 packets that the
recorder takes like a camera's own: an `EncoderSession` (best probed encoder, software
last, fallback at run time) behind a `Transcoder`, and an H.264 template stream the
segment writer copies its track from."""

from __future__ import annotations

import io
import logging
import time
from fractions import Fraction
from typing import Any

import av

from nvr_edge.encode.offer import EncodeTarget
from nvr_edge.encode.session import EncoderSession
from nvr_edge.encode.transcode import TimedPacket, Transcoder

log = logging.getLogger(__name__)

# Recorded as they come: re-encoding them would only lose quality and burn CPU.
RECORDED_AS_IS = frozenset({"h264", "hevc"})
DEFAULT_FPS = 25
ARRIVALS_KEPT = 256  # source packets an encoder may still hold (hardware: a few dozen)


def needs_transcode(codec: str) -> bool:
    return codec not in RECORDED_AS_IS


def source_fps(stream: Any) -> int:
    """The source's frame rate, for the encoder's rate control; RTP JPEG and V4L2 sometimes
    report none (or the 90 kHz clock), hence the sanity range. Keyframes follow source
    time (transcode.py), so a wrong guess does not stretch the GOP."""
    rate = stream.average_rate or stream.guessed_rate
    fps = round(float(rate)) if rate else 0
    return fps if 1 <= fps <= 120 else DEFAULT_FPS


def target_for(stream: Any, gop_s: float = 2.0) -> EncodeTarget:
    """The source's size and rate, ~2 Mbit/s at 720p30 (0.07 bit per pixel and frame), a
    keyframe every `gop_s` (where segments may cut)."""
    context = stream.codec_context
    width, height = context.width, context.height
    fps = source_fps(stream)
    kbps = max(300, round(width * height * fps * 0.07 / 1000))
    return EncodeTarget(width, height, fps=fps, bitrate_kbps=kbps, gop_s=gop_s)


class TranscodedVideo:
    """`packets(source packet)` -> H.264 `av.Packet`s of `template`, stamped with the source
    packet's times (Annex B, parameter sets before each keyframe). `template` exists from
    the first keyframe on: it is that keyframe demuxed, the one way to get a stream whose
    codec parameters (name "h264", size, avcC) are right without opening an encoder."""

    def __init__(self, source: Any, session: EncoderSession, camera: str = "") -> None:
        self.session, self.camera = session, camera
        context = source.codec_context
        self.time_base: Fraction = source.time_base
        self.transcoder = Transcoder(session, context.name, self.time_base, context.extradata,
                                     context.width, context.height, context.pix_fmt)
        self.template: Any = None
        self._box: Any = None  # the template's container: its streams live as long as it
        self.source_codec: str = context.name
        self._window: tuple[float, int] = (time.monotonic(), 0)
        self.fps = 0.0
        self._opened = session.opened
        self._refused_since: float | None = None  # monotonic: the decoder's run of refusals
        self._arrivals: dict[int, float] = {}  # source pts -> its packet's arrival

    def packets(self, packet: Any, arrival: float = 0.0) -> list[tuple[Any, float]]:
        """Encoded packets, each with the `arrival` of the source packet its frame came in
        (an encoder may hand a frame back a few packets later)."""
        if packet.pts is not None:
            self._arrivals[packet.pts] = arrival
            while len(self._arrivals) > ARRIVALS_KEPT:
                del self._arrivals[next(iter(self._arrivals))]
        out = [(p, self._arrivals.pop(p.pts, arrival))
               for p in self._packets(self.transcoder.transcode(packet))]
        if not self.transcoder.undecodable:
            self._refused_since = None
        elif self._refused_since is None:
            self._refused_since = time.monotonic()
            log.warning("%s: a %s packet would not decode, dropped: %s", self.camera,
                        self.source_codec, self.transcoder.decode_error)
        return out

    def refusal(self, longer_than_s: float) -> str | None:
        """Why the recording cannot go on, when the decoder has refused every packet for
        longer than `longer_than_s` (a camera that only sends what we cannot decode);
        None while pictures come, or the run is short (a torn frame now and then)."""
        since = self._refused_since
        if since is None or time.monotonic() - since <= longer_than_s:
            return None
        return (f"the camera's {self.source_codec} video does not decode: "
                f"{self.transcoder.decode_error} ({self.transcoder.undecodable} packets in a "
                f"row, {time.monotonic() - since:.0f} s)")

    def close(self) -> list[Any]:
        tail = self._packets(self.transcoder.close())
        if self._box is not None:
            self._box.close()
        return tail

    def take_switch(self) -> bool:
        """Whether another encoder (or the same one reopened) took over since last asked:
        its stream starts anew, with its own parameter sets."""
        before, self._opened = self._opened, self.session.opened
        return before > 0 and self._opened != before

    def _packets(self, timed: list[TimedPacket]) -> list[Any]:
        out = []
        for t in timed:
            if self.template is None:
                if not t.keyframe:
                    continue  # an encoder starts with a keyframe; nothing to cut before it
                self._box = av.open(io.BytesIO(t.data), format="h264")
                self.template = self._box.streams.video[0]
                self.template.time_base = self.time_base
            packet = av.Packet(t.data)
            packet.pts = packet.dts = t.pts
            packet.time_base = self.time_base
            packet.is_keyframe = t.keyframe
            packet.stream = self.template
            out.append(packet)
        return out

    def status(self) -> dict[str, Any]:
        """{encoder, fps}: fps is encoded frames per second since the last call."""
        start, frames = self._window
        now, done = time.monotonic(), self.transcoder.frames_out
        if now - start >= 1.0:
            self.fps = (done - frames) / (now - start)
            self._window = (now, done)
        return {"encoder": self.session.active, "fps": round(self.fps, 1),
                "source_codec": self.source_codec, "switches": self.session.switches}
